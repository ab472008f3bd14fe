"""`seedscope inpaint-audit` and `seedscope world pairs`: which seeds paint text into masks."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from seedscope.cli._app import app
from seedscope.cli.world import world_app

err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)  # log lines whole


@app.command("inpaint-audit")
def inpaint_audit_cmd(
    pairs: Annotated[
        Path, typer.Option("--pairs", help="pairs.csv, a CSV, or a folder of images and masks.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Audit directory (resumable).")],
    model: Annotated[
        str, typer.Option("--model", help="Diffusers pipeline folder, cached hub id, or 'world'.")
    ] = "world",
    seeds: Annotated[
        str, typer.Option("--seeds", help="Seed spec: 0-63, 0,5,7-9 or @file.")
    ] = "0-15",
    tasks: Annotated[str, typer.Option("--tasks", help="removal,completion or one of them.")] = (
        "removal,completion"
    ),
    removal_prompt: Annotated[
        str, typer.Option("--removal-prompt", help="Prompt of the removal task.")
    ] = "clear background",
    steps: Annotated[int | None, typer.Option("--steps", help="Denoising steps.")] = None,
    guidance: Annotated[float | None, typer.Option("--guidance", help="Guidance scale.")] = None,
    strength: Annotated[float, typer.Option("--strength", help="Inpainting strength.")] = 1.0,
    ocr: Annotated[
        str,
        typer.Option("--ocr", help="OCR on all images, on those the detector calls text, or none."),
    ] = "all",
    detector: Annotated[
        bool | None,
        typer.Option(
            "--detector/--no-detector", help="World detector p_text (default: world model)."
        ),
    ] = None,
    select_fraction: Annotated[
        float, typer.Option("--select-fraction", help="Share of pairs that choose the flags.")
    ] = 0.5,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per pipeline call.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Inpaint pairs x seeds (removal and completion) and flag the seeds that paint text into masks."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from seedscope.inpaint.audit import AuditSettings, run_audit
    from seedscope.sweep.progress import ImagesProgress

    if not quiet:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = AuditSettings(
        seeds=seeds,
        tasks=tuple(t.strip() for t in tasks.split(",") if t.strip()),
        removal_prompt=removal_prompt,
        steps=steps,
        guidance=guidance,
        strength=strength,
        ocr=ocr,
        detector=detector,
        select_fraction=select_fraction,
        batch_size=batch_size,
    )
    bar: ImagesProgress | None = None
    state = {"last": 0}

    def step(done: int, total: int) -> None:
        nonlocal bar
        if quiet or as_json:
            return
        if bar is None:
            bar = ImagesProgress(total, enabled=True).__enter__()
        bar.advance(done - state["last"])
        state["last"] = done

    try:
        result = run_audit(pairs, out, settings, model=model, progress=step)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(
        f"{result['images']} inpainted images of {result['pairs']} pairs "
        f"({', '.join(result['tasks'])}) in {out}"
    )
    for name, sig in result["signals"].items():
        check = sig["heldout_check"]
        held = (
            f"held-out: flagged {check['pool']:.3f} vs others {check['random']:.3f}, "
            f"diff {check['diff']:.3f} [{check['diff_lo']:.3f}, {check['diff_hi']:.3f}], "
            f"p {check['wilcoxon_p']:.3g}"
            if check
            else sig["heldout_note"]
        )
        typer.echo(
            f"  {name}: text rate {sig['rate']:.3f}; flagged on {sig['selection_pairs']} pairs: "
            f"{sig['flagged_seeds']}; {held}"
        )


@world_app.command("pairs")
def pairs_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder for images/, masks/ and pairs.csv.")],
    n: Annotated[int, typer.Option("--n", help="Number of image/mask pairs.")] = 64,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the scene sampler.")] = 0,
    dilate: Annotated[
        int, typer.Option("--dilate", help="Grow each mask by this many pixels.")
    ] = 3,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was written as JSON.")
    ] = False,
) -> None:
    """Write world scenes with the mask of their main object: inputs for `seedscope inpaint-audit`."""
    from seedscope.world.pairs import write_world_pairs

    folder = write_world_pairs(n, out, seed, dilate)
    if as_json:
        result = {
            "out": str(folder),
            "pairs": n,
            "pairs_csv": str(folder / "pairs.csv"),
            "seed": seed,
            "dilate": dilate,
        }
        typer.echo(json.dumps(result))
        return
    err.print(f"wrote {n} image/mask pairs to {out}")
