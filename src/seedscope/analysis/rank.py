"""Rank seeds by every score with bootstrap intervals over prompts; golden and inferior seeds.

The study (Xu et al. 2025, Sec. 4) ranks seeds by per-seed FID and HPS and finds golden and
inferior seeds; here every per-image score is ranked, each number carries a percentile-bootstrap
interval over prompts, and the best-vs-worst gap is tested on prompts that did not choose it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seedscope.analysis import stats as st
from seedscope.analysis.consistency import (
    Consistency,
    consistency,
    per_seed_consistency,
    split_prompts,
)
from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

__all__ = [
    "DIRECTIONS",
    "RankResult",
    "RankSettings",
    "metric_direction",
    "rank_seeds",
    "score_columns",
    "score_grids",
]

KEY_COLUMNS = ("prompt_id", "seed", "prompt", "set")

DIRECTIONS: dict[str, bool] = {
    "fid": False,
    "kid": False,
    "hps": True,
    "clip_score": True,
    "adherent": True,
    "category_match": True,
    "colour_match": True,
    "colourfulness": True,
    "grayscale": False,
    "border": False,
    "text": False,
    "has_text": False,
}
"""Whether higher is better, by metric name (the part after the scorer's dot)."""

TESTS = ("heldout", "permutation", "both")


@dataclass(frozen=True)
class RankSettings:
    """Settings of `rank_seeds`; saved into the metadata of everything it writes."""

    metric: str | None = None
    higher_is_better: bool | None = None
    reps: int = 1000
    level: float = 0.95
    rng_seed: int = 0
    split: float | None = None
    split_seed: int = 0
    k: int | None = None
    test: str = "heldout"
    permutations: int = 999
    fid_intervals: bool = True
    fid_blocks: int = 10
    columns: tuple[str, ...] = field(default_factory=tuple)
    fid_extractor: str | None = None
    """Which fid_by_seed result to read when there are several (its extractor key or name)."""

    def __post_init__(self) -> None:
        if self.test not in TESTS:
            raise SeedscopeError(f"--test must be one of {', '.join(TESTS)}, not {self.test!r}.")
        if self.reps < 10:
            raise SeedscopeError(f"--reps must be at least 10, not {self.reps}.")
        if not 0.5 < self.level < 1.0:
            raise SeedscopeError(f"--level must be between 0.5 and 1, not {self.level}.")
        if self.permutations < 19:
            raise SeedscopeError(
                f"--permutations must be at least 19 (for p to reach 0.05), not {self.permutations}."
            )


@dataclass
class RankResult:
    """The per-seed table, the chosen metric's golden/inferior seeds, tests and consistency."""

    table: pd.DataFrame
    summary: dict[str, Any]
    consistency: Consistency | None
    seeds: np.ndarray


def metric_direction(metric: str, override: bool | None, prefix: str = "") -> bool:
    """Whether higher is better for `metric`: the override, else the defaults table; the error
    names the options `--{prefix}higher-is-better` and `--{prefix}lower-is-better`."""
    if override is not None:
        return override
    short = metric.rsplit(".", 1)[-1]
    if short in DIRECTIONS:
        return DIRECTIONS[short]
    raise SeedscopeError(
        f"seedscope does not know whether higher {metric!r} is better; "
        f"give --{prefix}higher-is-better or --{prefix}lower-is-better."
    )


def _object_bools(column: pd.Series) -> bool:
    """An object column whose values are all booleans or missing (a nullable bool from Arrow)."""
    values = column.dropna()
    return len(values) > 0 and all(isinstance(v, (bool, np.bool_)) for v in values)


def score_columns(df: pd.DataFrame) -> list[str]:
    """The numeric and boolean score columns with values (keys, text and empty columns dropped);
    nullable booleans stored as objects count (they are read as 0/1 with NaN holes)."""
    out = []
    for c in df.columns:
        if c in KEY_COLUMNS:
            continue
        kind = df[c].dtype.kind
        numeric = kind in "biuf" and df[c].notna().any()  # all-NaN: a scorer option not used
        if numeric or (kind == "O" and _object_bools(df[c])):
            out.append(str(c))
    return out


def score_grids(
    df: pd.DataFrame, columns: list[str]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Pivot a long scores table into (prompt ids, seeds, {column: (P, S) array with NaN holes})."""
    up, us, flat = st.grid_index(df["prompt_id"].to_numpy(), df["seed"].to_numpy())
    grids = {}
    for c in columns:
        g = np.full(len(up) * len(us), np.nan)
        g[flat] = pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        grids[c] = g.reshape(len(up), len(us))
    return up, us, grids


def _pick_metric(columns: list[str], settings: RankSettings) -> str:
    if settings.metric is not None:
        hits = [c for c in columns if c == settings.metric]
        if not hits:
            hits = [c for c in columns if c.rsplit(".", 1)[-1] == settings.metric]
        if len(hits) != 1:
            raise SeedscopeError(
                f"--metric {settings.metric!r} is "
                + ("ambiguous" if hits else "not among the scores")
                + f"; choose one of: {', '.join(columns[:20])}."
            )
        return hits[0]
    for pref in ("fid", "hps.hps", "clip.clip_score", "world.adherent"):
        if pref in columns:
            return pref
    for c in columns:
        if c.rsplit(".", 1)[-1] in DIRECTIONS:
            return c
    raise SeedscopeError("no metric to rank by; give --metric NAME.")


def rank_seeds(
    scores: pd.DataFrame,
    settings: RankSettings,
    *,
    per_seed: pd.DataFrame | None = None,
    per_seed_sets: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> RankResult:
    """Rank seeds by every score column with bootstrap intervals over prompts.

    `per_seed` adds metrics with one value per seed (FID, KID; columns `name`, `name_lo`,
    `name_hi` where an interval exists) and `per_seed_sets` their values on the two prompt sets,
    so that they can be the ranked metric too.
    """
    if scores.empty:
        raise SeedscopeError("the scores table is empty; run `seedscope score DIR` first.")
    columns = list(settings.columns) or score_columns(scores)
    if not columns and per_seed is None:
        raise SeedscopeError("the scores table has no numeric columns to rank.")
    pids, seeds, grids = score_grids(scores, columns)
    rng = np.random.default_rng(settings.rng_seed)

    # Per-seed means and intervals of every column at once: one shared set of resamples.
    table = pd.DataFrame({"seed": seeds})
    any_grid = next(iter(grids.values())) if grids else None
    if any_grid is not None:
        # An image counts if any score column has a value for it (not only the first column).
        scored = np.zeros(any_grid.shape, bool)
        for c in columns:
            scored |= ~np.isnan(grids[c])
        table["n_images"] = scored.sum(0)
        table["n_prompts"] = len(pids)
        stacked = np.concatenate([grids[c] for c in columns], axis=1)
        boot = st.bootstrap_seed_means(stacked, settings.reps, rng)
        lo, hi = st.percentile_ci(boot, settings.level)
        means = st.seed_means(stacked)
        n_s = len(seeds)
        for j, c in enumerate(columns):
            sl = slice(j * n_s, (j + 1) * n_s)
            table[c], table[f"{c}_lo"], table[f"{c}_hi"] = means[sl], lo[sl], hi[sl]
    if per_seed is not None:
        table = table.merge(per_seed, on="seed", how="left" if grids else "outer")
        table = table.sort_values("seed", ignore_index=True)
    all_columns = columns + [
        c for c in (per_seed.columns if per_seed is not None else []) if c in ("fid", "kid")
    ]
    if settings.metric in ("fid", "kid") and settings.metric not in all_columns:
        raise SeedscopeError(
            f"--metric {settings.metric} needs per-seed FID/KID; run `seedscope fid-seeds DIR "
            "--ref REF` first."
        )
    metric = _pick_metric(all_columns, settings)
    higher = metric_direction(metric, settings.higher_is_better)
    n_seeds = len(table)
    k = settings.k or max(1, n_seeds // 10)
    if k > n_seeds:
        raise SeedscopeError(f"-k {k} is more than the {n_seeds} seeds.")

    # Golden and inferior seeds on all prompts.
    vals = table[metric].to_numpy(np.float64)
    key = np.where(np.isnan(vals), np.inf, -vals if higher else vals)
    order = np.argsort(key, kind="stable")
    table["rank"] = np.empty(n_seeds, np.int64)
    table.loc[order, "rank"] = np.arange(1, n_seeds + 1)
    table["golden"] = table["rank"] <= k
    table["inferior"] = table["rank"] > n_seeds - k
    summary: dict[str, Any] = {
        "metric": metric,
        "higher_is_better": higher,
        "k": k,
        "seeds": n_seeds,
        "prompts": len(pids),
        "level": settings.level,
        "reps": settings.reps,
        "interval": f"{settings.reps} bootstrap resamples of the prompts",
        "golden": _seed_rows(table, order[:k], metric),
        "inferior": _seed_rows(table, order[::-1][:k], metric),
    }

    # Two disjoint prompt sets: consistency and the held-out selection test.
    sets = None
    if "set" in scores.columns:
        first = scores.drop_duplicates("prompt_id").set_index("prompt_id")["set"]
        sets = first.reindex(pids).to_numpy(dtype=object)
    mask, name_a, name_b, how = split_prompts(
        pids, sets, fraction=settings.split, seed=settings.split_seed
    )
    summary["sets"] = {"a": name_a, "b": name_b, "how": how}
    cons: Consistency | None = None
    tests: dict[str, Any] = {}
    if metric in grids:
        g = grids[metric]
        cons = consistency(
            g[mask], g[~mask], higher_is_better=higher, k=k, reps=settings.reps, rng=rng,
            level=settings.level,
        )  # fmt: skip
        table[f"{metric}@{name_a}"] = cons.mean_a
        table[f"{metric}@{name_b}"] = cons.mean_b
        if settings.test in ("heldout", "both"):
            res: dict[str, Any] = dict(
                st.heldout_gap_test(g[mask], g[~mask], higher_is_better=higher, reps=9999, rng=rng)
            )
            res["best"] = int(seeds[int(res["best"])])
            res["worst"] = int(seeds[int(res["worst"])])
            res["test"] = (
                f"best and worst seed chosen on {name_a!r}, their gap tested on the held-out "
                f"{name_b!r} prompts (one-sided paired sign-flip permutation test, 9,999 draws)"
            )
            tests["heldout"] = res
        if settings.test in ("permutation", "both"):
            res = dict(st.permutation_gap_test(g, reps=settings.permutations, rng=rng))
            res["test"] = (
                "max-min gap of per-seed means against seed labels permuted within each "
                f"prompt ({settings.permutations} permutations, all prompts)"
            )
            tests["permutation"] = res
    elif per_seed_sets is not None and all(metric in t.columns for t in per_seed_sets):
        sa, sb = (t.set_index("seed").reindex(table["seed"]) for t in per_seed_sets)
        a, b = sa[metric].to_numpy(np.float64), sb[metric].to_numpy(np.float64)
        if f"{metric}_se" in sb.columns and settings.test in ("heldout", "both"):
            tests["heldout"] = _heldout_set_metric(
                a, sb, metric, higher, (name_a, name_b), table["seed"].to_numpy(), settings.level
            )
        if settings.test in ("permutation", "both"):
            summary["not_run"] = (
                f"permutation test not run: {metric} is one number per seed, with no per-image "
                "scores to permute; the held-out test stands for it"
            )
        table[f"{metric}@{name_a}"], table[f"{metric}@{name_b}"] = a, b
        loo = [c for c in sa.columns if c.startswith(f"{metric}_loo")]
        n_blocks = len(loo)
        cons = per_seed_consistency(
            a, b,
            sa[loo].to_numpy(np.float64) if loo else np.full((len(a), 0), np.nan),
            sb[loo].to_numpy(np.float64) if loo else np.full((len(b), 0), np.nan),
            higher_is_better=higher, k=k, reps=settings.reps, rng=rng, level=settings.level,
        )  # fmt: skip
        summary["interval"] = (
            f"{metric} intervals from a delete-one-of-{n_blocks}-prompt-blocks jackknife; "
            f"Spearman interval from {settings.reps} resamples of the seeds plus that jackknife"
        )
    elif metric not in grids:
        summary["interval"] = f"{metric} without an interval"
    if cons is not None:
        summary["consistency"] = cons.summary()
    summary["tests"] = tests
    summary["settings"] = asdict(settings)
    return RankResult(table, summary, cons, table["seed"].to_numpy())


def _heldout_set_metric(
    a: np.ndarray,
    b: pd.DataFrame,
    metric: str,
    higher: bool,
    names: tuple[str, str],
    seeds: np.ndarray,
    level: float = 0.95,
) -> dict[str, Any]:
    """Best and worst seed by a per-seed metric (FID) on set a; their gap on set b, z-tested."""
    from scipy import stats as sps

    key = np.where(np.isnan(a), np.inf, -a if higher else a)
    order = np.argsort(key, kind="stable")
    best, worst = int(order[0]), int(order[-1])
    sign = 1.0 if higher else -1.0
    vb, se = b[metric].to_numpy(), b[f"{metric}_se"].to_numpy()
    gap = float(sign * (vb[best] - vb[worst]))
    se_gap = float(np.hypot(se[best], se[worst]))
    z = float(sps.norm.ppf((1 + level) / 2))
    return {
        "best": int(seeds[best]),
        "worst": int(seeds[worst]),
        "gap_selection": float(sign * (a[best] - a[worst])),
        "gap_heldout": gap,
        "gap_heldout_lo": gap - z * se_gap,
        "gap_heldout_hi": gap + z * se_gap,
        "p_value": float(sps.norm.sf(gap / se_gap)) if se_gap > 0 else float("nan"),
        "test": (
            f"best and worst seed chosen by {metric} on {names[0]!r}, their gap on the held-out "
            f"{names[1]!r} prompts z-tested with jackknife SEs over prompt blocks (one-sided; "
            "treats the two seeds' SEs as independent)"
        ),
    }


def _seed_rows(table: pd.DataFrame, idx: np.ndarray, metric: str) -> list[dict[str, Any]]:
    cols = {"value": metric, "lo": f"{metric}_lo", "hi": f"{metric}_hi"}
    arrays = {k: table[c].to_numpy(np.float64) for k, c in cols.items() if c in table.columns}
    seeds = table["seed"].to_numpy()
    rows = []
    for i in idx:
        row: dict[str, Any] = {"seed": int(seeds[int(i)])}
        row.update({k: float(a[int(i)]) for k, a in arrays.items() if not np.isnan(a[int(i)])})
        rows.append(row)
    return rows
