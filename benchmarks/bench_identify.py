"""Seed identification on the bundled world model: time per 10^6 candidates and accuracy at 10^6.

Run:
  python benchmarks/bench_identify.py speed [--candidates 1000000] [--batch 16] [--workers 1 2]
  python benchmarks/bench_identify.py accuracy [--images 64] [--work /tmp/bench-identify]

speed: the cost to beat is drawing each candidate's noise the obvious way,
`randn_tensor((1, 4, 32, 32), generator=torch.Generator("cpu").manual_seed(s))`, timed on a
sample and extrapolated; beside it the bare generator loop (one reused generator, `out=`), and
the scan itself (noise of every candidate + one matmul per chunk for a batch of queries) with
1 and 2 worker processes, wall clock and CPU seconds (the machine may be shared).

accuracy: images of the world model at its default settings (20 DDIM steps, guidance 6), seeds
drawn at random from 0-999999, identified among all 10^6 seeds in one scan, under these
conditions: prompt known; prompt unknown (empty-prompt inversion); JPEG quality 90; resized
64->128->64 and 64->48->64 (bicubic); made with a stochastic sampler (Euler ancestral, DDIM eta=1);
and images whose seeds (from 1,000,000 on) are not among the candidates (false matches).
Generated images are kept in --work, so a second run only inverts and scans.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import time
from typing import Any

import numpy as np
import torch


def _cpu() -> float:
    """CPU seconds of this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def speed(args: argparse.Namespace) -> None:
    """Time per 10^6 candidates: the obvious draw, the bare loop, the scan (1 and 2 workers)."""
    from diffusers.utils.torch_utils import randn_tensor

    from seedscope.analysis.identify import ScanSettings, candidate_noise, identify_latents

    shape = (4, 32, 32)
    n = args.sample
    t0, c0 = time.perf_counter(), _cpu()
    for s in range(n):
        randn_tensor((1, *shape), generator=torch.Generator("cpu").manual_seed(s))
    obvious = ((time.perf_counter() - t0) / n * 1e6, (_cpu() - c0) / n * 1e6)
    t0, c0 = time.perf_counter(), _cpu()
    buffer = torch.empty(2048, 4096)
    for lo in range(0, n, 2048):
        candidate_noise(range(lo, min(lo + 2048, n)), shape, out=buffer)
    bare = ((time.perf_counter() - t0) / n * 1e6, (_cpu() - c0) / n * 1e6)
    rows = [
        ("randn_tensor, new Generator per seed (baseline)", obvious),
        ("candidate_noise: one Generator, out= (no similarity)", bare),
    ]
    queries = torch.randn(args.batch, *shape, generator=torch.Generator().manual_seed(2**40))
    for workers in args.workers:
        t0, c0 = time.perf_counter(), _cpu()
        identify_latents(
            queries, [range(args.candidates)], ScanSettings(workers=workers, chunk=2048)
        )
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        scale = 1e6 / args.candidates
        rows.append(
            (f"scan, {args.batch} images, {workers} worker(s)", (wall * scale, cpu * scale))
        )
    base = obvious[0]
    print(
        f"machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} torch thread(s)"
    )
    print("| what | s per 10^6 candidates (wall) | CPU s per 10^6 | wall vs baseline |")
    print("|---|---|---|---|")
    for name, (wall, cpu) in rows:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {wall / base:.2f}x |")


# Accuracy.

CONDITIONS = (
    "prompt known",
    "prompt unknown",
    "JPEG q90, prompt unknown",
    "resized 64->128->64, prompt unknown",
    "resized 64->48->64, prompt unknown",
    "Euler ancestral, prompt known",
    "DDIM eta=1, prompt known",
    "seed not a candidate, prompt known",
)


def jpeg(pixels: np.ndarray, quality: int = 90) -> np.ndarray:
    """Re-encode as JPEG at `quality` and decode."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def resized(pixels: np.ndarray, size: int) -> np.ndarray:
    """Resize to size×size and back (bicubic)."""
    from PIL import Image

    h, w = pixels.shape[:2]
    image = Image.fromarray(pixels).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(image.resize((w, h), Image.Resampling.BICUBIC))


def _generate(
    pipe: Any, prompts: list[str], seeds: list[int], sampler: str, steps: int, guidance: float
) -> np.ndarray:
    from seedscope.analysis.swap import parse_sampler
    from seedscope.models.settings import set_scheduler
    from seedscope.sweep.generate import BatchGenerator

    original = pipe.scheduler
    scheduler, eta = parse_sampler(sampler)
    set_scheduler(pipe, scheduler)
    try:
        gen = BatchGenerator(pipe, steps=steps, guidance=guidance, height=64, width=64, eta=eta)
        gen.encode(dict(enumerate(prompts)))
        out = []
        for lo in range(0, len(seeds), 16):
            out.append(gen.run([(n, seeds[n]) for n in range(lo, min(lo + 16, len(seeds)))]).images)
        return np.concatenate(out)
    finally:
        pipe.scheduler = original


def _images(pipe: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The benchmark's generated images (made once, kept in --work)."""
    from seedscope.world.prompts import make_prompts

    name = f"images-{args.images}-{args.stochastic}-{args.outside}-{args.candidates}.npz"
    path = os.path.join(args.work, name)
    if os.path.exists(path):
        data = np.load(path, allow_pickle=False)
        return {k: data[k] for k in data.files}
    os.makedirs(args.work, exist_ok=True)
    rng = np.random.default_rng(0)
    m = args.images
    prompts = list(make_prompts(m, seed=11)["prompt"])
    seeds = rng.choice(args.candidates, size=m, replace=False).tolist()
    outside = (args.candidates + rng.choice(10**6, size=args.outside, replace=False)).tolist()
    k = args.stochastic
    data = {
        "prompts": np.array(prompts),
        "seeds": np.array(seeds),
        "outside": np.array(outside),
        "ddim": _generate(pipe, prompts, seeds, "ddim", 20, 6.0),
        "euler_a": _generate(pipe, prompts[:k], seeds[:k], "euler-ancestral", 20, 6.0),
        "ddim_eta1": _generate(pipe, prompts[:k], seeds[:k], "ddim-eta1", 20, 6.0),
        "ddim_outside": _generate(pipe, prompts[: len(outside)], outside, "ddim", 20, 6.0),
    }
    np.savez_compressed(path, **data)
    return data


def accuracy(args: argparse.Namespace) -> None:
    """Top-1 accuracy among 10^6 candidates under each condition; false matches outside."""
    from seedscope.analysis.identify import IdentifySettings, Query, identify_queries
    from seedscope.models import load_pipeline, resolve_model

    pipe = load_pipeline(resolve_model("world"))
    t0 = time.perf_counter()
    data = _images(pipe, args)
    print(f"images ready in {time.perf_counter() - t0:.0f} s")
    prompts = [str(p) for p in data["prompts"]]
    seeds = [int(s) for s in data["seeds"]]
    queries: list[tuple[str, Query]] = []

    def add(condition: str, images: np.ndarray, known: bool, truth: list[int]) -> None:
        for n, pixels in enumerate(images):
            prompt = prompts[n] if known else ""
            queries.append((condition, Query(f"{condition}/{n}", pixels, prompt, n, truth[n])))

    clean = data["ddim"]
    add(CONDITIONS[0], clean, True, seeds)
    add(CONDITIONS[1], clean, False, seeds)
    add(CONDITIONS[2], np.stack([jpeg(x, 90) for x in clean]), False, seeds)
    add(CONDITIONS[3], np.stack([resized(x, 128) for x in clean]), False, seeds)
    add(CONDITIONS[4], np.stack([resized(x, 48) for x in clean]), False, seeds)
    add(CONDITIONS[5], data["euler_a"], True, seeds)
    add(CONDITIONS[6], data["ddim_eta1"], True, seeds)
    add(CONDITIONS[7], data["ddim_outside"], True, [int(s) for s in data["outside"]])
    settings = IdentifySettings(
        seeds=f"0-{args.candidates - 1}", steps=20, alpha=args.alpha, workers=args.workers
    )
    t0, c0 = time.perf_counter(), _cpu()
    rows, n, t_inv, t_scan = identify_queries(pipe, [q for _, q in queries], settings)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    print(
        f"{len(rows)} queries, {n:,} candidates: inversion {t_inv:.0f} s "
        f"({t_inv / len(rows):.2f} s/image), scan {t_scan:.0f} s; total {wall:.0f} s wall, "
        f"{cpu:.0f} CPU s; {args.workers} worker(s)"
    )
    print(
        f"| condition | images | top-1 | named correctly (p < {args.alpha:g}) | median z | min z |"
    )
    print("|---|---|---|---|---|---|")
    runner_up_p = []
    from scipy.special import log_ndtr

    for condition in CONDITIONS:
        got = [r for (c, _), r in zip(queries, rows, strict=True) if c == condition]
        z = np.array([r["z"] for r in got])
        if condition.startswith("seed not"):
            false = sum(bool(r["match"]) for r in got)
            print(
                f"| {condition} | {len(got)} | - | false matches {false}/{len(got)} "
                f"| {np.median(z):.1f} | {z.min():.1f} |"
            )
            continue
        top1 = np.mean([r["best_seed"] == r["truth"] for r in got])
        named = np.mean([r["seed"] == r["truth"] for r in got])
        print(
            f"| {condition} | {len(got)} | {top1:.1%} | {named:.1%} | {np.median(z):.1f} "
            f"| {z.min():.1f} |"
        )
        for r in got:
            if r["best_seed"] == r["truth"] and r["runner_up_z"] is not None:
                # The runner-up is the best of the n - 1 candidates that are not the seed.
                runner_up_p.append(float(-np.expm1((n - 1) * log_ndtr(r["runner_up_z"]))))
    p = np.array(runner_up_p)
    if not len(p):
        return
    print(
        f"calibration: over {len(p)} identified images the best non-matching candidate has "
        f"p < 0.05 in {np.mean(p < 0.05):.1%}, p < 0.01 in {np.mean(p < 0.01):.1%}, "
        f"p < {args.alpha:g} in {np.mean(p < args.alpha):.2%} (uniform: 5%, 1%, {args.alpha:.2%})"
    )


def main() -> None:
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--candidates", type=int, default=1_000_000)
    sp.add_argument("--batch", type=int, default=16)
    sp.add_argument("--sample", type=int, default=20_000)
    sp.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ac = sub.add_parser("accuracy")
    ac.add_argument("--images", type=int, default=64)
    ac.add_argument("--stochastic", type=int, default=32)
    ac.add_argument("--outside", type=int, default=32)
    ac.add_argument("--candidates", type=int, default=1_000_000)
    ac.add_argument("--alpha", type=float, default=1e-3)
    ac.add_argument("--workers", type=int, default=2)
    ac.add_argument("--work", default="/tmp/bench-identify")
    args = ap.parse_args()
    speed(args) if args.what == "speed" else accuracy(args)


if __name__ == "__main__":
    main()
