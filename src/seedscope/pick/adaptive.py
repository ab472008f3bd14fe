"""Golden seeds for a fraction of the images: successive halving over seeds (Karnin et al. 2013;
Jamieson & Talwalkar 2016), drawing prompts as it goes and scoring only the images it needs."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    counts = dict.fromkeys(seeds, 0)  # scored images (NaN scores do not count)
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
                counts[s] += int((~np.isnan(values[i])).sum())
            spent += len(pairs)
            seen += len(new)
        keep = pool_size if r == rounds - 1 else max(pool_size, math.ceil(len(alive) / eta))
        sign = -1.0 if higher_is_better else 1.0
        ranked = sorted(
            alive, key=lambda s: (sign * sums[s] / counts[s] if counts[s] else np.inf, s)
        )
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


@dataclass(frozen=True)
class SearchSettings:
    """Settings of `pick adaptive`: the grid it may draw from, the metric and the budget."""

    model: str
    prompts: str
    seeds: str
    out: str
    metric: str = "world.adherent"
    higher_is_better: bool = True
    pool: int = 8
    budget: float = 0.25  # a fraction (< 1) of the exhaustive grid, or a number of images
    eta: int = 2
    set: str | None = None
    rng_seed: int = 0
    steps: int | None = None
    guidance: float | None = None
    dtype: str = "float32"
    device: str | None = None
    batch_size: int = 8

    def images(self, n_prompts: int, n_seeds: int) -> int:
        """The budget in images: a fraction of the exhaustive n_prompts x n_seeds, or a count."""
        if self.budget <= 0:
            raise SeedscopeError(f"--budget must be positive, not {self.budget}.")
        total = n_prompts * n_seeds
        want = int(self.budget * total) if self.budget < 1 else int(self.budget)
        if want < n_seeds:
            raise SeedscopeError(
                f"a budget of {want} images cannot give each of the {n_seeds} seeds one image; "
                f"raise --budget to at least {n_seeds} (or {n_seeds / total:.3f} of the grid)."
            )
        return want


def sweep_evaluator(settings: SearchSettings, prompts: Any) -> tuple[Evaluate, list[Path]]:
    """An evaluator that generates what it is asked into OUT/rounds/rK (one ordinary, resumable
    sweep per round: the round's prompts x its surviving seeds) and scores it with the metric's
    scorer; a rerun of the same search finds its rounds on disk and generates nothing again."""
    from seedscope.scorers.run import score_sweep
    from seedscope.seeds import format_seeds
    from seedscope.sweep import SweepOptions, run_sweep
    from seedscope.tables import open_sweep

    scorer = settings.metric.split(".", 1)[0]
    rows = {int(r["prompt_id"]): r for r in prompts.to_pylist()}
    rounds: list[Path] = []

    def evaluate(pairs: list[tuple[int, int]]) -> np.ndarray:
        folder = Path(settings.out) / "rounds" / f"r{len(rounds)}"
        folder.parent.mkdir(parents=True, exist_ok=True)
        pids = list(dict.fromkeys(p for p, _ in pairs))
        seeds = list(dict.fromkeys(s for _, s in pairs))
        prompt_file = folder.parent / f"{folder.name}.jsonl"
        prompt_file.write_text(
            "".join(
                json.dumps({"id": p, "prompt": rows[p]["prompt"], "set": rows[p]["set"]}) + "\n"
                for p in pids
            ),
            encoding="utf-8",
        )
        opts = SweepOptions(
            model=settings.model,
            prompts=str(prompt_file),
            seeds=format_seeds(seeds),
            out=str(folder),
            steps=settings.steps,
            guidance=settings.guidance,
            dtype=settings.dtype,
            device=settings.device,
            batch_size=settings.batch_size,
        )
        run_sweep(opts)
        score_sweep(folder, [scorer])
        rounds.append(folder)
        table = open_sweep(folder).scores([scorer]).to_pandas()
        if settings.metric not in table.columns:
            have = ", ".join(c for c in table.columns if c.startswith(scorer + "."))
            raise SeedscopeError(
                f"the scorer {scorer!r} has no column {settings.metric!r}; it has {have}."
            )
        value = {
            (int(p), int(s)): float(v)
            for p, s, v in zip(
                table["prompt_id"], table["seed"], table[settings.metric], strict=True
            )
        }
        return np.array([value[(p, s)] for p, s in pairs])

    return evaluate, rounds


def adaptive_search(settings: SearchSettings) -> tuple[AdaptiveResult, Any]:
    """Successive halving with images generated on demand; returns the result and a golden card."""
    from seedscope.pick.cards import card_from_sweep
    from seedscope.scorers import available
    from seedscope.seeds import parse_seeds
    from seedscope.sweep.prompts import load_prompts
    from seedscope.tables import open_sweep

    scorer = settings.metric.split(".", 1)[0]
    if "." not in settings.metric or scorer not in available():
        raise SeedscopeError(
            f"--metric must be SCORER.COLUMN of a registered scorer (e.g. world.adherent), "
            f"not {settings.metric!r}; scorers: {', '.join(sorted(available()))}."
        )
    prompts = load_prompts(settings.prompts)
    if settings.set is not None:
        chosen = [s == settings.set for s in prompts.column("set").to_pylist()]
        if not any(chosen):
            have = sorted({str(s) for s in prompts.column("set").to_pylist()})
            raise SeedscopeError(
                f"no prompt of {settings.prompts!r} is in set {settings.set!r} (sets: {have})."
            )
        prompts = prompts.filter(chosen)
    seeds = parse_seeds(settings.seeds)
    pids = [int(p) for p in prompts.column("prompt_id").to_pylist()]
    budget = settings.images(len(pids), len(seeds))
    evaluate, rounds = sweep_evaluator(settings, prompts)
    result = successive_halving(
        evaluate,
        seeds,
        pids,
        budget=budget,
        pool_size=settings.pool,
        eta=settings.eta,
        higher_is_better=settings.higher_is_better,
        rng=np.random.default_rng(settings.rng_seed),
    )
    means: dict[int, list[float]] = {}
    for folder in rounds:
        table = open_sweep(folder).scores([settings.metric.split(".", 1)[0]]).to_pandas()
        for s, v in zip(table["seed"], table[settings.metric], strict=True):
            means.setdefault(int(s), []).append(float(v))
    metrics = {
        s: {settings.metric: _seed_interval(means[s], settings.rng_seed)} for s in result.pool
    }
    evidence = {
        "search": "successive halving (Karnin et al. 2013), images generated on demand",
        "metric": settings.metric,
        "higher_is_better": settings.higher_is_better,
        "prompts": settings.prompts,
        "set": settings.set,
        "candidate_seeds": settings.seeds,
        "exhaustive_images": len(pids) * len(seeds),
        "budget_images": budget,
        "images": result.images,
        "rounds": result.rounds,
        "rng_seed": settings.rng_seed,
    }
    card = card_from_sweep(
        open_sweep(rounds[-1]), result.pool, kind="golden", metrics=metrics, evidence=evidence
    )
    return result, card


def _seed_interval(values: list[float], rng_seed: int) -> dict[str, Any]:
    """A seed's mean over the prompts it was shown, with a 95% bootstrap interval over them."""
    from seedscope.analysis import stats as st

    v = np.asarray(values, np.float64)
    out: dict[str, Any] = {"value": float(np.nanmean(v)), "images": len(v)}
    if len(v) >= 2:
        boot = st.bootstrap_seed_means(v[:, None], 2000, np.random.default_rng(rng_seed))[:, 0]
        lo, hi = st.percentile_ci(boot)
        out.update(lo=float(lo), hi=float(hi))
    return out
