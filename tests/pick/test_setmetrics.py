"""FID and KID of a pool against random seeds: checked against metrics.functional and by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from seedscope.metrics.functional import fid_by_group, kid_by_group
from seedscope.pick.setmetrics import SetMetric, compare_set_metric, random_arms

D = 6


def _reference(rng: np.random.Generator) -> SimpleNamespace:
    feats = rng.normal(size=(300, D))
    return SimpleNamespace(mean=feats.mean(0), cov=np.cov(feats, rowvar=False), features=feats)


def _images(rng: np.random.Generator, prompts: int = 24, seeds: int = 10, shift: float = 1.5):
    pid, sd = np.meshgrid(np.arange(prompts), np.arange(seeds), indexing="ij")
    pid, sd = pid.ravel(), sd.ravel()
    x = rng.normal(size=(len(pid), D))
    x[sd >= 3] += shift  # seeds 0-2 draw images like the reference, the rest drift away
    return pid, sd, x


@pytest.mark.parametrize("n", [4, 40])  # fewer and more images than dimensions
def test_set_metric_matches_fid_and_kid_by_group(n: int) -> None:
    rng = np.random.default_rng(0)
    ref = _reference(rng)
    x = rng.normal(0.3, 1.2, size=(60, D))
    rows = np.sort(rng.choice(60, n, replace=False))
    zeros = np.zeros(n, int)
    assert SetMetric("fid", x, ref)(rows) == pytest.approx(
        fid_by_group(x[rows], zeros, ref.mean, ref.cov)[0], rel=1e-6
    )
    assert SetMetric("kid", x, ref)(rows) == pytest.approx(
        kid_by_group(x[rows], zeros, ref.features)[0], rel=1e-9, abs=1e-12
    )


def test_random_arms_draw_as_many_baseline_seeds_per_prompt() -> None:
    rng = np.random.default_rng(1)
    pid, sd, _ = _images(rng, prompts=5, seeds=6)
    for arm in random_arms(pid, sd, [0, 1], [2, 3, 4, 5], draws=4, rng=rng):
        assert np.bincount(pid[arm]).tolist() == [2] * 5
        assert set(sd[arm]) <= {2, 3, 4, 5}


def test_pool_against_random_jackknife_by_hand() -> None:
    rng = np.random.default_rng(2)
    ref = _reference(rng)
    pid, sd, x = _images(rng)
    metric = SetMetric("fid", x, ref)
    pool, base = [0, 1, 2], list(range(10))
    r = compare_set_metric(
        metric, pid, sd, pool, base, draws=3, blocks=6, rng=np.random.default_rng(5)
    )
    # The same computation written out: blocks and arms drawn in the same order from the same rng.
    rng2 = np.random.default_rng(5)
    up = np.unique(pid)
    block = (rng2.permutation(len(up)) % 6)[pid]
    arms = [np.flatnonzero(np.isin(sd, pool)), *random_arms(pid, sd, pool, base, 3, rng2)]

    def fid(rows: np.ndarray) -> float:
        return fid_by_group(x[rows], np.zeros(len(rows), int), ref.mean, ref.cov)[0]

    def diff(drop: int | None) -> float:
        v = [fid(a if drop is None else a[block[a] != drop]) for a in arms]
        return v[0] - float(np.mean(v[1:]))

    loo = np.array([diff(b) for b in range(6)])
    se = np.sqrt(5 / 6 * ((loo - loo.mean()) ** 2).sum())
    assert r["diff"] == pytest.approx(diff(None))
    assert r["diff_hi"] - r["diff"] == pytest.approx(stats.t.ppf(0.975, 5) * se)
    assert r["p"] == pytest.approx(2 * stats.t.sf(abs(diff(None)) / se, 5))
    # The pool draws reference-like images: a clearly lower FID than random seeds.
    assert r["diff"] < 0 and r["diff_hi"] < 0 and r["p"] < 0.01 and r["n_images"] == 72


def test_no_effect_gives_no_difference() -> None:
    rng = np.random.default_rng(3)
    ref = _reference(rng)
    pid, sd, x = _images(rng, shift=0.0)
    metric = SetMetric("kid", x, ref)
    r = compare_set_metric(metric, pid, sd, [0, 1, 2], list(range(3, 10)), draws=5, rng=rng)
    assert r["diff_lo"] < 0 < r["diff_hi"]
