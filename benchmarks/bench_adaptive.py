"""Adaptive seed search (successive halving) vs the exhaustive ranking, judged on held-out prompts.

    python benchmarks/bench_adaptive.py SWEEP [--metric world.adherent] [--pool 8] [--repeats 20]

The sweep must hold an exhaustive, scored prompts x seeds grid with prompt sets a (selection) and
b (held out). The adaptive search only sees the (prompt, seed) cells it asks for (looked up in
the grid, so its cost is counted in images); its pool and the exhaustive pool (top seeds by the
mean over all selection prompts) are scored on the held-out prompts, with a bootstrap interval
over held-out prompts for the exhaustive pool.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import seedscope
from seedscope.analysis import stats as st
from seedscope.pick.adaptive import grid_evaluator, successive_halving


def heldout_value(grid: np.ndarray, cols: list[int]) -> np.ndarray:
    """Per held-out prompt: the mean over the pool's seeds."""
    return np.nanmean(grid[:, cols], axis=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "sweep",
        nargs="?",
        default=None,
        help="an exhaustive, scored prompts x seeds sweep with prompt sets a and b",
    )
    ap.add_argument("--metric", default="world.adherent")
    ap.add_argument("--pool", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--lower-is-better", action="store_true")
    args = ap.parse_args()
    if args.sweep is None or not Path(args.sweep).expanduser().is_dir():
        what = "no sweep folder given" if args.sweep is None else f"{args.sweep!r} is no folder"
        ap.error(
            f"{what}: pass an exhaustive, scored prompts x seeds sweep with prompt sets a "
            "(selection) and b (held out), e.g. `python benchmarks/bench_adaptive.py ~/runs/w64`."
        )
    args.sweep = str(Path(args.sweep).expanduser())
    hib = not args.lower_is_better
    sw = seedscope.open_sweep(args.sweep)
    grids = {}
    for name in ("a", "b"):
        df = sw.scores([args.metric], set=name).to_pandas()
        vals = df[args.metric].astype(float).to_numpy()
        grids[name] = st.to_grid(df["prompt_id"].to_numpy(), df["seed"].to_numpy(), vals)
    sel, held = grids["a"], grids["b"]
    seeds = [int(s) for s in sel.seeds]
    col = {s: j for j, s in enumerate(held.seeds.tolist())}
    sign = -1.0 if hib else 1.0
    means = st.seed_means(sel.values)
    exhaustive = sorted(range(len(seeds)), key=lambda j: (sign * means[j], seeds[j]))[: args.pool]
    ex_pool = [seeds[j] for j in exhaustive]
    ex_val = heldout_value(held.values, [col[s] for s in ex_pool])
    rng = np.random.default_rng(0)
    boot = st.bootstrap_seed_means(ex_val[:, None], 2000, rng)[:, 0]
    lo, hi = st.percentile_ci(boot)
    total = sel.values.size
    rand_vals = [
        float(
            heldout_value(
                held.values, list(rng.choice(len(held.seeds), args.pool, replace=False))
            ).mean()
        )
        for _ in range(200)
    ]
    print(
        f"sweep {args.sweep}: {len(sel.prompt_ids)} selection prompts, {len(held.prompt_ids)} held out, "
        f"{len(seeds)} seeds; metric {args.metric}; pool of {args.pool}"
    )
    print(
        f"{'search':<22}{'images':>8}{'ratio':>7}{'held-out mean':>15}{'in/above ex. CI':>18}{'overlap':>9}"
    )
    print(
        f"{'exhaustive':<22}{total:>8}{1.0:>7.2f}{ex_val.mean():>15.4f}   [{lo:.4f}, {hi:.4f}]{args.pool:>9}"
    )
    print(f"{'random seeds':<22}{0:>8}{0.0:>7.2f}{np.mean(rand_vals):>15.4f}{'':>18}{'':>9}")
    evaluate, _ = grid_evaluator(sel.prompt_ids, sel.seeds, sel.values)
    for frac in (0.10, 0.25, 0.50):
        vals, inside, overlap, cost = [], 0, [], []
        for rep in range(args.repeats):
            res = successive_halving(
                evaluate,
                seeds,
                sel.prompt_ids.tolist(),
                budget=int(frac * total),
                pool_size=args.pool,
                higher_is_better=hib,
                rng=np.random.default_rng(100 + rep),
            )
            v = float(heldout_value(held.values, [col[s] for s in res.pool]).mean())
            vals.append(v)
            inside += lo <= v <= hi or (v > hi if hib else v < lo)
            overlap.append(len(set(res.pool) & set(ex_pool)))
            cost.append(res.images)
        print(
            f"{f'halving {int(frac * 100)}%':<22}{int(np.mean(cost)):>8}{np.mean(cost) / total:>7.2f}"
            f"{np.mean(vals):>15.4f}{f'{inside}/{args.repeats}':>18}{np.mean(overlap):>9.1f}"
        )


if __name__ == "__main__":
    main()
