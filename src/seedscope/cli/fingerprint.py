"""`seedscope identify` (which seed made this image?) and `seedscope swap` (the seed swap)."""

from __future__ import annotations

import json
import logging
import os
from typing import Annotated, Any

import typer

from seedscope.cli._app import app

_IDENTIFY_HELP = """Name the seed that made each image, with no training (DDIM inversion).

Each image is inverted to its initial latent with MODEL (with its prompt where known, else the
empty prompt) and compared with the noise of every candidate seed. An answer is given only
where the best candidate stands out from all the others (p < --alpha, corrected for the number
of candidates); otherwise "no match". With --sweep DIR the true seeds are known: the accuracy
is reported and the answers are written to DIR/analysis/identify-*.parquet.
"""


def _quiet_logs(quiet: bool) -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.basicConfig(
        level=logging.ERROR if quiet else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@app.command(help=_IDENTIFY_HELP)
def identify(
    images: Annotated[
        list[str] | None, typer.Argument(help="Image files or folders of images.")
    ] = None,
    sweep: Annotated[
        str | None,
        typer.Option(help="Identify a sweep's images instead (true seeds known: accuracy)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Pipeline folder, cached Hugging Face id or 'world' (default: the sweep's, "
            "else world)."
        ),
    ] = None,
    seeds: Annotated[str, typer.Option(help="Candidate seeds: 0-999999, 0,5,7-9 or @file.")] = (
        "0-999999"
    ),
    prompt: Annotated[
        str | None, typer.Option(help="Prompt of the image files (default: the empty prompt).")
    ] = None,
    empty_prompt: Annotated[
        bool,
        typer.Option("--empty-prompt", help="Invert with the empty prompt even where known."),
    ] = False,
    steps: Annotated[
        int | None,
        typer.Option(help="Sampler steps (default: the sweep's, else the model's)."),
    ] = None,
    guidance: Annotated[
        float, typer.Option(help="Guidance scale during inversion (1: prompt alone).")
    ] = 1.0,
    negative_prompt: Annotated[
        str | None, typer.Option(help="Negative prompt (default: the sweep's).")
    ] = None,
    height: Annotated[int | None, typer.Option(help="Image height the model made.")] = None,
    width: Annotated[int | None, typer.Option(help="Image width the model made.")] = None,
    resize: Annotated[
        bool,
        typer.Option("--resize", help="Rescale images of another size instead of refusing."),
    ] = False,
    alpha: Annotated[
        float,
        typer.Option(help="False-match rate allowed for an image whose seed is no candidate."),
    ] = 1e-3,
    generator_device: Annotated[
        str, typer.Option(help="Device of the generators that drew the noise.")
    ] = "cpu",
    workers: Annotated[
        int | None,
        typer.Option(help="Processes scanning candidates (default: the CPU cores)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="At most this many images (a sweep's: evenly spread).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Images inverted per batch.")] = 16,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the answers as JSON on stdout.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Name the seed of each image among the candidate seeds (training-free)."""
    _quiet_logs(quiet)
    from seedscope.analysis.identify import IdentifySettings, default_workers, run_identify
    from seedscope.errors import SeedscopeError

    if steps is not None and steps < 1:
        raise SeedscopeError(f"--steps must be at least 1, not {steps}.")
    if workers is not None and workers < 1:
        raise SeedscopeError(f"--workers must be at least 1, not {workers}.")

    settings = IdentifySettings(
        seeds=seeds,
        steps=steps or 0,
        guidance=guidance,
        empty_prompt=empty_prompt,
        negative_prompt=negative_prompt,
        height=height or 0,
        width=width or 0,
        resize=resize,
        alpha=alpha,
        generator_device=generator_device,
        workers=workers or default_workers(),
        batch_size=batch_size,
    )
    from seedscope.sweep.progress import StageProgress

    labels = {"invert": "inverting images", "scan": "scanning seeds"}
    with StageProgress(not quiet and not json_output, labels) as bars:
        result = run_identify(
            images or [],
            sweep=sweep,
            model=model,
            prompt=prompt,
            settings=settings,
            limit=limit,
            progress=bars.advance,
        )
    if json_output:
        typer.echo(json.dumps(result.to_dict()))
        return
    for row in result.rows:
        answer = f"seed {row['seed']}" if row["match"] else "no match"
        extra = f" (truth {row['truth']})" if row["truth"] is not None else ""
        typer.echo(
            f"{row['source']}: {answer}{extra}  best {row['best_seed']} "
            f"cos {row['cosine']:.3f} z {row['z']:.1f} p {row['p_value']:.2g}"
        )
    s = result.summary()
    line = (
        f"{s['images']} images, {s['matched']} matched among {s['n_candidates']:,} seeds; "
        f"inversion {s['seconds_invert']:.1f} s, scan {s['seconds_scan']:.1f} s "
        f"({s['seconds_per_million_candidates']:.1f} s per 10^6 seeds)"
    )
    if "top1_accuracy" in s:
        line += f"; top-1 accuracy {s['top1_accuracy']:.1%}"
    if "false_match_rate" in s:
        line += f"; false matches {s['false_match_rate']:.1%} of {s['outside_candidates']}"
    typer.echo(line, err=True)
    if result.path:
        typer.echo(f"wrote {result.path}", err=True)


_SWAP_HELP = """The seed swap: start with seed i, switch the generator to seed j at step k, finish.

The initial latent always comes from seed i; after k denoising steps each generator is set to
the state seed j's own run has at that step, so the remaining step noise is seed j's. k = steps
is no swap (seed i's image of a plain sweep). For each sampler and k: distances of the result
to the pure-i and pure-j images in pixels and in a feature space, and an image grid (rows:
samplers, columns: k). With --sweep DIR the model and settings are the sweep's and the results
go to DIR/analysis; otherwise give --model, --prompt and --out.
"""


def _fixed(x: float) -> str:
    """x to two decimals, never "-0.00" (a rounding of a tiny negative is 0)."""
    return f"{round(x, 2) + 0.0:.2f}"


def _ci(row: dict[str, Any], name: str) -> str:
    lo, hi = row[f"{name}_lo"], row[f"{name}_hi"]
    interval = f"[{_fixed(lo)}, {_fixed(hi)}]" if lo == lo else "[-]"  # NaN: one prompt
    return f"{_fixed(row[name])} {interval:<12}"


@app.command(help=_SWAP_HELP)
def swap(
    sweep: Annotated[
        str | None, typer.Option(help="Sweep whose model, settings and prompts to use.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Pipeline folder, cached Hugging Face id or 'world'.")
    ] = None,
    prompt: Annotated[
        list[str] | None, typer.Option(help="A prompt (repeat the option for several).")
    ] = None,
    n_prompts: Annotated[int, typer.Option(help="With --sweep: its first N prompts.")] = 4,
    pairs: Annotated[
        str | None,
        typer.Option(help="Seed pairs i:j, e.g. 0:1,2:3 (default: the sweep's first seeds)."),
    ] = None,
    samplers: Annotated[
        str, typer.Option(help="Samplers: ddim, ddim-eta1 (ddim-etaX), euler-ancestral, ...")
    ] = "ddim,ddim-eta1,euler-ancestral",
    ks: Annotated[
        str | None,
        typer.Option(help="Switch steps k, e.g. 0,5,10,15,20 (default: 0, 1/4, 1/2, 3/4, all)."),
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="Denoising steps (default: the model's).")
    ] = None,
    guidance: Annotated[
        float | None, typer.Option(help="Guidance scale (default: the model's).")
    ] = None,
    features: Annotated[
        str, typer.Option(help="Feature extractor for the feature distance ('none': skip).")
    ] = "world",
    batch_size: Annotated[int, typer.Option(help="Images per pipeline call.")] = 16,
    out: Annotated[str | None, typer.Option(help="Output folder (without --sweep).")] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Switch the generator from seed i to seed j at step k; measure what changes."""
    _quiet_logs(quiet)
    from seedscope.analysis.swap import SwapSettings, run_swap
    from seedscope.errors import SeedscopeError
    from seedscope.models.loading import world_defaults

    if steps is not None and steps < 1:
        raise SeedscopeError(f"--steps must be at least 1, not {steps}.")
    names = tuple(s.strip() for s in samplers.split(",") if s.strip())
    try:
        switch = tuple(int(k) for k in ks.split(",") if k.strip()) if ks else ()
    except ValueError as err:
        raise SeedscopeError(f"--ks must be whole numbers such as 0,5,10, not {ks!r}.") from err
    defaults = (world_defaults() if (model or "world") == "world" else None) or (50, 7.5)
    settings = SwapSettings(
        samplers=names,
        ks=switch,
        steps=steps or defaults[0],
        guidance=defaults[1] if guidance is None else guidance,
        batch_size=batch_size,
        features=None if features == "none" else features,
    )
    from seedscope.sweep.progress import StageProgress

    with StageProgress(not quiet and not json_output) as bars:
        result = run_swap(
            model=model,
            sweep=sweep,
            prompts=prompt or [],
            n_prompts=n_prompts,
            pairs=pairs,
            settings=settings,
            out=out,
            progress=lambda n: bars.advance("swap", n),
        )
    if json_output:
        typer.echo(json.dumps(result.to_dict()))
        return
    feature = "feature_to_i" in result.summary.column_names
    header = "sampler           k   pixel->i  pixel->j  share_j (95% CI, prompts)"
    typer.echo(header + ("   feat->i   feat->j  share_j (95% CI)" if feature else ""))
    for row in result.summary.to_pylist():
        line = (
            f"{row['sampler']:<16} {row['k']:>2}   {row['pixel_to_i']:.4f}    "
            f"{row['pixel_to_j']:.4f}    {_ci(row, 'share_j_pixel')}"
        )
        if feature:
            line += (
                f"   {row['feature_to_i']:.4f}    {row['feature_to_j']:.4f}    "
                f"{_ci(row, 'share_j_feature')}"
            )
        typer.echo(line)
    if result.sweep_check.get("images"):
        check = result.sweep_check
        typer.echo(
            f"no swap vs the sweep's own images ({check['sampler']}, {check['images']} images): "
            f"max difference {check['max_abs_diff']}/255",
            err=True,
        )
    for path in result.paths.values():
        typer.echo(f"wrote {path}", err=True)
