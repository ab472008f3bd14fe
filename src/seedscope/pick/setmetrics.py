"""FID and KID of a seed pool against random seeds on held-out prompts (Table 1's main metric).

FID and KID are set metrics: one value for a set of images, not a mean over images. The pool's
arm is every held-out image of the pool's seeds; each random arm draws, for every prompt, as many
of the baseline seeds as the pool has there (so both arms hold the same number of images, which
FID's bias depends on), and the random value is the mean over `draws` such arms. Intervals and
the test are a delete-one-block jackknife over prompt blocks (Quenouille 1956, Tukey 1958), the
pool and random values of each left-out block paired, with a t interval on K - 1 df.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from seedscope.analysis.stats import jackknife_se
from seedscope.errors import SeedscopeError
from seedscope.metrics.functional import polynomial_kernel, sqrtm_psd


class SetMetric:
    """FID or KID of any subset of fixed rows of features, with the reference factored once."""

    def __init__(self, name: str, x: np.ndarray, ref: Any, chunk: int = 1024) -> None:
        if name not in ("fid", "kid"):
            raise SeedscopeError(f"{name!r} is not a set metric (fid or kid).")
        self.name = name
        self.x = np.asarray(x, np.float64)
        if name == "fid":
            root = sqrtm_psd(np.asarray(ref.cov, np.float64))
            self.mu_r = np.asarray(ref.mean, np.float64)
            self.tr_r = float(np.trace(ref.cov))
            self.y = self.x @ root
        else:
            if ref.features is None:
                raise SeedscopeError("the reference has no features for KID.")
            y = np.asarray(ref.features, np.float64)
            n = len(y)
            if n < 2:
                raise SeedscopeError("KID needs at least 2 reference images.")
            syy = 0.0
            for i in range(0, n, chunk):
                k = polynomial_kernel(y[i : i + chunk], y)
                syy += float(k.sum() - np.trace(k[:, i : i + chunk]))
            self.syy = syy / (n * (n - 1))
            self.kxy = np.concatenate(
                [
                    polynomial_kernel(self.x[i : i + chunk], y).mean(1)
                    for i in range(0, len(x), chunk)
                ]
            )

    def __call__(self, rows: np.ndarray) -> float:
        """The metric of the images at integer positions `rows`."""
        n = len(rows)
        if n < 2:
            return float("nan")
        x = self.x[rows]
        if self.name == "kid":
            kxx = polynomial_kernel(x, x)
            sxx = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
            return float(sxx + self.syy - 2.0 * self.kxy[rows].mean())
        mu = x.mean(0)
        tr_g = float(((x - mu) ** 2).sum()) / (n - 1)
        yc = self.y[rows] - self.y[rows].mean(0)
        m = yc @ yc.T if n < yc.shape[1] else yc.T @ yc  # the same non-zero eigenvalues
        eig = np.linalg.eigvalsh(0.5 * (m + m.T) / (n - 1))
        diff = mu - self.mu_r
        return float(diff @ diff + tr_g + self.tr_r - 2.0 * np.sqrt(np.clip(eig, 0, None)).sum())


def random_arms(
    prompt_ids: np.ndarray,
    seeds: np.ndarray,
    pool: Sequence[int],
    baseline: Sequence[int],
    draws: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Row positions of `draws` random arms: per prompt, as many baseline seeds as pool seeds."""
    df = pd.DataFrame({"pid": prompt_ids, "seed": seeds, "row": np.arange(len(seeds))})
    want = df[df["seed"].isin(pool)].groupby("pid").size()
    base = df[df["seed"].isin(baseline) & df["pid"].isin(want.index)]
    arms = []
    for _ in range(draws):
        order = base.assign(key=rng.random(len(base))).sort_values(["pid", "key"])
        rank = order.groupby("pid").cumcount().to_numpy()
        arms.append(np.sort(order["row"].to_numpy()[rank < order["pid"].map(want).to_numpy()]))
    return arms


def compare_set_metric(
    metric: SetMetric,
    prompt_ids: np.ndarray,
    seeds: np.ndarray,
    pool: Sequence[int],
    baseline: Sequence[int],
    *,
    draws: int = 20,
    blocks: int = 10,
    level: float = 0.95,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Pool against random seeds on these images: values, jackknife intervals and the t test."""
    pid = np.asarray(prompt_ids)
    sd = np.asarray(seeds)
    pool_rows = np.flatnonzero(np.isin(sd, pool))
    up = np.unique(pid[pool_rows])
    k = min(blocks, len(up))
    if k < 2:
        raise SeedscopeError(
            f"{metric.name.upper()} of the pool needs at least 2 held-out prompts with its seeds."
        )
    block_of = dict(zip(up.tolist(), (rng.permutation(len(up)) % k).tolist(), strict=True))
    block = np.array([block_of.get(int(p), -1) for p in pid])
    arms = [pool_rows, *random_arms(pid, sd, pool, baseline, draws, rng)]

    def values(drop: int | None) -> np.ndarray:
        return np.array([metric(r if drop is None else r[block[r] != drop]) for r in arms])

    full = values(None)
    loo = np.stack([values(b) for b in range(k)])  # (k, arms)
    stat_full = np.array([full[0], full[1:].mean(), full[0] - full[1:].mean()])
    stat_loo = np.stack([loo[:, 0], loo[:, 1:].mean(1), loo[:, 0] - loo[:, 1:].mean(1)], 1)
    se = jackknife_se(stat_loo)
    t = float(sps.t.ppf((1 + level) / 2, k - 1))
    lo, hi = stat_full - t * se, stat_full + t * se
    if se[2] > 0:
        p = float(2 * sps.t.sf(abs(stat_full[2]) / se[2], k - 1))
    else:
        p = 1.0 if stat_full[2] == 0 else 0.0
    return {
        "n_prompts": len(up),
        "n_images": len(pool_rows),
        "pool": float(stat_full[0]),
        "pool_lo": float(lo[0]),
        "pool_hi": float(hi[0]),
        "random": float(stat_full[1]),
        "random_lo": float(lo[1]),
        "random_hi": float(hi[1]),
        "diff": float(stat_full[2]),
        "diff_lo": float(lo[2]),
        "diff_hi": float(hi[2]),
        "wilcoxon_p": None,
        "p": p,
        "draws": draws,
        "blocks": k,
        "test": f"jackknife t over {k} prompt blocks (pool minus the mean of {draws} random arms)",
    }
