"""Successive halving finds a planted pool for a fraction of the images, within its budget."""

from __future__ import annotations

import numpy as np

from seedscope.pick.adaptive import grid_evaluator, successive_halving


def test_finds_the_planted_best_seeds_within_budget() -> None:
    rng = np.random.default_rng(0)
    n_p, n_s = 200, 32
    quality = np.zeros(n_s)
    quality[[3, 17, 29, 30]] = 1.0
    values = quality[None, :] + rng.normal(0, 0.8, (n_p, n_s))
    evaluate, asked = grid_evaluator(np.arange(n_p), np.arange(n_s), values)
    budget = n_p * n_s // 4
    result = successive_halving(
        evaluate, range(n_s), range(n_p), budget=budget, pool_size=4, rng=np.random.default_rng(1)
    )
    assert sorted(result.pool) == [3, 17, 29, 30]
    assert result.images == asked[0] <= budget
    assert [r["seeds"] for r in result.rounds] == [32, 16, 8]


def test_without_an_effect_the_pool_is_no_better_than_chance() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=(100, 16))
    evaluate, _ = grid_evaluator(np.arange(100), np.arange(16), values)
    hits = 0
    for rep in range(40):
        pool = successive_halving(
            evaluate, range(16), range(100), budget=400, pool_size=4, rng=np.random.default_rng(rep)
        ).pool
        hits += len(set(pool) & {0, 1, 2, 3})
    assert 20 < hits < 60  # 40 draws x 4 x 4/16 = 40 expected by chance
