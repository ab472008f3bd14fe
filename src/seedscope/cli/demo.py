"""`seedscope demo`: the whole study on the bundled model, ending with the HTML atlas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from seedscope.cli._app import app


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder of the demo (sweep, cards, report).")] = Path(
        "demo"
    ),
    prompts: Annotated[
        int, typer.Option(help="Prompts, even and at least 6 (half in set a, half in set b).")
    ] = 16,
    seeds: Annotated[int, typer.Option(help="Seeds 0..N-1 (at least 4).")] = 16,
    model: Annotated[str, typer.Option(help="Model (the bundled world model by default).")] = (
        "world"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary at the end.")] = (
        False
    ),
) -> None:
    """Sweep, score, rank, map, classify, identify, pick and report on the bundled model."""
    from seedscope.demo import DemoSettings, DemoStepError, run_demo

    try:
        result = run_demo(
            DemoSettings(out=out, prompts=prompts, seeds=seeds, model=model),
            echo=lambda line: typer.echo(line, err=as_json),
        )
    except DemoStepError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(err.exit_code) from None
    if as_json:
        typer.echo(json.dumps(result))
