"""Per-seed FID with a jackknife interval over prompt blocks, streaming (Quenouille 1956, Tukey 1958).

A bootstrap of per-seed FID would need one D x D eigen-decomposition per seed and resample; the
delete-one-block jackknife needs K + 1 per seed. Features stream in as (block, rows) pieces;
memory holds K blocks' sums and outer products (K x D x D), never the images of a seed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from scipy import stats as sps

from seedscope.analysis.stats import jackknife_se
from seedscope.errors import SeedscopeError
from seedscope.metrics.functional import sqrtm_psd

__all__ = [
    "FidAccumulator",
    "fid_from_moments",
    "fid_jackknife",
    "fid_kid_intervals",
    "fid_streamed",
    "kid_streamed",
    "prompt_blocks",
]


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
        fid, se, k, _ = self.jackknife(ref_mean, ref_trace, [[b] for b in range(len(self.n))])
        if k < 2:
            return fid, float("nan"), float("nan")
        half = float(sps.t.ppf((1 + level) / 2, k - 1)) * se
        return fid, fid - half, fid + half

    def jackknife(
        self, ref_mean: np.ndarray, ref_trace: float, groups: Sequence[Sequence[int]]
    ) -> tuple[float, float, int, np.ndarray]:
        """FID of the union of `groups` of blocks, its jackknife SE, groups used, and each
        leave-one-group-out FID (NaN for an empty group).

        Groups without images are skipped; FID is NaN with fewer than 2 images, SE with fewer
        than 2 non-empty groups.
        """
        idx = [np.asarray(g, np.int64) for g in groups]
        nonempty = np.array([self.n[g].sum() > 0 for g in idx], bool)
        used = [g for g, ok in zip(idx, nonempty, strict=True) if ok]
        loo_all = np.full(len(idx), np.nan)
        cells = np.concatenate(idx) if idx else np.zeros(0, np.int64)
        s1, sq = self.s1[cells].sum(0), float(self.sumsq[cells].sum())
        s2 = np.zeros_like(self.s2y[0])
        for c in cells:  # no (cells, D, D) copy
            s2 += self.s2y[c]
        n = float(self.n[cells].sum())
        args = (ref_mean, self.root, ref_trace)
        if n < 2:
            return float("nan"), float("nan"), 0, loo_all
        full = fid_from_moments(s1, sq, s2, n, *args)
        k = len(used)
        if k < 2:
            return full, float("nan"), k, loo_all
        loo = np.array(
            [
                fid_from_moments(
                    s1 - self.s1[g].sum(0),
                    sq - float(self.sumsq[g].sum()),
                    s2 - self.s2y[g].sum(0),
                    n - float(self.n[g].sum()),
                    *args,
                )
                for g in used
            ]
        )
        se = float(jackknife_se(loo))
        loo_all[nonempty] = loo
        return full, se, k, loo_all


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
    block_of_prompt: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-seed FID (and KID) with delete-one-prompt-block jackknife intervals, all seeds at once.

    Prompts are assigned to `blocks` blocks at random (seeded); each leave-one-block-out FID
    uses `fid_by_group` (an n x n eigen-problem per seed when a seed has fewer images than D).
    `block_of_prompt` (one block per sorted unique prompt id) fixes the blocks instead. All
    features in memory: the reference implementation of `fid_streamed`, which `rank` uses.
    """
    from seedscope.metrics.functional import fid_by_group, kid_by_group

    up, ip = np.unique(prompt_ids, return_inverse=True)
    if block_of_prompt is None:
        k = min(blocks, len(up))
        if k < 2:
            raise SeedscopeError("a jackknife over prompts needs at least 2 prompts.")
        block = (np.random.default_rng(rng_seed).permutation(len(up)) % k)[ip]
    else:
        found, block = np.unique(np.asarray(block_of_prompt)[ip], return_inverse=True)
        k = len(found)
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
        se = jackknife_se(loo)
        out[name], out[f"{name}_lo"], out[f"{name}_hi"] = full, full - t * se, full + t * se
        out[f"{name}_se"] = se
    return out


def prompt_blocks(
    prompt_ids: np.ndarray, in_a: np.ndarray | None, blocks: int, rng_seed: int = 0
) -> tuple[np.ndarray, int]:
    """Each prompt's jackknife cell and K: prompts of set a get cells 0..K-1, set b K..2K-1.

    Within each set the prompts are dealt at random (seeded) into min(K, its prompts) blocks;
    block j of all prompts is the union of cells j and K + j, so one pass gives the jackknife of
    the whole sweep and of each set.
    """
    if blocks < 2:
        raise SeedscopeError(f"--fid-blocks must be at least 2, not {blocks}.")
    a = np.ones(len(prompt_ids), bool) if in_a is None else np.asarray(in_a, bool)
    rng = np.random.default_rng(rng_seed)
    cell = np.empty(len(prompt_ids), np.int64)
    for offset, rows in ((0, np.flatnonzero(a)), (blocks, np.flatnonzero(~a))):
        k = min(blocks, len(rows))
        cell[rows] = offset + rng.permutation(len(rows)) % max(k, 1)
    return cell, blocks


def fid_streamed(
    read: Callable[[list[int]], Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]],
    seeds: np.ndarray,
    prompt_ids: np.ndarray,
    cells: np.ndarray,
    blocks: int,
    ref_mean: np.ndarray,
    ref_cov: np.ndarray,
    *,
    level: float = 0.95,
    memory_bytes: int = 2**30,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-seed FID with jackknife intervals on all prompts, set a and set b, in one pass.

    `read(group)` yields (prompt_ids, seeds, features) batches of the seeds in `group`; `cells`
    (from `prompt_blocks`) gives each of `prompt_ids` its cell. Seeds are read in groups whose
    accumulators (2K x D x D floats each) fit `memory_bytes`: memory grows with neither the
    images per seed nor the seeds. The sets' tables carry `fid_loo<j>`, the FID without block j.
    """
    root = sqrtm_psd(ref_cov)
    tr = float(np.trace(ref_cov))
    dim = root.shape[0]
    seeds = np.asarray(seeds)
    order = np.argsort(prompt_ids)
    pid_sorted, cell_sorted = np.asarray(prompt_ids)[order], np.asarray(cells)[order]
    per_seed = 2 * blocks * dim * dim * 8
    group = max(1, memory_bytes // per_seed)
    both = [[j, blocks + j] for j in range(blocks)]
    views = {
        "all": both,
        "a": [[j] for j in range(blocks)],
        "b": [[blocks + j] for j in range(blocks)],
    }
    out = {v: {k: np.full(len(seeds), np.nan) for k in ("fid", "fid_se", "fid_k")} for v in views}
    loo = {v: np.full((len(seeds), blocks), np.nan) for v in views}
    for g0 in range(0, len(seeds), group):
        chunk = seeds[g0 : g0 + group]
        accs = {int(s): FidAccumulator(root, 2 * blocks) for s in chunk}
        for pid, sd, x in read([int(s) for s in chunk]):
            pos = np.searchsorted(pid_sorted, pid)
            ok = (pos < len(pid_sorted)) & (pid_sorted[np.minimum(pos, len(pid_sorted) - 1)] == pid)
            if not ok.all():
                raise SeedscopeError("the features name a prompt the sweep's prompts do not.")
            key = sd.astype(np.int64) * (2 * blocks) + cell_sorted[pos]
            for u in np.unique(key):
                rows = key == u
                acc = accs.get(int(u // (2 * blocks)))
                if acc is not None:
                    acc.update(int(u % (2 * blocks)), x[rows])
        for i, s in enumerate(chunk, start=g0):
            for v, groups in views.items():
                fid, se, k, lo = accs[int(s)].jackknife(ref_mean, tr, groups)
                out[v]["fid"][i], out[v]["fid_se"][i], out[v]["fid_k"][i] = fid, se, k
                loo[v][i] = lo
    result = []
    for v in views:
        o = out[v]
        with np.errstate(invalid="ignore"):
            t = sps.t.ppf((1 + level) / 2, np.maximum(o["fid_k"], 2) - 1)
        half = np.where(o["fid_k"] >= 2, t * o["fid_se"], np.nan)
        cols = {
            "seed": seeds,
            "fid": o["fid"],
            "fid_lo": o["fid"] - half,
            "fid_hi": o["fid"] + half,
            "fid_se": o["fid_se"],
        }
        if v != "all":  # leave-out-block j FIDs, for the jackknife of rho between the sets
            cols.update({f"fid_loo{j}": loo[v][:, j] for j in range(blocks)})
        result.append(cols)
    return result[0], result[1], result[2]


def _kid_views(
    s_cells: np.ndarray, r_cells: np.ndarray, n_cells: np.ndarray, syy: float, blocks: int
) -> dict[str, tuple[float, float, int]]:
    """KID and its jackknife SE on all prompts, set a and set b from one seed's per-cell sums."""
    views = {
        "all": [[j, blocks + j] for j in range(blocks)],
        "a": [[j] for j in range(blocks)],
        "b": [[blocks + j] for j in range(blocks)],
    }

    def kid(cells: np.ndarray) -> float:
        m = n_cells[cells].sum()
        if m < 2:
            return float("nan")
        sxx = s_cells[np.ix_(cells, cells)].sum() / (m * (m - 1))
        return float(sxx + syy - 2.0 * r_cells[cells].sum() / m)

    out = {}
    for v, groups in views.items():
        present = [g for g in groups if n_cells[g].sum() > 0]
        every = np.array([c for g in present for c in g], np.int64)
        full = kid(every) if len(every) else float("nan")
        loo = np.array([kid(np.setdiff1d(every, g)) for g in present])
        k = len(present)
        se = float(jackknife_se(loo)) if k >= 2 else np.nan
        out[v] = (full, se, k)
    return out


def kid_streamed(
    read: Callable[[list[int]], Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]],
    seeds: np.ndarray,
    prompt_ids: np.ndarray,
    cells: np.ndarray,
    blocks: int,
    ref_features: np.ndarray,
    *,
    level: float = 0.95,
    memory_bytes: int = 2**30,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-seed KID (Binkowski et al. 2018) with delete-one-block jackknife t intervals.

    The same views and cells as `fid_streamed`. The unbiased MMD^2 needs every pair of a seed's
    images, so each group of seeds is held in memory while its kernel sums per pair of cells
    are taken (the group sized so that one image per prompt and seed fits `memory_bytes`).
    """
    from seedscope.metrics.functional import polynomial_kernel

    y = np.asarray(ref_features, np.float64)
    n = len(y)
    if n < 2:
        raise SeedscopeError("KID needs at least 2 reference images.")
    kyy = polynomial_kernel(y, y)
    syy = float((kyy.sum() - np.trace(kyy)) / (n * (n - 1)))
    seeds = np.asarray(seeds)
    order = np.argsort(prompt_ids)
    pid_sorted, cell_sorted = np.asarray(prompt_ids)[order], np.asarray(cells)[order]
    n_cells = 2 * blocks
    group = max(1, memory_bytes // max(1, len(pid_sorted) * y.shape[1] * 8))
    names = ("kid", "kid_se", "kid_k")
    out = {v: {c: np.full(len(seeds), np.nan) for c in names} for v in ("all", "a", "b")}
    for g0 in range(0, len(seeds), group):
        chunk = [int(s) for s in seeds[g0 : g0 + group]]
        parts = list(read(chunk))
        if not parts:
            continue
        pid = np.concatenate([p[0] for p in parts])
        sd = np.concatenate([p[1] for p in parts])
        x = np.concatenate([p[2] for p in parts]).astype(np.float64)
        pos = np.searchsorted(pid_sorted, pid)
        cell = cell_sorted[np.minimum(pos, len(pid_sorted) - 1)]
        for i, s in enumerate(chunk, start=g0):
            rows = sd == s
            if rows.sum() < 2:
                continue
            xi, ci = x[rows], cell[rows]
            kxx = polynomial_kernel(xi, xi)
            np.fill_diagonal(kxx, 0.0)
            onehot = np.zeros((len(xi), n_cells))
            onehot[np.arange(len(xi)), ci] = 1.0
            s_cells = onehot.T @ kxx @ onehot
            r_cells = onehot.T @ polynomial_kernel(xi, y).mean(1)
            for v, (kid, se, k) in _kid_views(s_cells, r_cells, onehot.sum(0), syy, blocks).items():
                out[v]["kid"][i], out[v]["kid_se"][i], out[v]["kid_k"][i] = kid, se, k
    result = []
    for v in ("all", "a", "b"):
        o = out[v]
        with np.errstate(invalid="ignore"):
            t = sps.t.ppf((1 + level) / 2, np.maximum(o["kid_k"], 2) - 1)
        half = np.where(o["kid_k"] >= 2, t * o["kid_se"], np.nan)
        result.append(
            {
                "seed": seeds,
                "kid": o["kid"],
                "kid_lo": o["kid"] - half,
                "kid_hi": o["kid"] + half,
                "kid_se": o["kid_se"],
            }
        )
    return result[0], result[1], result[2]
