"""Does a seed ranking repeat on a second, disjoint prompt set? (the study's Fig. 6/7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from seedscope.analysis import stats as st
from seedscope.errors import SeedscopeError

__all__ = ["Consistency", "consistency", "per_seed_consistency", "split_prompts"]


@dataclass(frozen=True)
class Consistency:
    """Per-seed means on both prompt sets, Spearman's rho with its interval, top/bottom-k overlap."""

    mean_a: np.ndarray
    mean_b: np.ndarray
    rho: float
    rho_lo: float
    rho_hi: float
    rho_p: float
    top: dict[str, float]
    bottom: dict[str, float]

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers (no per-seed arrays)."""
        return {
            "spearman_rho": self.rho,
            "spearman_lo": self.rho_lo,
            "spearman_hi": self.rho_hi,
            "spearman_p": self.rho_p,
            "top_k": self.top,
            "bottom_k": self.bottom,
        }


def split_prompts(
    prompt_ids: np.ndarray, sets: np.ndarray | None, *, fraction: float | None, seed: int
) -> tuple[np.ndarray, str, str, str]:
    """A boolean mask of the first of two disjoint prompt sets, the two names, and how they were made.

    With `fraction` the prompts are split at random (seeded); otherwise the prompts' `set` column
    must hold exactly two names (sorted: the first selects, the second tests).
    """
    ids = np.asarray(prompt_ids)
    if fraction is None and sets is not None:
        names = sorted({str(s) for s in sets if s is not None and str(s) != ""})
        if len(names) == 2:
            mask = np.array([str(s) == names[0] for s in sets])
            return mask, names[0], names[1], f"prompt sets {names[0]!r} and {names[1]!r}"
        if len(names) > 2:
            raise SeedscopeError(
                f"the prompts have {len(names)} sets ({', '.join(names[:5])}); "
                "give --split 0.5 for a random split into two."
            )
    frac = 0.5 if fraction is None else fraction
    if not 0.0 < frac < 1.0:
        raise SeedscopeError(f"--split must be between 0 and 1, not {frac}.")
    if len(ids) < 4:
        raise SeedscopeError("two prompt sets need at least 4 prompts; sweep more prompts.")
    rng = np.random.default_rng(seed)
    n_a = min(len(ids) - 2, max(2, round(frac * len(ids))))
    chosen = rng.permutation(len(ids))[:n_a]
    mask = np.zeros(len(ids), bool)
    mask[chosen] = True
    how = f"random split of the prompts ({n_a} / {len(ids) - n_a}, seed {seed})"
    return mask, "split_a", "split_b", how


def consistency(
    values_a: np.ndarray,
    values_b: np.ndarray,
    *,
    higher_is_better: bool,
    k: int,
    reps: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> Consistency:
    """Spearman's rho of per-seed means on two prompt sets; interval from a two-way bootstrap.

    rho is a correlation across seeds, so the seeds are a sample too: each replicate draws the
    seeds with replacement (pairs of per-set means) and, independently, the prompts of each set
    (the pigeonhole bootstrap of a crossed design, Owen 2007, which errs on the wide side).
    """
    ma, mb = st.seed_means(values_a), st.seed_means(values_b)
    ok = ~(np.isnan(ma) | np.isnan(mb))
    if ok.sum() < 3:
        raise SeedscopeError("consistency needs at least 3 seeds scored on both prompt sets.")
    n_ok = int(ok.sum())
    pick = rng.integers(0, n_ok, size=(reps, n_ok))
    ba = st.bootstrap_seed_means(np.asarray(values_a)[:, ok], reps, rng)
    bb = st.bootstrap_seed_means(np.asarray(values_b)[:, ok], reps, rng)
    rows = np.arange(reps)[:, None]
    rhos = st.spearman_rows(ba[rows, pick], bb[rows, pick])  # NaN where one seed was drawn
    rho = st.spearman(ma[ok], mb[ok])
    # Resampled means are noisier than the observed ones, so the replicates of rho sit below it:
    # a normal interval on Fisher's z scale uses only their spread, centred on the estimate.
    lo, hi = st.fisher_z_interval(rho, rhos, level)
    constant = np.ptp(ma[ok]) == 0 or np.ptp(mb[ok]) == 0  # e.g. a flag no seed draws
    p = float("nan") if constant else float(sps.spearmanr(ma[ok], mb[ok]).pvalue)
    kk = min(k, int(ok.sum()))
    top = st.overlap_test(ma[ok], mb[ok], kk, higher_is_better=higher_is_better)
    bottom = st.overlap_test(ma[ok], mb[ok], kk, higher_is_better=higher_is_better, top=False)
    return Consistency(ma, mb, rho, float(lo), float(hi), p, top, bottom)


def per_seed_consistency(
    a: np.ndarray,
    b: np.ndarray,
    loo_a: np.ndarray,
    loo_b: np.ndarray,
    *,
    higher_is_better: bool,
    k: int,
    reps: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> Consistency:
    """Consistency of a metric with one value per seed and set (FID), from jackknife pieces.

    `loo_a[:, j]` / `loo_b[:, j]` are the values without prompt block j. The interval is normal
    on the rho scale (clipped to [-1, 1]) with two variances added, as the two-way bootstrap of
    `consistency` does: seeds resampled (robust spread of the replicates) plus the delete-one-
    block jackknife of rho over prompt blocks (Quenouille 1956). Not on Fisher's z: with few
    prompts per block a leave-one-block-out rho can be exactly 1, an unbounded z.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = ~(np.isnan(a) | np.isnan(b))
    n = int(ok.sum())
    if n < 3:
        raise SeedscopeError("consistency needs at least 3 seeds scored on both prompt sets.")
    xa, xb = a[ok], b[ok]
    rho = st.spearman(xa, xb)
    pick = rng.integers(0, n, size=(reps, n))
    boot = st.spearman_rows(xa[pick], xb[pick])
    boot = boot[~np.isnan(boot)]
    q75, q25 = np.percentile(boot, [75, 25]) if len(boot) > 1 else (np.nan, np.nan)
    var_seed = (float(q75 - q25) / (2 * sps.norm.ppf(0.75))) ** 2
    la, lb = np.asarray(loo_a, np.float64)[ok], np.asarray(loo_b, np.float64)[ok]
    blocks = [j for j in range(la.shape[1]) if not (np.isnan(la[:, j]) | np.isnan(lb[:, j])).any()]
    var_prompt = 0.0
    if len(blocks) >= 2:
        rj = st.spearman_rows(la[:, blocks].T, lb[:, blocks].T)
        m = len(blocks)
        var_prompt = float((m - 1) / m * np.nansum((rj - np.nanmean(rj)) ** 2))
    half = float(sps.norm.ppf((1 + level) / 2)) * np.sqrt(var_seed + var_prompt)
    lo, hi = max(-1.0, rho - half), min(1.0, rho + half)
    constant = np.ptp(xa) == 0 or np.ptp(xb) == 0
    p = float("nan") if constant else float(sps.spearmanr(xa, xb).pvalue)
    kk = min(k, n)
    top = st.overlap_test(xa, xb, kk, higher_is_better=higher_is_better)
    bottom = st.overlap_test(xa, xb, kk, higher_is_better=higher_is_better, top=False)
    return Consistency(a, b, rho, lo, hi, p, top, bottom)
