"""rank_seeds and consistency on synthetic score tables with planted and null seed effects."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from analysis.synthetic import score_table
from seedscope.analysis import stats as st
from seedscope.analysis.consistency import consistency, per_seed_consistency, split_prompts
from seedscope.analysis.rank import RankSettings, metric_direction, rank_seeds
from seedscope.errors import SeedscopeError


def test_planted_seed_effect_is_ranked_and_repeats_on_the_other_prompt_set() -> None:
    df, quality = score_table(seed_effect=1.5, flag_seeds=(4, 9))
    res = rank_seeds(df, RankSettings(test="both", permutations=199))
    t = res.table.set_index("seed")
    assert res.summary["metric"] == "hps.hps" and res.summary["higher_is_better"]
    # The best-ranked seed is among the truly best three, with an interval that excludes 0.
    best = res.summary["golden"][0]
    assert best["seed"] - 100 in np.argsort(-quality)[:3] and best["lo"] > 0
    assert (t["n_images"] == 40).all()
    # Flag rates are means of booleans; the planted sky seeds have rates near 0.9.
    assert t.loc[[104, 109], "sky.sky"].min() > 0.7 and t["sky.sky"].median() < 0.2
    assert "world.detected_category" not in t.columns  # text columns are not ranked
    c = res.summary["consistency"]
    assert c["spearman_rho"] > 0.7 and c["spearman_lo"] > 0.4
    assert c["spearman_lo"] <= c["spearman_rho"] <= c["spearman_hi"]
    assert res.summary["tests"]["heldout"]["p_value"] < 0.01
    assert res.summary["tests"]["permutation"]["p_value"] < 0.01
    assert (t["hps.hps_lo"] <= t["hps.hps"]).all() and (t["hps.hps"] <= t["hps.hps_hi"]).all()


def test_null_table_finds_no_seed_effect() -> None:
    df, _ = score_table(seed_effect=0.0, rng_seed=3)
    res = rank_seeds(df, RankSettings(test="both", permutations=199))
    assert res.summary["tests"]["heldout"]["p_value"] > 0.05
    assert res.summary["tests"]["permutation"]["p_value"] > 0.05
    c = res.summary["consistency"]
    assert c["spearman_lo"] < 0 < c["spearman_hi"]


def test_consistency_interval_matches_a_loop_over_resamples() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(1, 12)) + rng.normal(size=(30, 12))
    a, b = v[:15], v[15:]
    res = consistency(a, b, higher_is_better=True, k=3, reps=200, rng=np.random.default_rng(1))
    # The same resamples by hand: seeds drawn with replacement, then each set's prompts; rho of
    # the drawn seeds' resampled means (scipy's Spearman, ties averaged).
    r2 = np.random.default_rng(1)
    pick = r2.integers(0, 12, size=(200, 12))
    ca = st.bootstrap_counts(15, 200, r2)
    cb = st.bootstrap_counts(15, 200, r2)
    rhos = []
    for i in range(200):
        x = np.repeat(a, ca[i], 0).mean(0)[pick[i]]
        y = np.repeat(b, cb[i], 0).mean(0)[pick[i]]
        rhos.append(sps.spearmanr(x, y).statistic if np.ptp(pick[i]) else np.nan)
    zs = np.arctanh(np.clip(np.array(rhos)[~np.isnan(rhos)], -0.999999, 0.999999))
    z = sps.iqr(zs) / (sps.norm.ppf(0.75) - sps.norm.ppf(0.25)) * 1.959963984540054
    assert res.rho_lo == pytest.approx(np.tanh(np.arctanh(res.rho) - z), rel=1e-5)
    assert res.rho_hi == pytest.approx(np.tanh(np.arctanh(res.rho) + z), rel=1e-5)


def test_consistency_interval_covers_0_on_null_tables_and_excludes_it_on_planted_ones() -> None:
    # 200 null tables (12 seeds x 12 + 12 prompts, prompt effects, no seed effect): the 95%
    # interval must contain rho = 0 in at least 92% (the prompt-only bootstrap gave ~91%).
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(200):
        v = rng.normal(size=(24, 1)) + rng.normal(size=(24, 12))
        c = consistency(v[:12], v[12:], higher_is_better=True, k=3, reps=200, rng=rng)
        hits += c.rho_lo < 0 < c.rho_hi
    assert hits / 200 >= 0.92
    # A planted seed effect (sd 1 per seed vs noise sd 1 per image) is found in 19 of 20.
    found = 0
    for _ in range(20):
        v = rng.normal(size=(24, 1)) + rng.normal(size=(1, 12)) + rng.normal(size=(24, 12))
        c = consistency(v[:12], v[12:], higher_is_better=True, k=3, reps=200, rng=rng)
        found += c.rho_lo > 0
    assert found >= 19


def test_random_split_is_seeded_and_disjoint() -> None:
    ids = np.arange(20)
    m1, *_ = split_prompts(ids, None, fraction=0.5, seed=3)
    m2, *_ = split_prompts(ids, None, fraction=0.5, seed=3)
    m3, *_ = split_prompts(ids, None, fraction=0.5, seed=4)
    assert m1.sum() == 10 and (m1 == m2).all() and (m1 != m3).any()
    sets = np.array(["x"] * 5 + ["y"] * 5 + ["z"] * 10)
    with pytest.raises(SeedscopeError, match="--split"):
        split_prompts(ids, sets, fraction=None, seed=0)


def test_lower_is_better_and_unknown_direction() -> None:
    assert metric_direction("fid", None) is False
    assert metric_direction("hps.hps", None) is True
    with pytest.raises(SeedscopeError, match="--higher-is-better"):
        metric_direction("sky.sky_height", None)
    df, quality = score_table(seed_effect=1.5)
    df["hps.hps"] = -df["hps.hps"]
    res = rank_seeds(df, RankSettings(metric="hps", higher_is_better=False))
    assert res.summary["golden"][0]["seed"] - 100 in np.argsort(-quality)[:3]
    with pytest.raises(SeedscopeError, match="not among the scores"):
        rank_seeds(df, RankSettings(metric="nope"))


def _per_seed_sets(rng: np.random.Generator, effect: float) -> tuple[np.ndarray, ...]:
    """Per-seed values on two sets as means of 8 prompt blocks each, with their jackknife pieces."""
    q = effect * rng.normal(size=(16, 1))
    out = []
    for _ in range(2):
        m = q + rng.normal(size=(16, 8))  # (seed, block) block means
        loo = (m.sum(1, keepdims=True) - m) / 7
        out += [m.mean(1), loo]
    return tuple(out)


def test_per_seed_consistency_interval_covers_0_on_null_and_finds_planted() -> None:
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(200):
        a, la, b, lb = _per_seed_sets(rng, 0.0)
        c = per_seed_consistency(a, b, la, lb, higher_is_better=False, k=3, reps=200, rng=rng)
        assert c.rho == pytest.approx(sps.spearmanr(a, b).statistic)
        hits += c.rho_lo < 0 < c.rho_hi
    assert hits / 200 >= 0.92
    found = 0
    for _ in range(20):
        a, la, b, lb = _per_seed_sets(rng, 1.5)
        c = per_seed_consistency(a, b, la, lb, higher_is_better=False, k=3, reps=200, rng=rng)
        found += c.rho_lo > 0
    assert found >= 19
    # The width: seed-bootstrap spread (IQR / 1.349) and the block jackknife, variances added.
    a, la, b, lb = _per_seed_sets(np.random.default_rng(0), 1.0)
    c = per_seed_consistency(
        a, b, la, lb, higher_is_better=False, k=3, reps=300, rng=np.random.default_rng(2)
    )
    pick = np.random.default_rng(2).integers(0, 16, size=(300, 16))
    boot = [sps.spearmanr(a[p], b[p]).statistic for p in pick]
    v_seed = (sps.iqr(np.array(boot)[~np.isnan(boot)]) / 1.3489795003921634) ** 2
    rj = np.array([sps.spearmanr(la[:, j], lb[:, j]).statistic for j in range(8)])
    v_jack = 7 / 8 * ((rj - rj.mean()) ** 2).sum()
    half = 1.959963984540054 * np.sqrt(v_seed + v_jack)
    assert c.rho_lo == pytest.approx(max(-1, c.rho - half)) and c.rho_hi == pytest.approx(
        min(1, c.rho + half)
    )


def test_n_images_counts_an_image_scored_by_any_column_and_permutations_are_checked() -> None:
    df, _ = score_table(n_prompts=10, n_seeds=6)
    df.loc[df["seed"] == 100, "hps.hps"] = np.nan  # the first column lacks seed 100
    res = rank_seeds(df, RankSettings(metric="sky", higher_is_better=False, reps=50))
    assert (res.table["n_images"] == 10).all()
    with pytest.raises(SeedscopeError, match="--permutations"):
        RankSettings(permutations=0)
