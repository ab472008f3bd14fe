"""Per-seed FID with a jackknife interval over prompt blocks, streaming (Quenouille 1956, Tukey 1958).

A bootstrap of per-seed FID would need one D x D eigen-decomposition per seed and resample; the
delete-one-block jackknife needs K + 1 per seed. Features stream in as (block, rows) pieces;
memory holds K blocks' sums and outer products (K x D x D), never the images of a seed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
from scipy import stats as sps

from seedscope.errors import SeedscopeError
from seedscope.metrics.functional import sqrtm_psd

__all__ = ["FidAccumulator", "fid_from_moments", "fid_jackknife"]


def fid_from_moments(
    s1: np.ndarray, sumsq: float, s2y: np.ndarray, n: float, ref_mean: np.ndarray,
    ref_root: np.ndarray, ref_trace: float,
) -> float:  # fmt: skip
    """FID (Heusel et al. 2017) from streamed moments of features x and of y = x R (R = sqrt S_r).

    s1 = sum x, sumsq = sum |x|^2, s2y = sum y y^T: tr S = (sumsq - n |mu|^2) / (n - 1) and
    R S R = (s2y - n (mu R)(mu R)^T) / (n - 1), so each FID costs one eigen-decomposition.
    """
    mu = s1 / n
    mu_y = mu @ ref_root
    tr = (sumsq - n * float(mu @ mu)) / (n - 1)
    m = (s2y - n * np.outer(mu_y, mu_y)) / (n - 1)
    eig = np.linalg.eigvalsh(0.5 * (m + m.T))
    diff = mu - ref_mean
    return float(diff @ diff + tr + ref_trace - 2.0 * np.sqrt(np.clip(eig, 0, None)).sum())


class FidAccumulator:
    """Streaming moments per prompt block for one group (seed); FID and its jackknife interval."""

    def __init__(self, ref_root: np.ndarray, blocks: int) -> None:
        if blocks < 2:
            raise SeedscopeError(f"a jackknife needs at least 2 prompt blocks, not {blocks}.")
        dim = ref_root.shape[0]
        self.root = ref_root
        self.s1 = np.zeros((blocks, dim))
        self.sumsq = np.zeros(blocks)
        self.s2y = np.zeros((blocks, dim, dim))
        self.n = np.zeros(blocks)

    def update(self, block: int, x: np.ndarray) -> None:
        """Add rows of features that belong to prompt block `block`."""
        x = np.asarray(x, np.float64)
        y = x @ self.root
        self.s1[block] += x.sum(0)
        self.sumsq[block] += float((x * x).sum())
        self.s2y[block] += y.T @ y
        self.n[block] += len(x)

    def compute(
        self, ref_mean: np.ndarray, ref_trace: float, level: float = 0.95
    ) -> tuple[float, float, float]:
        """(FID, lower, upper): delete-one-block jackknife SE with a t interval on K - 1 df."""
        s1, sq, s2, n = self.s1.sum(0), self.sumsq.sum(), self.s2y.sum(0), self.n.sum()
        args = (ref_mean, self.root, ref_trace)
        full = fid_from_moments(s1, sq, s2, n, *args)
        used = np.flatnonzero(self.n > 0)
        k = len(used)
        if k < 2:
            return full, float("nan"), float("nan")
        loo = np.array(
            [
                fid_from_moments(
                    s1 - self.s1[b], sq - self.sumsq[b], s2 - self.s2y[b], n - self.n[b], *args
                )
                for b in used
            ]
        )
        se = float(np.sqrt((k - 1) / k * ((loo - loo.mean()) ** 2).sum()))
        half = float(sps.t.ppf((1 + level) / 2, k - 1)) * se
        return full, full - half, full + half


def fid_jackknife(
    pieces: Iterable[tuple[int, int, np.ndarray]],
    ref_mean: np.ndarray,
    ref_cov: np.ndarray,
    *,
    blocks: int,
    level: float = 0.95,
) -> dict[int, tuple[float, float, float]]:
    """FID per seed with its jackknife interval from streamed (seed, block, rows) pieces.

    Pieces of one seed arrive together; one accumulator (K x D x D floats) lives at a time, so
    memory does not grow with the number of images per seed.
    """
    root = sqrtm_psd(ref_cov)
    tr = float(np.trace(ref_cov))
    out: dict[int, tuple[float, float, float]] = {}
    current: int | None = None
    acc: FidAccumulator | None = None
    for seed, block, x in pieces:
        if seed != current:
            if acc is not None and current is not None:
                out[current] = acc.compute(ref_mean, tr, level)
            if seed in out:
                raise SeedscopeError("fid_jackknife needs the pieces of each seed together.")
            current, acc = seed, FidAccumulator(root, blocks)
        assert acc is not None
        acc.update(block, x)
    if acc is not None and current is not None:
        out[current] = acc.compute(ref_mean, tr, level)
    return out


def fid_kid_intervals(
    prompt_ids: np.ndarray,
    seeds: np.ndarray,
    feats: np.ndarray,
    ref_mean: np.ndarray,
    ref_cov: np.ndarray,
    ref_features: np.ndarray | None,
    *,
    blocks: int = 10,
    level: float = 0.95,
    rng_seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per-seed FID (and KID) with delete-one-prompt-block jackknife intervals, all seeds at once.

    Prompts are assigned to `blocks` blocks at random (seeded); each leave-one-block-out FID
    uses `fid_by_group` (an n x n eigen-problem per seed when a seed has fewer images than D).
    """
    from seedscope.metrics.functional import fid_by_group, kid_by_group

    up, ip = np.unique(prompt_ids, return_inverse=True)
    k = min(blocks, len(up))
    if k < 2:
        raise SeedscopeError("a jackknife over prompts needs at least 2 prompts.")
    rng = np.random.default_rng(rng_seed)
    block = (rng.permutation(len(up)) % k)[ip]
    labels = np.unique(seeds)
    t = float(sps.t.ppf((1 + level) / 2, k - 1))
    out: dict[str, np.ndarray] = {"seed": labels}

    def per_seed(fn: object, rows: np.ndarray) -> np.ndarray:
        vals = fn(feats[rows], seeds[rows])  # type: ignore[operator]
        return np.array([vals.get(int(s), np.nan) for s in labels])

    metrics = {"fid": lambda x, g: fid_by_group(x, g, ref_mean, ref_cov)}
    if ref_features is not None:
        metrics["kid"] = lambda x, g: kid_by_group(x, g, ref_features)
    everything = np.ones(len(seeds), bool)
    quiet = logging.getLogger("seedscope.metrics.functional")
    for name, fn in metrics.items():
        full = per_seed(fn, everything)
        level_was = quiet.level
        quiet.setLevel(logging.ERROR)  # the few-images warning was given for the full set
        try:
            loo = np.stack([per_seed(fn, block != b) for b in range(k)])
        finally:
            quiet.setLevel(level_was)
        se = np.sqrt((k - 1) / k * ((loo - loo.mean(0)) ** 2).sum(0))
        out[name], out[f"{name}_lo"], out[f"{name}_hi"] = full, full - t * se, full + t * se
        out[f"{name}_se"] = se
    return out
