"""Statistics over a prompts x seeds grid: bootstrap over prompts, rank agreement, selection tests.

Every function takes a (P, S) array ``values[p, s]`` (NaN where image (p, s) has no score) and
resamples PROMPTS, the unit that varies (Efron & Tibshirani 1993, the percentile bootstrap).
The bootstrap is vectorised as multinomial count matrices (B, P) multiplied by the grid.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

__all__ = [
    "Grid",
    "bootstrap_counts",
    "bootstrap_seed_means",
    "factorize",
    "fisher_z_interval",
    "grid_index",
    "heldout_gap_test",
    "normal_interval",
    "overlap_test",
    "percentile_ci",
    "permutation_gap_test",
    "rank_rows",
    "seed_means",
    "spearman",
    "spearman_rows",
    "to_grid",
    "variance_decomposition",
    "variance_decomposition_bootstrap",
]


@dataclass(frozen=True)
class Grid:
    """A score as a (P, S) array over sorted prompt ids and seeds; NaN where no image was scored."""

    prompt_ids: np.ndarray
    seeds: np.ndarray
    values: np.ndarray

    def complete(self) -> bool:
        """Whether every (prompt, seed) cell has a value."""
        return not bool(np.isnan(self.values).any())

    def subset(self, prompt_mask: np.ndarray) -> Grid:
        """The rows of the prompts where `prompt_mask` is true."""
        return Grid(self.prompt_ids[prompt_mask], self.seeds, self.values[prompt_mask])


def jackknife_se(loo: np.ndarray) -> np.ndarray:
    """Delete-one-group jackknife standard error (Quenouille 1956) over axis 0 of `loo`."""
    k = loo.shape[0]
    return np.sqrt((k - 1) / k * ((loo - loo.mean(0)) ** 2).sum(0))


def factorize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique values and each element's index into them (hash-based: fast on 10 M rows)."""
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(x), sort=True)
    return np.asarray(uniques), np.asarray(codes, np.int64)


def grid_index(
    prompt_ids: np.ndarray, seeds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted prompt ids, sorted seeds and each row's flat cell index; duplicate keys are refused."""
    up, ip = factorize(prompt_ids)
    us, is_ = factorize(seeds)
    flat = ip * len(us) + is_
    if len(flat) and np.bincount(flat, minlength=len(up) * len(us)).max() > 1:
        raise SeedscopeError("the score table has more than one row for a (prompt_id, seed) pair.")
    return up, us, flat


def to_grid(prompt_ids: np.ndarray, seeds: np.ndarray, values: np.ndarray) -> Grid:
    """Pivot long (prompt_id, seed, value) columns into a Grid; duplicate keys are refused."""
    v = np.asarray(values, dtype=np.float64)
    if not (len(prompt_ids) == len(seeds) == len(v)):
        raise SeedscopeError("prompt_id, seed and value columns must have the same length.")
    up, us, flat = grid_index(prompt_ids, seeds)
    out = np.full(len(up) * len(us), np.nan)
    out[flat] = v
    return Grid(up, us, out.reshape(len(up), len(us)))


def seed_means(values: np.ndarray) -> np.ndarray:
    """Per-seed mean over prompts (NaN cells skipped); NaN for a seed with no values."""
    v = np.asarray(values, np.float64)
    ok = ~np.isnan(v)
    n = ok.sum(0)
    s = np.where(ok, v, 0.0).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def bootstrap_counts(n: int, reps: int, rng: np.random.Generator) -> np.ndarray:
    """(reps, n) multinomial counts: how often each of n prompts is drawn in each resample."""
    idx = rng.integers(0, n, size=(reps, n))
    idx += (np.arange(reps) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=reps * n).reshape(reps, n)


def _count_chunks(
    n: int, reps: int, rng: np.random.Generator, chunk: int | None
) -> Iterator[tuple[slice, np.ndarray]]:
    # Large chunks: BLAS repacks the (P, S) operand on every call, so few calls are fastest.
    chunk = chunk or max(16, min(reps, 2**26 // (4 * max(n, 1))))
    for r0 in range(0, reps, chunk):
        r1 = min(reps, r0 + chunk)
        yield slice(r0, r1), bootstrap_counts(n, r1 - r0, rng).astype(np.float32)


def bootstrap_seed_means(
    values: np.ndarray, reps: int, rng: np.random.Generator, *, chunk: int | None = None
) -> np.ndarray:
    """(reps, S) per-seed means, each over a bootstrap resample of the prompts (float32 matmuls)."""
    v = np.asarray(values)
    n_p, n_s = v.shape
    if n_p < 2:
        raise SeedscopeError("a bootstrap over prompts needs at least 2 prompts.")
    ok = ~np.isnan(v)
    full = bool(ok.all())
    v0 = np.where(ok, v, 0.0).astype(np.float32)
    # Centre per seed so float32 sums lose no precision on large offsets (e.g. FID ~ 100).
    centre = np.nan_to_num(seed_means(v)).astype(np.float32)
    v0 = np.where(ok, v0 - centre, 0.0).astype(np.float32)
    mask = ok.astype(np.float32)
    out = np.empty((reps, n_s), np.float32)
    for sl, w in _count_chunks(n_p, reps, rng, chunk):
        num = w @ v0
        den = np.full_like(num, float(n_p)) if full else w @ mask
        with np.errstate(invalid="ignore", divide="ignore"):
            out[sl] = np.where(den > 0, num / np.maximum(den, 1e-30), np.nan) + centre
    return out


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval (Efron 1979) of bootstrap replicates along axis 0, NaNs ignored."""
    a = (1.0 - level) / 2.0
    x = np.asarray(samples)
    q = [100 * a, 100 * (1 - a)]
    holes = np.isnan(x).any(0) if x.ndim > 1 else np.array(np.isnan(x).any())
    lo, hi = np.percentile(x, q, axis=0).astype(np.float64)  # vectorised where complete
    if x.ndim > 1 and holes.any():
        lo[holes], hi[holes] = np.nanpercentile(x[:, holes], q, axis=0)
    elif x.ndim == 1 and holes:
        lo, hi = np.nanpercentile(x, q)
    return lo, hi


def normal_interval(
    estimate: float,
    replicates: np.ndarray,
    level: float = 0.95,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> tuple[float, float]:
    """Estimate +- z * bootstrap SE, clipped to `bounds` (for shares whose replicates are biased)."""
    r = np.asarray(replicates, np.float64)
    half = float(sps.norm.ppf((1 + level) / 2) * np.nanstd(r, ddof=1))
    return max(bounds[0], estimate - half), min(bounds[1], estimate + half)


def fisher_z_interval(
    estimate: float, replicates: np.ndarray, level: float = 0.95
) -> tuple[float, float]:
    """Normal bootstrap interval of a correlation on Fisher's z scale, centred on the estimate.

    Used where resampled replicates are biased (a resampled mean is noisier than the observed
    one, so rho between resampled means sits below the observed rho): only their spread is used,
    measured robustly (interquartile range / 1.349, the SD of a normal) because a replicate that
    drew few distinct seeds can have rho = +-1, i.e. an unbounded z.
    """
    r = np.asarray(replicates, np.float64)
    r = r[~np.isnan(r)]
    if len(r) < 2 or np.isnan(estimate):
        return float("nan"), float("nan")
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    q75, q25 = np.percentile(z, [75, 25])
    spread = float(q75 - q25) / (2 * sps.norm.ppf(0.75))
    half = float(sps.norm.ppf((1 + level) / 2)) * spread
    centre = float(np.arctanh(np.clip(estimate, -0.999999, 0.999999)))
    return float(np.tanh(centre - half)), float(np.tanh(centre + half))


def rank_rows(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank) along the last axis."""
    return np.asarray(sps.rankdata(x, axis=-1), np.float64)


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rho between rows of a and b (Pearson on average ranks), vectorised over rows."""
    ra = rank_rows(np.atleast_2d(a))
    rb = rank_rows(np.atleast_2d(b))
    ra -= ra.mean(-1, keepdims=True)
    rb -= rb.mean(-1, keepdims=True)
    den = np.sqrt((ra * ra).sum(-1) * (rb * rb).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((ra * rb).sum(-1) / den)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two vectors (Spearman 1904)."""
    return float(spearman_rows(np.asarray(a)[None], np.asarray(b)[None])[0])


def _order(x: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Indices from best to worst; NaN last."""
    key = -x if higher_is_better else x
    return np.argsort(np.where(np.isnan(key), np.inf, key), kind="stable")


def overlap_test(
    a: np.ndarray, b: np.ndarray, k: int, *, higher_is_better: bool = True, top: bool = True
) -> dict[str, float]:
    """Overlap of the top-k (or bottom-k) of two rankings against chance: hypergeometric p-value."""
    n = len(a)
    if not 0 < k <= n:
        raise SeedscopeError(f"k must be between 1 and the number of seeds ({n}), not {k}.")
    oa, ob = _order(a, higher_is_better), _order(b, higher_is_better)
    if not top:
        oa, ob = oa[::-1], ob[::-1]
    hit = len(set(oa[:k].tolist()) & set(ob[:k].tolist()))
    # Under independence the overlap is hypergeometric: k draws from n seeds, k of them marked.
    return {
        "k": float(k),
        "overlap": float(hit),
        "expected": k * k / n,
        "p_value": float(sps.hypergeom.sf(hit - 1, n, k, k)),
    }


def heldout_gap_test(
    select: np.ndarray,
    test: np.ndarray,
    *,
    higher_is_better: bool,
    reps: int = 9999,
    rng: np.random.Generator,
) -> dict[str, float]:
    """Pick the best and worst seed on one prompt set, test their gap on the other (held out).

    The p-value is a one-sided paired sign-flip permutation test over the held-out prompts
    (under the null the two seeds are exchangeable within a prompt); the interval is a
    percentile bootstrap over held-out prompts.
    """
    ms = seed_means(select)
    order = _order(ms, higher_is_better)
    best, worst = int(order[0]), int(order[-1])
    sign = 1.0 if higher_is_better else -1.0
    d = sign * (np.asarray(test)[:, best] - np.asarray(test)[:, worst])
    d = d[~np.isnan(d)]
    if len(d) < 2:
        raise SeedscopeError("the held-out prompt set has fewer than 2 prompts scored for both.")
    gap = float(d.mean())
    hits = 0
    d32 = d.astype(np.float32)
    step = max(1, 2**24 // len(d))
    for r0 in range(0, reps, step):
        flips = rng.integers(0, 2, size=(min(step, reps - r0), len(d)), dtype=np.int8)
        null = ((2 * flips - 1).astype(np.float32) @ d32) / len(d)
        hits += int((null >= gap - 1e-6 * max(1.0, abs(gap))).sum())
    p = (1.0 + hits) / (reps + 1.0)
    boot = bootstrap_seed_means(d[:, None], min(reps, 2000), rng)[:, 0]
    lo, hi = percentile_ci(boot)
    return {
        "best": float(best),
        "worst": float(worst),
        "gap_selection": float(sign * (ms[best] - ms[worst])),
        "gap_heldout": gap,
        "gap_heldout_lo": float(lo),
        "gap_heldout_hi": float(hi),
        "p_value": p,
        "n_heldout_prompts": float(len(d)),
    }


def permutation_gap_test(
    values: np.ndarray, *, reps: int = 999, rng: np.random.Generator, chunk_cells: int = 2**24
) -> dict[str, float]:
    """Max-min gap of per-seed means against permutations of seed labels within each prompt.

    Under the null that seeds do not matter, the scores of one prompt are exchangeable across
    seeds; the p-value counts permuted tables whose gap reaches the observed one.
    """
    v = np.asarray(values, np.float64)
    ms = seed_means(v)
    gap = float(np.nanmax(ms) - np.nanmin(ms))
    per = max(1, chunk_cells // v.size)
    hits = 0
    done = 0
    while done < reps:
        b = min(per, reps - done)
        stack = np.broadcast_to(v, (b, *v.shape))
        perm = rng.permuted(stack, axis=2)
        ok = ~np.isnan(perm)
        with np.errstate(invalid="ignore", divide="ignore"):
            m = np.where(ok, perm, 0.0).sum(1) / ok.sum(1)
        g = np.nanmax(m, axis=1) - np.nanmin(m, axis=1)
        hits += int((g >= gap - 1e-12 * max(1.0, abs(gap))).sum())
        done += b
    return {"gap": gap, "p_value": (1.0 + hits) / (reps + 1.0), "permutations": float(reps)}


def variance_decomposition(values: np.ndarray) -> dict[str, float]:
    """Two-way ANOVA without replication (Fisher 1925) over a complete prompts x seeds grid.

    Returns each factor's share of the total sum of squares (eta squared) and the share of the
    random-effects variance components (sigma^2 from expected mean squares, clipped at 0),
    which is near 0 under no effect; the residual holds the prompt x seed interaction.
    """
    v = np.asarray(values, np.float64)
    if np.isnan(v).any():
        raise SeedscopeError("the variance decomposition needs a complete prompts x seeds grid.")
    n_p, n_s = v.shape
    if n_p < 2 or n_s < 2:
        raise SeedscopeError("the variance decomposition needs at least 2 prompts and 2 seeds.")
    g = v.mean()
    ss_total = float(((v - g) ** 2).sum())
    ss_seed = float(n_p * ((v.mean(0) - g) ** 2).sum())
    ss_prompt = float(n_s * ((v.mean(1) - g) ** 2).sum())
    return {k: float(x) for k, x in _shares(ss_total, ss_seed, ss_prompt, n_p, n_s).items()}


def _shares(
    ss_total: np.ndarray | float,
    ss_seed: np.ndarray | float,
    ss_prompt: np.ndarray | float,
    n_p: int,
    n_s: int,
) -> dict[str, np.ndarray]:
    ss_res = np.maximum(np.asarray(ss_total) - ss_seed - ss_prompt, 0.0)
    ms_seed = np.asarray(ss_seed) / (n_s - 1)
    ms_prompt = np.asarray(ss_prompt) / (n_p - 1)
    ms_res = ss_res / ((n_p - 1) * (n_s - 1))
    var_seed = np.maximum((ms_seed - ms_res) / n_p, 0.0)
    var_prompt = np.maximum((ms_prompt - ms_res) / n_s, 0.0)
    var_total = var_seed + var_prompt + ms_res
    with np.errstate(invalid="ignore", divide="ignore"):
        tot = np.asarray(ss_total)
        return {
            "ss_seed": ss_seed / tot,
            "ss_prompt": ss_prompt / tot,
            "ss_residual": ss_res / tot,
            "var_seed": var_seed / var_total,
            "var_prompt": var_prompt / var_total,
            "var_residual": ms_res / var_total,
        }


def variance_decomposition_bootstrap(
    values: np.ndarray, reps: int, rng: np.random.Generator, *, chunk: int | None = None
) -> dict[str, np.ndarray]:
    """`variance_decomposition` on `reps` bootstrap resamples of the prompts, vectorised.

    A resample with counts w_p is the grid with prompt p repeated w_p times; all sums of
    squares follow from w @ (row sums, row sums of squares, the grid itself).
    """
    v = np.asarray(values, np.float64)
    if np.isnan(v).any():
        raise SeedscopeError("the variance decomposition needs a complete prompts x seeds grid.")
    n_p, n_s = v.shape
    row_mean = v.mean(1)
    row_sq = (v * v).sum(1)
    c = v - v.mean()  # centring keeps float sums accurate
    row_mean_c = c.mean(1)
    row_sq_c = (c * c).sum(1)
    del row_mean, row_sq
    keys = ("ss_seed", "ss_prompt", "ss_residual", "var_seed", "var_prompt", "var_residual")
    out = {k: np.empty(reps) for k in keys}
    c32 = c.astype(np.float32)
    for sl, w32 in _count_chunks(n_p, reps, rng, chunk):
        w = w32.astype(np.float64)
        g = (w @ row_mean_c) / n_p  # grand mean of the resample
        seed_m = (w32 @ c32).astype(np.float64) / n_p  # (b, S)
        ss_total = w @ row_sq_c - n_p * n_s * g * g
        ss_seed = n_p * ((seed_m - g[:, None]) ** 2).sum(1)
        ss_prompt = n_s * (w * (row_mean_c[None, :] - g[:, None]) ** 2).sum(1)
        sh = _shares(ss_total, ss_seed, ss_prompt, n_p, n_s)
        for k in keys:
            out[k][sl] = sh[k]
    return out
