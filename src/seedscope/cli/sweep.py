"""`seedscope sweep`: every prompt × every seed with any diffusers text-to-image pipeline."""

from __future__ import annotations

import json
import logging
import os
from typing import Annotated

import typer

from seedscope.cli._app import app

_HELP = """Generate the grid PROMPTS × SEEDS with MODEL into DIR (resumable).

Run the same command again to resume after an interruption: only missing shards are made.
Into an existing DIR, a different plan is refused, except that adding prompts (new ids in
the prompt file) or adding seeds (a larger seed spec) extends the grid: only the new
(prompt, seed) pairs are generated and existing shards are left as they are.
"""


@app.command(help=_HELP)
def sweep(
    model: Annotated[
        str,
        typer.Option(
            help="Diffusers pipeline folder, Hugging Face id in the local cache, or 'world'."
        ),
    ],
    prompts: Annotated[
        str,
        typer.Option(help="Prompt file: .txt (one per line), .csv or .jsonl (prompt, id, set)."),
    ],
    seeds: Annotated[str, typer.Option(help="Seed spec: 0-1023, 0,5,7-9 or @file.")],
    out: Annotated[str, typer.Option(help="Output sweep directory.")],
    steps: Annotated[
        int | None, typer.Option(help="Denoising steps (default: the model's, else 50).")
    ] = None,
    guidance: Annotated[
        float | None,
        typer.Option(help="Guidance scale, 0 or 1 for none (default: the model's, else 7.5)."),
    ] = None,
    height: Annotated[int | None, typer.Option(help="Image height (default: the model's).")] = None,
    width: Annotated[int | None, typer.Option(help="Image width (default: the model's).")] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Scheduler: ddim, euler, euler-ancestral, dpm++, ... or a class name."),
    ] = None,
    dtype: Annotated[str, typer.Option(help="float32, float16 or bfloat16.")] = "float32",
    batch_size: Annotated[int, typer.Option(help="Images per pipeline call.")] = 8,
    negative_prompt: Annotated[
        str | None, typer.Option(help="Negative prompt for every image.")
    ] = None,
    generator_device: Annotated[
        str,
        typer.Option(
            help="Device of the per-image torch.Generator (cpu noise is the same everywhere)."
        ),
    ] = "cpu",
    device: Annotated[
        str | None, typer.Option(help="Device to run the model on (default: cuda if any).")
    ] = None,
    engine: Annotated[str, typer.Option(help="local or ray.")] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)."),
    ] = None,
    ray_workers: Annotated[
        int | None, typer.Option(help="Ray workers (default: as many as fit).")
    ] = None,
    gpus_per_worker: Annotated[float, typer.Option(help="GPUs per Ray worker.")] = 0.0,
    cpus_per_worker: Annotated[float, typer.Option(help="CPUs per Ray worker.")] = 1.0,
    shard_prompts: Annotated[int, typer.Option(help="Prompt-id block per shard.")] = 16,
    shard_seeds: Annotated[int, typer.Option(help="Seed block per shard.")] = 64,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Read existing shards fully (page CRCs) before resuming."),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary on stdout.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Generate the grid PROMPTS × SEEDS with MODEL into DIR (resumable, extendable)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from seedscope.sweep import SweepOptions, run_sweep

    if not quiet:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    options = SweepOptions(
        model=model,
        prompts=prompts,
        seeds=seeds,
        out=out,
        steps=steps,
        guidance=guidance,
        height=height,
        width=width,
        scheduler=scheduler,
        dtype=dtype,
        negative_prompt=negative_prompt,
        generator_device=generator_device,
        device=device,
        batch_size=batch_size,
        engine=engine,
        shard_prompts=shard_prompts,
        shard_seeds=shard_seeds,
        ray_address=ray_address,
        ray_workers=ray_workers,
        gpus_per_worker=gpus_per_worker,
        cpus_per_worker=cpus_per_worker,
        verify=verify,
    )
    result = run_sweep(options, progress=not quiet and not json_output)
    if json_output:
        typer.echo(json.dumps(result.to_dict()))
    elif not quiet:
        typer.echo(
            f"{result.mode}: {result.images_generated} images generated "
            f"({result.images_total} in the grid, {result.images_per_second} img/s) "
            f"into {result.out}",
            err=True,
        )
