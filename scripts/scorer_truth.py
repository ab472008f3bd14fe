"""How well the project's mode scorers read world truth: on rendered scenes and their VAE round trips.

The mode scorers (border, grayscale, sky; text by the world detector) are what `seedscope world
evaluate` counts modes with. This checks each against the scenes' truth, on freshly rendered
world scenes and on the same scenes passed through the model's autoencoder (the decoder draws
every generated image, so a scorer that fails on round trips cannot count generated modes).

Run: python scripts/scorer_truth.py [--n 2000] [--model DIR] [--json]
"""

from __future__ import annotations

import argparse
import json

from seedscope.world import load_pipeline
from seedscope.world.scorer_truth import scorer_truth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--model", default=None, help="world pipeline folder (default: shipped)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = scorer_truth(load_pipeline(args.model), args.n, args.seed)
    if args.json:
        print(json.dumps(res))
        return
    truth = ", ".join(f"{m} {r:.1%}" for m, r in res["truth"].items())
    print(f"{res['n']} world scenes (seed {res['seed']}); truth rates: {truth}")
    print("| images | mode | scorer rate | precision | recall |")
    print("| --- | --- | --- | --- | --- |")
    for name in ("rendered", "round_trip"):
        for m, r in res[name].items():
            print(f"| {name} | {m} | {r['rate']:.1%} | {r['precision']:.1%} | {r['recall']:.1%} |")


if __name__ == "__main__":
    main()
