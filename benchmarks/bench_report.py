"""Size of the atlas of a 64-prompt x 64-seed sweep with every section (no model run).

    python benchmarks/bench_report.py [--prompts 64] [--seeds 64] [--out DIR]

The sweep is the report tests' fake (tests/report/fake.py: one result of every analysis the atlas
shows, and an inpainting audit folder), with world-model-sized 64 x 64 images drawn by the
bundled world's renderer from each prompt's scene (seeded by the seed), so thumbnails compress
like real images rather than like flat test blocks. Prints the report's size in MB.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from report.fake import make_sweep, write_all


def draw_scene(p: int, text: str, seed: int, size: int) -> np.ndarray:
    """The world's rendering of the prompt's scene, its free choices drawn by the seed."""
    from PIL import Image

    from seedscope.world.grammar import parse_prompt, scene_for_prompt
    from seedscope.world.render import render

    prompt = parse_prompt(text)
    if prompt is None:
        raise SystemExit(f"not a world prompt: {text!r}")
    img = render(scene_for_prompt(prompt, np.random.default_rng([p, seed])))
    if img.shape[0] != size:
        img = np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR))
    return img


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--seeds", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--out", type=Path, default=None, help="Keep the sweep and report here.")
    args = ap.parse_args()
    from seedscope.report import ReportSettings, write_report
    from seedscope.world.prompts import make_prompts

    prompts = tuple(make_prompts(args.prompts, seed=0)["prompt"])
    seeds = list(range(args.seeds))
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        sweep = make_sweep(root / "sweep", prompts, seeds, size=args.size, draw=draw_scene)
        write_all(sweep, seeds)
        t0 = time.perf_counter()
        result = write_report(sweep, ReportSettings(out=root / "report"))
        seconds = time.perf_counter() - t0
        index = (root / "report" / "index.html").stat().st_size
    present = sum(bool(v) for v in result["sections"].values())
    print(
        f"report of a {args.prompts} x {args.seeds} sweep ({args.size}x{args.size} images), "
        f"{present} of {len(result['sections'])} sections, {result['pages']} seed pages: "
        f"{result['bytes'] / 1e6:.2f} MB (index.html {index / 1e6:.2f} MB), written in "
        f"{seconds:.0f} s on {platform.machine()}"
    )


if __name__ == "__main__":
    main()
