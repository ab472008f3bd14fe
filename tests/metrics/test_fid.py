"""FID and KID against independent reference implementations."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

from seedscope.errors import SeedscopeError
from seedscope.metrics import (
    FID,
    KID,
    fid_by_group,
    fid_from_features,
    frechet_distance,
    kid,
    kid_by_group,
)


def pytorch_fid_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):  # type: ignore[no-untyped-def]
    """Fréchet distance as pytorch-fid computes it (scipy sqrtm, offset if singular, real part)."""
    diff = mu1 - mu2
    covmean, _ = scipy.linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def _data(
    rng: np.random.Generator, d: int, sizes: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    ref = rng.normal(size=(4 * d, d)) @ mix
    feats = np.concatenate(
        [
            rng.normal(loc=0.05 * i, size=(n, d)) @ (mix + 0.1 * i * np.eye(d))
            for i, n in enumerate(sizes)
        ]
    )
    groups = np.repeat(np.arange(len(sizes)) * 7 + 3, sizes)
    return ref, feats, groups


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fid_by_group_matches_scipy_sqrtm() -> None:
    rng = np.random.default_rng(0)
    d = 48
    sizes = [2, 5, 20, 47, 48, 60, 200]
    ref, feats, groups = _data(rng, d, sizes)
    mu_r, cov_r = ref.mean(0), np.cov(ref, rowvar=False)
    got = fid_by_group(feats, groups, mu_r, cov_r, chunk=3)
    assert sorted(got) == sorted(set(groups.tolist()))
    for g in got:
        x = feats[groups == g]
        want = pytorch_fid_distance(x.mean(0), np.cov(x, rowvar=False), mu_r, cov_r)
        assert got[g] == pytest.approx(want, rel=1e-6)


def test_frechet_distance_matches_scipy_and_is_zero_on_itself() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 16)), rng.normal(1.0, 2.0, size=(250, 16))
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        pytorch_fid_distance(mu1, s1, mu2, s2), rel=1e-9
    )
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)
    assert fid_from_features(a, b) == pytest.approx(frechet_distance(mu1, s1, mu2, s2))


def test_stateful_fid_equals_functional() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(100, 8)), rng.normal(0.5, 1.0, size=(120, 8))
    m = FID()
    for chunk in np.array_split(a, 3):
        m.update(chunk)
    m.update(b, real=True)
    assert m.compute() == pytest.approx(fid_from_features(a, b), rel=1e-9)
    m.reset()
    with pytest.raises(SeedscopeError):
        m.compute()


def _kid_naive(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return float(sxx + syy - 2 * sxy)


def test_kid_unbiased_mmd_matches_naive_loop() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 5)), rng.normal(0.3, 1.0, size=(15, 5))
    mean, std = kid(x, y, subsets=1, subset_size=100)
    assert std == 0.0
    # One subset uses 12 random rows of y; the per-group KID uses all of y: compare that one.
    groups = np.zeros(len(x), int)
    assert kid_by_group(x, groups, y, chunk=4)[0] == pytest.approx(_kid_naive(x, y), rel=1e-9)
    assert np.isfinite(mean)


def test_kid_near_zero_for_same_distribution() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    z = rng.normal(0.5, 1.0, size=(400, 16))
    same, _ = kid(x, y, subsets=10, subset_size=200)
    diff, _ = kid(z, y, subsets=10, subset_size=200)
    assert abs(same) < 0.05 < diff
    m = KID(subsets=10, subset_size=200)
    m.update(z)
    m.update(y, real=True)
    assert m.compute()[0] == pytest.approx(diff)


def test_small_groups_warn_and_bad_input_raises(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(5)
    ref = rng.normal(size=(100, 8))
    with caplog.at_level(logging.WARNING):
        fid_by_group(
            rng.normal(size=(10, 8)), [0] * 5 + [1] * 5, ref.mean(0), np.cov(ref, rowvar=False)
        )
    assert "KID" in caplog.text
    with pytest.raises(SeedscopeError, match="at least 2"):
        fid_by_group(rng.normal(size=(3, 8)), [0, 1, 1], ref.mean(0), np.cov(ref, rowvar=False))
    with pytest.raises(SeedscopeError, match="dimension"):
        fid_by_group(rng.normal(size=(4, 8)), [0, 0, 1, 1], ref.mean(0)[:4], np.eye(4))
    with pytest.raises(SeedscopeError, match="empty"):
        kid(rng.normal(size=(4, 8)), np.zeros((0, 8)))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fid_by_group_matches_scipy_at_2048_dims() -> None:
    rng = np.random.default_rng(6)
    d = 2048
    ref = rng.normal(size=(3000, 64)) @ rng.normal(size=(64, d)) + 0.1 * rng.normal(size=(3000, d))
    mu_r, cov_r = ref.mean(0), np.cov(ref, rowvar=False)
    feats = rng.normal(size=(64, d))
    groups = np.repeat([0, 1], 32)
    got = fid_by_group(feats, groups, mu_r, cov_r)
    for g in (0, 1):
        x = feats[groups == g]
        want = pytorch_fid_distance(x.mean(0), np.cov(x, rowvar=False), mu_r, cov_r)
        assert got[g] == pytest.approx(want, rel=1e-6)


def test_reference_npz_round_trip(tmp_path: Path) -> None:
    from seedscope.features.base import FeatureExtractor
    from seedscope.metrics.reference import Reference, load_reference, save_reference

    class Four(FeatureExtractor):
        name = "four"
        dim = 4

        def extract(self, images: object) -> np.ndarray:
            return np.zeros((0, 4), np.float32)

    feats = np.random.default_rng(7).normal(size=(10, 4))
    ref = Reference(feats.mean(0), np.cov(feats, rowvar=False), 10, "x", feats)
    save_reference(ref, tmp_path / "ref.npz", Four())
    assert [p.name for p in tmp_path.iterdir()] == ["ref.npz"]
    got = load_reference(tmp_path / "ref.npz", Four())
    assert got.n == 10 and np.array_equal(got.mean, ref.mean) and np.array_equal(got.cov, ref.cov)
    assert got.features is not None and np.array_equal(got.features, feats)

    class FourResized(Four):
        preprocess = "legacy_pytorch"

    # Statistics of one preprocessing are never compared with features of another.
    with pytest.raises(SeedscopeError, match="four@legacy_pytorch"):
        load_reference(tmp_path / "ref.npz", FourResized())
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(SeedscopeError, match="cannot read"):
        load_reference(tmp_path / "bad.npz", Four())
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(SeedscopeError, match=r"broken\.png"):
        load_reference(tmp_path / "images", Four())
