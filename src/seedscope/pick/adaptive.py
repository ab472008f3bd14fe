"""Golden seeds for a fraction of the images: successive halving over seeds (Karnin et al. 2013;
Jamieson & Talwalkar 2016), drawing prompts as it goes and scoring only the images it needs."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from seedscope.errors import SeedscopeError

Evaluate = Callable[[list[tuple[int, int]]], np.ndarray]
"""Scores of (prompt_id, seed) images, generating or looking them up (one value per pair)."""


@dataclass
class AdaptiveResult:
    """The pool found, the images it cost, and each round's survivors."""

    pool: list[int]
    images: int
    rounds: list[dict[str, object]] = field(default_factory=list)


def successive_halving(
    evaluate: Evaluate,
    seeds: Sequence[int],
    prompt_ids: Sequence[int],
    *,
    budget: int,
    pool_size: int,
    eta: int = 2,
    higher_is_better: bool = True,
    rng: np.random.Generator,
) -> AdaptiveResult:
    """Keep the best 1/eta of the seeds each round until `pool_size` remain, within `budget` images.

    Every round spends about budget / rounds images: each surviving seed gets the next prompts of
    one random prompt order (the same prompts for all, so seeds are compared on equal terms) and is
    judged by its mean over every prompt it has seen.
    """
    seeds = [int(s) for s in seeds]
    if not 1 <= pool_size <= len(seeds):
        raise SeedscopeError(f"the pool size must be between 1 and {len(seeds)}, not {pool_size}.")
    if eta < 2:
        raise SeedscopeError(f"eta must be at least 2, not {eta}.")
    order = [int(p) for p in rng.permutation(np.asarray(prompt_ids))]
    rounds = (
        max(1, math.ceil(math.log(len(seeds) / pool_size, eta))) if len(seeds) > pool_size else 1
    )
    alive = list(seeds)
    sums = dict.fromkeys(seeds, 0.0)
    seen = 0  # prompts of `order` every survivor has been scored on
    spent = 0
    history: list[dict[str, object]] = []
    for r in range(rounds):
        per_seed = max(1, (budget - spent) // ((rounds - r) * len(alive)))
        new = order[seen : seen + per_seed]
        if new:
            pairs = [(p, s) for s in alive for p in new]
            values = np.asarray(evaluate(pairs), np.float64).reshape(len(alive), len(new))
            for i, s in enumerate(alive):
                sums[s] += float(np.nansum(values[i]))
            spent += len(pairs)
            seen += len(new)
        keep = pool_size if r == rounds - 1 else max(pool_size, math.ceil(len(alive) / eta))
        sign = -1.0 if higher_is_better else 1.0
        ranked = sorted(alive, key=lambda s: (sign * sums[s] / max(seen, 1), s))
        history.append({"round": r, "prompts_seen": seen, "seeds": len(alive), "images": spent})
        alive = ranked[:keep]
    return AdaptiveResult(pool=alive, images=spent, rounds=history)


def grid_evaluator(
    prompt_ids: np.ndarray, seeds: np.ndarray, values: np.ndarray
) -> tuple[Evaluate, list[int]]:
    """An evaluator that looks images up in an exhaustive (P, S) grid, counting what it is asked.

    For benchmarks against the exhaustive ranking: the adaptive search only sees the cells it asks for.
    """
    row = {int(p): i for i, p in enumerate(prompt_ids)}
    col = {int(s): j for j, s in enumerate(seeds)}
    asked: list[int] = [0]

    def evaluate(pairs: list[tuple[int, int]]) -> np.ndarray:
        asked[0] += len(pairs)
        return np.array([values[row[p], col[s]] for p, s in pairs])

    return evaluate, asked
