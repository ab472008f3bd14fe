"""Streaming per-seed FID with a jackknife interval against the direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from seedscope.analysis.fid_interval import fid_jackknife
from seedscope.metrics.functional import fid_from_features, frechet_distance, statistics


def test_streamed_fid_and_jackknife_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    dim, n, k = 6, 60, 5
    ref = rng.normal(size=(200, dim))
    mu_r, cov_r = statistics(ref)
    feats = {s: rng.normal(0.3 * s, 1.0, size=(n, dim)) for s in range(3)}
    block = np.arange(n) % k  # prompt p is in block p mod k
    pieces = [(s, b, feats[s][block == b]) for s in range(3) for b in range(k)]
    out = fid_jackknife(pieces, mu_r, cov_r, blocks=k)
    for s in range(3):
        fid, lo, hi = out[s]
        assert fid == pytest.approx(fid_from_features(feats[s], ref), rel=1e-8)
        loo = np.array(
            [frechet_distance(*statistics(feats[s][block != b]), mu_r, cov_r) for b in range(k)]
        )
        se = np.sqrt((k - 1) / k * ((loo - loo.mean()) ** 2).sum())
        assert hi - fid == pytest.approx(2.7764451051977987 * se, rel=1e-6)  # t(0.975, 4)
        assert lo < fid < hi
    assert out[2][0] > out[0][0]
