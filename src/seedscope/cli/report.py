"""`seedscope report DIR`: the static HTML atlas of a sweep's analyses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from seedscope.cli._app import app


@app.command()
def report(
    sweep: Annotated[Path, typer.Argument(help="Sweep directory (with analysis/ results).")],
    out: Annotated[
        Path | None, typer.Option(help="Folder of the atlas (default: DIR/report).")
    ] = None,
    thumb: Annotated[int, typer.Option(help="Thumbnail size in pixels.")] = 64,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Write a static HTML atlas of the sweep (opens from disk; no server, no network)."""
    from seedscope.report import ReportSettings, write_report

    result = write_report(sweep, ReportSettings(out=out, thumb=thumb))
    if as_json:
        typer.echo(json.dumps(result))
    else:
        present = [s for s, ok in result["sections"].items() if ok]
        typer.echo(
            f"{len(present)} of {len(result['sections'])} sections, {result['pages']} seed pages, "
            f"{result['bytes'] / 1e6:.2f} MB -> {result['index']}"
        )
