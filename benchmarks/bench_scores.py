"""Seconds per image of every available scorer and feature extractor, against generating one.

The baseline, timed in the same run, is the bundled world model generating the same number of
images (20 DDIM steps, batch n); the ratio column is part / generation (lower is cheaper).

Run: python benchmarks/bench_scores.py [--n 32] [--size 256] [--only world,grayscale]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from PIL import Image

from seedscope import features, scorers
from seedscope.errors import SeedscopeError
from seedscope.scorers import Context


def images(n: int, size: int) -> list[Image.Image]:
    """Crops of scikit-image's photos (or noise where it is missing)."""
    try:
        from skimage import data

        src = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    except ImportError:
        src = [np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)]
    out = []
    for i in range(n):
        a = src[i % len(src)]
        s = min(a.shape[:2])
        out.append(Image.fromarray(a[:s, :s]).resize((size, size)))
    return out


def generation_seconds(n: int) -> float:
    """Seconds per image of the bundled world model (20 DDIM steps, one batch of n)."""
    import torch

    from seedscope.world import load_pipeline

    pipe = load_pipeline()
    gens = [torch.Generator().manual_seed(i) for i in range(n)]
    pipe(["a red circle"], num_inference_steps=2)  # warm-up
    t = time.perf_counter()
    pipe(["a red circle"] * n, generator=gens, num_inference_steps=20, guidance_scale=4.0)
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--only", default="", help="Comma-separated scorer/extractor names.")
    a = ap.parse_args()
    only = {x for x in a.only.split(",") if x}
    ims = images(a.n, a.size)
    ctx = Context(prompts=["a red circle"] * a.n)
    base = generation_seconds(a.n)
    print(f"| part | seconds / image ({a.n} images, {a.size}x{a.size}) | ratio to generating |")
    print("|---|---|---|")
    print(f"| baseline: world model generation, 20 steps | {base:.4f} | 1 |")

    def row(label: str, seconds: float) -> None:
        print(f"| {label} | {seconds:.4f} | {seconds / base:.3f} |")

    for name in scorers.available():
        if only and name not in only:
            continue
        try:
            s = scorers.get_scorer(name)
            s.score(ims[:1], Context(prompts=["a red circle"]))  # warm-up (model loading)
            t = time.perf_counter()
            s.score(ims, ctx)
            row(f"scorer {name}", (time.perf_counter() - t) / a.n)
        except SeedscopeError as err:
            print(f"| scorer {name} | not available: {err} | |")
    for name in features.available():
        if only and name not in only:
            continue
        try:
            ex = features.get_extractor(name)
            ex.extract(ims[:1])
            t = time.perf_counter()
            ex.extract(ims)
            row(f"features {ex.key} ({ex.dim}-d)", (time.perf_counter() - t) / a.n)
        except SeedscopeError as err:
            print(f"| features {name} | not available: {err} | |")


if __name__ == "__main__":
    main()
