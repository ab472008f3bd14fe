"""The bundled world model's two design checks that `seedscope world evaluate` does not make.

1. Autoencoder ceiling: the detector's category accuracy on freshly rendered scenes and on
   their round trip through the model's autoencoder (an upper bound on prompt adherence).
2. Guidance choice: prompt adherence at several guidance scales on a prompt set other than
   the evaluation's (make_prompts(64, seed=99), seed i for prompt i).

Run: python benchmarks/world_checks.py [--n 512] [--guidance 4,6,7.5,9]
"""

from __future__ import annotations

import argparse

import numpy as np

from seedscope.world import load_pipeline
from seedscope.world.detect import CATEGORIES, WorldDetector, render_labelled
from seedscope.world.evaluate import adherence, generate
from seedscope.world.prompts import make_prompts
from seedscope.world.scorer_truth import round_trip


def autoencoder_ceiling(pipe, det: WorldDetector, n: int) -> tuple[float, float]:
    """Detector category accuracy on n rendered scenes and on their autoencoder round trips."""
    data = render_labelled(n, seed=2024)
    rec_u8 = round_trip(pipe, data["images"], batch=64)
    truth = [CATEGORIES[c] for c in data["category"]]

    def acc(images: np.ndarray) -> float:
        return float(
            np.mean([d.category == t for d, t in zip(det.detect(list(images)), truth, strict=True)])
        )

    return acc(data["images"]), acc(rec_u8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--guidance", default="4,6,7.5,9")
    args = ap.parse_args()
    pipe, det = load_pipeline(), WorldDetector()
    real, rec = autoencoder_ceiling(pipe, det, args.n)
    print(f"| detector category on {args.n} rendered scenes | {real:.1%} |")
    print(f"| the same after the autoencoder round trip | {rec:.1%} |")
    prompts = make_prompts(64, seed=99)["prompt"].tolist()
    for g in (float(v) for v in args.guidance.split(",")):
        images, _ = generate(pipe, prompts, list(range(len(prompts))), guidance=g)
        print(
            f"| adherence at guidance {g} (64 held-out prompts) | "
            f"{adherence(prompts, det.detect(images))['adherence']:.1%} |"
        )


if __name__ == "__main__":
    main()
