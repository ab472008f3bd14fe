"""Seconds per image of every available scorer and feature extractor (CPU, batch of images).

Run: python benchmarks/bench_scores.py [--n 32] [--size 256]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()
    ims = images(a.n, a.size)
    ctx = Context(prompts=["a photo"] * a.n)
    print(f"| part | seconds / image ({a.n} images, {a.size}x{a.size}) |")
    print("|---|---|")
    for name in scorers.available():
        try:
            s = scorers.get_scorer(name)
            s.score(ims[:1], Context(prompts=["a photo"]))  # warm-up (model loading)
            t = time.perf_counter()
            s.score(ims, ctx)
            print(f"| scorer {name} | {(time.perf_counter() - t) / a.n:.4f} |")
        except SeedscopeError as err:
            print(f"| scorer {name} | not available: {err} |")
    for name in features.available():
        try:
            ex = features.get_extractor(name)
            ex.extract(ims[:1])
            t = time.perf_counter()
            ex.extract(ims)
            print(f"| features {ex.key} ({ex.dim}-d) | {(time.perf_counter() - t) / a.n:.4f} |")
        except SeedscopeError as err:
            print(f"| features {name} | not available: {err} |")


if __name__ == "__main__":
    main()
