"""Sweep throughput: the sweep vs the naive loop vs the model's own work, and peak RSS.

Run by hand (not a test):

    python benchmarks/bench_sweep.py --model PATH_OR_ID --prompts 8 --seeds 16
    python benchmarks/bench_sweep.py --tiny          # a tiny random SD pipeline, built offline

Prints images/s of (1) the sweep (`run_sweep`, PNG + Parquet included), (2) the naive loop
(one pipeline call per (prompt, seed), PIL output, no I/O), (3) model only (text encoding,
UNet steps and VAE decode at the sweep's batch size, no PNG, no I/O), the ratios, and the
peak RSS of the sweep at two grid sizes (each in a fresh process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

WORDS = ["cat", "dog", "car", "tree", "house", "bird", "boat", "city", "sea", "sky"]


def prompts_file(folder: Path, n: int) -> Path:
    path = folder / f"prompts-{n}.txt"
    path.write_text("\n".join(f"a photo of a {WORDS[i % 10]} {i}" for i in range(n)) + "\n")
    return path


def tiny_model(folder: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from fixtures.tiny import save_tiny

    return save_tiny("sd", folder / "tiny-sd")


def sweep_once(
    args: argparse.Namespace, n_prompts: int, n_seeds: int, out: Path
) -> dict[str, float]:
    from seedscope.sweep import SweepOptions, run_sweep

    opts = SweepOptions(
        model=args.model,
        prompts=str(prompts_file(out.parent, n_prompts)),
        seeds=f"0-{n_seeds - 1}",
        out=str(out),
        steps=args.steps,
        guidance=args.guidance,
        height=args.size,
        width=args.size,
        batch_size=args.batch_size,
        shard_prompts=args.shard_prompts,
        shard_seeds=args.shard_seeds,
    )
    start = time.perf_counter()
    result = run_sweep(opts)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "images": result.images_generated,
        "seconds": seconds,
        "gen_ips": result.images_per_second,
        "peak_rss_mb": peak_mb,
    }


def naive_and_model_only(
    args: argparse.Namespace, n_prompts: int, n_seeds: int
) -> dict[str, float]:
    import torch

    from seedscope.models import load_pipeline, resolve_model
    from seedscope.sweep.generate import BatchGenerator

    pipe = load_pipeline(resolve_model(args.model))
    prompts = [f"a photo of a {WORDS[i % 10]} {i}" for i in range(n_prompts)]
    pairs = [(p, s) for p in range(n_prompts) for s in range(n_seeds)]
    common = {
        "num_inference_steps": args.steps,
        "guidance_scale": args.guidance,
        "height": args.size,
        "width": args.size,
    }
    # Naive loop: one call per (prompt, seed).
    start = time.perf_counter()
    for pid, seed in pairs:
        pipe(prompts[pid], generator=torch.Generator("cpu").manual_seed(seed), **common)
    naive = time.perf_counter() - start
    # Model only: per shard-sized group, encode each prompt once, then batched calls, no PNG.
    gen = BatchGenerator(
        pipe, steps=args.steps, guidance=args.guidance, height=args.size, width=args.size
    )
    start = time.perf_counter()
    for block in range(0, n_prompts, args.shard_prompts):
        ids = range(block, min(block + args.shard_prompts, n_prompts))
        gen.encode({i: prompts[i] for i in ids})
        todo = [(p, s) for p in ids for s in range(n_seeds)]
        for i in range(0, len(todo), args.batch_size):
            gen.run(todo[i : i + args.batch_size])
    model_only = time.perf_counter() - start
    return {"naive_ips": len(pairs) / naive, "model_only_ips": len(pairs) / model_only}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--tiny", action="store_true", help="use a tiny random SD pipeline")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--shard-prompts", type=int, default=4)
    parser.add_argument("--shard-seeds", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument(
        "--rss-only", nargs=2, type=int, metavar=("PROMPTS", "SEEDS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.tiny or not args.model:
            args.model = str(tiny_model(tmp))
        if args.rss_only:
            print(json.dumps(sweep_once(args, *args.rss_only, tmp / "out")))
            return
        # Warm up (first-call kernel setup) with one batch, then time in the same process.
        sweep_once(args, 1, args.batch_size, tmp / "warmup")
        other = naive_and_model_only(args, args.prompts, args.seeds)
        sweep = sweep_once(args, args.prompts, args.seeds, tmp / "sweep")
        sweep_ips = sweep["images"] / sweep["seconds"]
        print(
            f"grid {args.prompts} prompts x {args.seeds} seeds, {args.size}px, {args.steps} steps, "
            f"guidance {args.guidance}, batch {args.batch_size}, model {args.model}"
        )
        print(f"sweep (end to end, PNG + Parquet): {sweep_ips:8.2f} img/s")
        print(f"sweep (generation phase only):     {sweep['gen_ips']:8.2f} img/s")
        print(f"naive loop (1 call per image):     {other['naive_ips']:8.2f} img/s")
        print(f"model only (batched, no I/O):      {other['model_only_ips']:8.2f} img/s")
        print(
            f"sweep / model only: {sweep['gen_ips'] / other['model_only_ips']:.2f} "
            f"(end to end {sweep_ips / other['model_only_ips']:.2f});  "
            f"sweep / naive: {sweep['gen_ips'] / other['naive_ips']:.2f}"
        )
        # Peak RSS at two grid sizes, each in a fresh process.
        for scale in (1, 4):
            cmd = [
                sys.executable,
                __file__,
                "--model",
                args.model,
                "--steps",
                str(args.steps),
                "--guidance",
                str(args.guidance),
                "--size",
                str(args.size),
                "--batch-size",
                str(args.batch_size),
                "--shard-prompts",
                str(args.shard_prompts),
                "--shard-seeds",
                str(args.shard_seeds),
                "--threads",
                str(args.threads),
                "--rss-only",
                str(args.prompts),
                str(args.seeds * scale),
            ]
            line = (
                subprocess.run(cmd, capture_output=True, text=True, check=True)
                .stdout.strip()
                .splitlines()[-1]
            )
            rss = json.loads(line)
            print(f"peak RSS, {rss['images']:6d} images: {rss['peak_rss_mb']:8.1f} MB")


if __name__ == "__main__":
    main()
