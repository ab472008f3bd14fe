"""Statistics of seedscope.analysis.stats against scipy.stats and brute-force loops."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from seedscope.analysis import stats as st
from seedscope.errors import SeedscopeError


def test_to_grid_pivots_and_refuses_duplicates() -> None:
    g = st.to_grid(np.array([5, 5, 2]), np.array([1, 0, 1]), np.array([1.0, 2.0, 3.0]))
    assert g.prompt_ids.tolist() == [2, 5] and g.seeds.tolist() == [0, 1]
    np.testing.assert_array_equal(g.values, [[np.nan, 3.0], [2.0, 1.0]])
    assert not g.complete()
    with pytest.raises(SeedscopeError):
        st.to_grid(np.array([1, 1]), np.array([0, 0]), np.array([1.0, 2.0]))


@pytest.mark.parametrize("holes", [False, True])
def test_bootstrap_means_equal_a_loop_over_resampled_prompts(holes: bool) -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(50, 3, size=(30, 7))
    if holes:
        v[rng.random(v.shape) < 0.1] = np.nan
    reps = 40
    got = st.bootstrap_seed_means(v, reps, np.random.default_rng(1), chunk=reps)
    counts = st.bootstrap_counts(30, reps, np.random.default_rng(1))
    for b in range(reps):
        rows = np.repeat(v, counts[b], axis=0)  # the resampled table
        np.testing.assert_allclose(got[b], np.nanmean(rows, 0), rtol=1e-5)
    assert (counts.sum(1) == 30).all()


def test_percentile_ci_agrees_with_scipy_bootstrap() -> None:
    rng = np.random.default_rng(3)
    x = rng.exponential(2.0, size=60)
    boot = st.bootstrap_seed_means(x[:, None], 20000, np.random.default_rng(4))
    lo, hi = st.percentile_ci(boot[:, 0])
    ref = sps.bootstrap(
        (x,), np.mean, n_resamples=20000, method="percentile", random_state=5
    ).confidence_interval
    sd = x.std() / np.sqrt(len(x))
    assert abs(lo - ref.low) < 0.08 * sd and abs(hi - ref.high) < 0.08 * sd


def test_spearman_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(2)
    a = rng.integers(0, 5, 40).astype(float)
    b = a + rng.normal(0, 2, 40)
    assert st.spearman(a, b) == pytest.approx(sps.spearmanr(a, b).statistic, abs=1e-12)
    rows = st.spearman_rows(np.stack([a, b]), np.stack([b, a[::-1]]))
    assert rows[1] == pytest.approx(sps.spearmanr(b, a[::-1]).statistic, abs=1e-12)


def test_overlap_p_value_matches_simulation() -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(size=50)
    b = a + rng.normal(0, 1.0, 50)
    res = st.overlap_test(a, b, 10)
    assert res["expected"] == pytest.approx(2.0)
    # Brute force: overlap of the top-10 of `a` with 10 random seeds.
    top_a = set(np.argsort(-a)[:10].tolist())
    sims = np.array([len(top_a & set(rng.permutation(50)[:10].tolist())) for _ in range(20000)])
    assert res["p_value"] == pytest.approx((sims >= res["overlap"]).mean(), abs=0.01)
    bottom = st.overlap_test(a, b, 10, top=False)
    assert bottom["overlap"] == len(
        set(np.argsort(a)[:10].tolist()) & set(np.argsort(b)[:10].tolist())
    )


def _planted(rng: np.random.Generator, n_p: int = 40, n_s: int = 20) -> np.ndarray:
    v = rng.normal(size=(n_p, 1)) + rng.normal(size=(n_p, n_s))  # prompt effect + noise
    v[:, 3] += 1.5  # a golden seed
    v[:, 11] -= 1.5  # an inferior seed
    return v


def test_heldout_test_finds_a_planted_seed_effect() -> None:
    rng = np.random.default_rng(0)
    v = _planted(rng)
    res = st.heldout_gap_test(v[:20], v[20:], higher_is_better=True, reps=999, rng=rng)
    assert (res["best"], res["worst"]) == (3, 11)
    assert res["p_value"] < 0.01 and res["gap_heldout_lo"] > 0
    low = st.heldout_gap_test(-v[:20], -v[20:], higher_is_better=False, reps=999, rng=rng)
    assert (low["best"], low["worst"]) == (3, 11)


def _false_positive_band(n: int, alpha: float = 0.05) -> tuple[int, int]:
    return int(sps.binom.ppf(0.001, n, alpha)), int(sps.binom.ppf(0.999, n, alpha))


def test_heldout_test_has_its_stated_false_positive_rate_on_null_tables() -> None:
    rng = np.random.default_rng(123)
    hits = 0
    for _ in range(200):
        v = rng.normal(size=(30, 1)) + rng.normal(size=(30, 15))
        hits += (
            st.heldout_gap_test(v[:15], v[15:], higher_is_better=True, reps=199, rng=rng)["p_value"]
            < 0.05
        )
    lo, hi = _false_positive_band(200)
    assert lo <= hits <= hi


def test_permutation_gap_test_planted_and_null() -> None:
    rng = np.random.default_rng(5)
    assert st.permutation_gap_test(_planted(rng), reps=199, rng=rng)["p_value"] < 0.01
    hits = 0
    for _ in range(200):
        v = rng.normal(size=(12, 1)) + rng.normal(size=(12, 8))
        hits += st.permutation_gap_test(v, reps=99, rng=rng)["p_value"] < 0.05
    lo, hi = _false_positive_band(200)
    assert lo <= hits <= hi


def _anova_by_least_squares(v: np.ndarray) -> tuple[float, float, float]:
    """Sequential sums of squares from dummy-variable least squares (no statsmodels)."""
    n_p, n_s = v.shape
    y = v.ravel()
    p_d = np.kron(np.eye(n_p), np.ones((n_s, 1)))
    s_d = np.kron(np.ones((n_p, 1)), np.eye(n_s))
    one = np.ones((len(y), 1))

    def rss(x: np.ndarray) -> float:
        beta, *_ = np.linalg.lstsq(x, y, rcond=None)
        return float(((y - x @ beta) ** 2).sum())

    total = rss(one)
    ss_prompt = total - rss(np.hstack([one, p_d]))
    ss_seed = rss(np.hstack([one, p_d])) - rss(np.hstack([one, p_d, s_d]))
    return total, ss_seed, ss_prompt


def test_variance_decomposition_matches_least_squares_anova() -> None:
    rng = np.random.default_rng(9)
    v = rng.normal(size=(9, 1)) * 2 + rng.normal(size=(1, 6)) + rng.normal(size=(9, 6))
    got = st.variance_decomposition(v)
    total, ss_seed, ss_prompt = _anova_by_least_squares(v)
    assert got["ss_seed"] == pytest.approx(ss_seed / total)
    assert got["ss_prompt"] == pytest.approx(ss_prompt / total)
    assert got["ss_residual"] == pytest.approx(1 - (ss_seed + ss_prompt) / total)
    # Variance components from expected mean squares, by hand.
    ms_res = (total - ss_seed - ss_prompt) / (8 * 5)
    vs = max((ss_seed / 5 - ms_res) / 9, 0)
    vp = max((ss_prompt / 8 - ms_res) / 6, 0)
    assert got["var_seed"] == pytest.approx(vs / (vs + vp + ms_res))


def test_variance_decomposition_bootstrap_equals_a_loop() -> None:
    rng = np.random.default_rng(1)
    v = 100 + rng.normal(size=(10, 1)) + rng.normal(size=(1, 5)) + rng.normal(size=(10, 5))
    reps = 25
    got = st.variance_decomposition_bootstrap(v, reps, np.random.default_rng(2), chunk=reps)
    counts = st.bootstrap_counts(10, reps, np.random.default_rng(2))
    for b in range(reps):
        ref = st.variance_decomposition(np.repeat(v, counts[b], axis=0))
        for k in ("ss_seed", "ss_prompt", "var_seed", "var_residual"):
            assert got[k][b] == pytest.approx(ref[k], rel=1e-4, abs=1e-6), k


def test_variance_shares_find_a_planted_seed_effect_and_not_a_null_one() -> None:
    rng = np.random.default_rng(4)
    null = rng.normal(size=(60, 30))
    seedy = null + rng.normal(size=(1, 30)) * 2
    assert st.variance_decomposition(null)["var_seed"] < 0.05
    assert st.variance_decomposition(seedy)["var_seed"] > 0.6
    with pytest.raises(SeedscopeError):
        st.variance_decomposition(np.array([[1.0, np.nan], [2.0, 3.0]]))
