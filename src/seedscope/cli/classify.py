"""`seedscope classify`: the seed classifier, tested on prompts it never saw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from seedscope.cli._app import app
from seedscope.errors import SeedscopeError


def _curve(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(n) for n in text.split(",") if n.strip())
    except ValueError as err:
        raise SeedscopeError(
            f"bad --curve {text!r}; give training images per seed, e.g. 4,8,16,32."
        ) from err


@app.command()
def classify(
    sweep: Annotated[Path, typer.Argument(help="Sweep directory.")],
    train_set: Annotated[
        str | None, typer.Option(help="Prompt set to train on (the prompts' `set` column).")
    ] = None,
    test_set: Annotated[str | None, typer.Option(help="Prompt set to test on.")] = None,
    split: Annotated[
        float, typer.Option(help="Without sets: fraction of prompts to train on.")
    ] = 0.5,
    split_seed: Annotated[int, typer.Option(help="Seed of the prompt split.")] = 0,
    val_fraction: Annotated[
        float, typer.Option(help="Fraction of training prompts held out for validation.")
    ] = 0.1,
    size: Annotated[int, typer.Option(help="Images are resized to SIZE×SIZE.")] = 16,
    width: Annotated[int, typer.Option(help="Channels of the first convolution.")] = 64,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 8,
    batch_size: Annotated[int, typer.Option(help="Images per training step.")] = 64,
    lr: Annotated[float, typer.Option(help="Peak learning rate (one-cycle, AdamW).")] = 3e-3,
    seed: Annotated[int, typer.Option(help="Seed of initialisation and batch order.")] = 0,
    curve: Annotated[
        str, typer.Option(help="Learning-curve points, training images per seed ('' for none).")
    ] = "4,8,16,32",
    probe_size: Annotated[
        int, typer.Option(help="The linear probe sees pixels averaged to N×N×3.")
    ] = 16,
    input_mode: Annotated[
        str,
        typer.Option(
            "--input",
            help="What the network sees: pixels (the study's setting) or latent (the images "
            "encoded by the sweep's own model's VAE; uses knowledge of the generator).",
        ),
    ] = "pixels",
    init_from_noise: Annotated[
        bool,
        typer.Option(
            "--init-from-noise",
            help="With --input latent: start the network's linear layer on the latent as each "
            "seed's initial noise (a matched filter), then fine-tune.",
        ),
    ] = False,
    device: Annotated[str, typer.Option(help="Torch device: cpu, cuda, cuda:1, mps ...")] = "cpu",
    threads: Annotated[
        int | None, typer.Option(help="Torch CPU threads (default: torch's own).")
    ] = None,
    plots: Annotated[bool, typer.Option(help="Write PNG and SVG plots (matplotlib).")] = True,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train an N-way seed classifier on some prompts' images and test it on other prompts'.

    Writes DIR/analysis/classify_*-<id>.parquet (per-seed accuracy, confused pairs, learning
    curve, per-epoch history, test predictions), the network's weights (.safetensors) and plots.
    --input latent --init-from-noise is not the study's classifier: it uses the generator.
    """
    from seedscope.analysis.classify import ClassifySpec, run_classify

    if threads is not None:
        if threads < 1:
            raise SeedscopeError(f"--threads must be at least 1, not {threads}.")
        import torch

        torch.set_num_threads(threads)
    spec = ClassifySpec(
        train_set=train_set,
        test_set=test_set,
        split=split,
        split_seed=split_seed,
        val_fraction=val_fraction,
        size=size,
        width=width,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        curve=_curve(curve),
        probe_size=probe_size,
        input_mode=input_mode,
        init_from_noise=init_from_noise,
    )
    from seedscope.sweep.progress import StageProgress

    with StageProgress(not (quiet or json_)) as progress:
        result = run_classify(sweep, spec, device=device, progress=progress, plots=plots)
    if json_:
        typer.echo(json.dumps(result.summary(), indent=2))
        return
    n = len(result.seeds)
    sides = ", ".join(f"{k} {len(v)}" for k, v in result.prompts.items())
    lo, hi = result.test_ci
    plo, phi = result.probe_ci
    typer.echo(f"{n}-way seed classifier; prompts: {sides} (no prompt on two sides)")
    what = spec.input_mode
    if result.latent_shape is not None:
        shape = "x".join(str(d) for d in result.latent_shape)
        what = f"latent {shape} from {result.vae_model}'s VAE"
        what += ", linear layer started from the seeds' noise" if spec.init_from_noise else ""
    typer.echo(
        f"test accuracy ({what}) {result.test_accuracy:.2%} [{lo:.2%}, {hi:.2%}] "
        f"(epoch {result.best_epoch}, best val); chance {result.chance:.2%}"
    )
    if result.latent_shape is not None:
        xlo, xhi = result.pixel_ci
        typer.echo(
            f"pixel CNN ({spec.size}x{spec.size}, the study's setting) "
            f"{result.pixel_accuracy:.2%} [{xlo:.2%}, {xhi:.2%}]"
        )
    typer.echo(
        f"linear probe ({spec.probe_size}x{spec.probe_size}x3 pixels) {result.probe_accuracy:.2%} [{plo:.2%}, {phi:.2%}]"
    )
    typer.echo("epoch  train    val      test")
    for row in result.history.itertuples():
        mark = " *" if row.selected else ""
        typer.echo(
            f"{row.epoch:>5}  {row.train_accuracy:7.2%}  {row.val_accuracy:7.2%}  "
            f"{row.test_accuracy:7.2%}{mark}"
        )
    typer.echo("images/seed  CNN      probe")
    for row in result.curve.itertuples():
        typer.echo(f"{row.images_per_seed:>11}  {row.accuracy:7.2%}  {row.probe_accuracy:7.2%}")
    if len(result.pairs):
        pairs = ", ".join(
            f"{r.seed_a}<->{r.seed_b} ({r.errors})" for r in result.pairs.head(5).itertuples()
        )
        typer.echo(f"most confused seed pairs: {pairs}")
    typer.echo(
        f"{result.seconds['total']:.0f} s on {result.device}; wrote {Path(result.paths['classify_seeds']).parent}"
    )
