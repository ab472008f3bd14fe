"""Golden pools: the top-N-of-both rule, a planted pool found and confirmed on held-out prompts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import seedscope
from fixtures.cli import Cli
from pick.helpers import write_scores
from seedscope.analysis.io import write_analysis
from seedscope.errors import SeedscopeError
from seedscope.pick.cards import write_card
from seedscope.pick.golden import (
    CompareSettings,
    GoldenSettings,
    compare_golden,
    golden_pool,
    paired_test,
    pick_golden,
)

GOOD = (2, 5)


def test_golden_pool_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        q, p = rng.normal(size=12), rng.normal(size=12)
        top = int(rng.integers(1, 12))
        got = golden_pool(
            q, p, top, quality_higher_is_better=False, preference_higher_is_better=True
        )
        best_q = sorted(range(12), key=lambda i: q[i])[:top]
        best_p = sorted(range(12), key=lambda i: -p[i])[:top]
        both = set(best_q) & set(best_p)
        rank_q = {i: sorted(q).index(q[i]) for i in range(12)}
        rank_p = {i: sorted(-p).index(-p[i]) for i in range(12)}
        want = sorted(both, key=lambda i: (rank_q[i] + rank_p[i], i))
        assert got.tolist() == want


def _scored(grid: Path, tmp_path: Path, effect: bool) -> Path:
    out = tmp_path / "sweep"
    shutil.copytree(grid, out)
    keys = seedscope.open_sweep(out).keys().to_pandas()
    rng = np.random.default_rng(1)
    good = keys["seed"].isin(GOOD).to_numpy() if effect else np.zeros(len(keys), bool)
    adherent = rng.random(len(keys)) < np.where(good, 0.95, 0.3)
    gray = rng.normal(size=len(keys)) - 2.0 * (good | (keys["seed"].to_numpy() == 6) & effect)
    write_scores(out, "world", keys.assign(adherent=adherent, object_x=rng.random(len(keys))))
    write_scores(out, "grayscale", keys.assign(grayscale=gray))
    return out


SETTINGS = GoldenSettings(
    top=3, quality="grayscale.grayscale", preference="world.adherent", set="a", reps=500
)


def test_planted_pool_is_found_and_holds_on_heldout_prompts(grid: Path, tmp_path: Path) -> None:
    sweep = _scored(grid, tmp_path, effect=True)
    card = pick_golden(sweep, SETTINGS)
    assert sorted(card.seed_list()) == sorted(GOOD)
    m = card.seeds[0].metrics["world.adherent"]
    assert m["lo"] <= m["value"] <= m["hi"] and m["n_images"] == 10
    assert card.evidence["selection"]["n_prompts"] == 10
    assert Path(card.evidence["selection"]["sweep"]).is_absolute()
    result = compare_golden(card, sweep, CompareSettings(set="b", reps=500))
    rows = {r["metric"]: r for r in result["rows"]}
    adh = rows["world.adherent"]
    assert adh["better"] == "pool" and adh["diff_lo"] > 0 and adh["n_prompts"] == 10
    assert rows["grayscale.grayscale"]["better"] == "pool"
    # Without --set the prompts that chose the pool are dropped, not reused.
    everything = compare_golden(card, sweep, CompareSettings(reps=100))
    assert everything["dropped_selection_prompts"] == 10 and everything["heldout_prompts"] == 10


def test_null_table_gives_no_significant_pool(grid: Path, tmp_path: Path) -> None:
    sweep = _scored(grid, tmp_path, effect=False)
    card = pick_golden(
        sweep,
        GoldenSettings(
            top=5, quality="grayscale.grayscale", preference="world.adherent", set="a", reps=200
        ),
    )
    result = compare_golden(card, sweep, CompareSettings(set="b", reps=500))
    assert all(r["better"] is None for r in result["rows"])


def test_paired_test_against_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1, 30), rng.normal(0.0, 1, 30)
    r = paired_test(a, b, 2000, 0.95, rng)
    assert r["diff"] == pytest.approx((a - b).mean())
    assert r["wilcoxon_p"] == pytest.approx(stats.wilcoxon(a - b).pvalue)
    assert r["diff_lo"] < r["diff"] < r["diff_hi"]


def test_fid_quality_from_fid_seeds(grid: Path, tmp_path: Path) -> None:
    sweep = _scored(grid, tmp_path, effect=True)
    fid = pa.table(
        {
            "seed": pa.array(range(8), pa.int64()),
            "n_images": pa.array([20] * 8, pa.int64()),
            "fid": pa.array([50.0 - 10 * (s in GOOD) + s for s in range(8)], pa.float64()),
            "kid": pa.array([None] * 8, pa.float64()),
        }
    )
    write_analysis(sweep, "fid_by_seed", fid, {"extractor": "none"}, {"features": {}})
    card = pick_golden(sweep, GoldenSettings(top=3, quality="fid", preference="world.adherent"))
    assert sorted(card.seed_list()) == sorted(GOOD)
    assert card.seeds[0].metrics["fid"]["lo"] is None  # no features: no interval, said so
    with pytest.raises(SeedscopeError, match="per-seed FID on prompt set 'a' needs"):
        pick_golden(sweep, GoldenSettings(top=3, quality="fid", set="a"))


def test_fid_extractor_chooses_among_several_fid_by_seed_results(
    grid: Path, tmp_path: Path
) -> None:
    sweep = _scored(grid, tmp_path, effect=True)
    for name, sign in (("good-features", 1), ("flipped-features", -1)):
        fid = pa.table(
            {
                "seed": pa.array(range(8), pa.int64()),
                "n_images": pa.array([20] * 8, pa.int64()),
                "fid": pa.array(
                    [50.0 - sign * 10 * (s in GOOD) + 0.1 * s for s in range(8)], pa.float64()
                ),
                "kid": pa.array([None] * 8, pa.float64()),
            }
        )
        write_analysis(sweep, "fid_by_seed", fid, {"extractor": name}, {"features": {}})
    with pytest.raises(SeedscopeError, match="--fid-extractor"):
        pick_golden(sweep, GoldenSettings(top=3))
    card = pick_golden(sweep, GoldenSettings(top=3, fid_extractor="good-features"))
    assert sorted(card.seed_list()) == sorted(GOOD)
    try:
        flipped = pick_golden(sweep, GoldenSettings(top=3, fid_extractor="flipped-features"))
        assert not set(flipped.seed_list()) & set(GOOD)
    except SeedscopeError as err:
        assert "no seed is in the top 3 of both" in str(err)
    with pytest.raises(SeedscopeError, match="no fid_by_seed result of 'gram'"):
        pick_golden(sweep, GoldenSettings(top=3, fid_extractor="gram"))


def test_pick_cli(grid: Path, tmp_path: Path, cli: Cli) -> None:
    sweep = _scored(grid, tmp_path, effect=True)
    card = tmp_path / "golden.json"
    args = ["pick", "golden", str(sweep), "--top", "3", "--quality", "grayscale.grayscale"]
    code, out, err = cli([*args, "--set", "a", "--out", str(card), "--json", "--reps", "200"])
    assert code == 0, err
    assert sorted(json.loads(out)["seeds"]) == sorted(GOOD)
    code, out, err = cli(
        ["pick", "compare", str(card), str(sweep), "--set", "b", "--json", "--reps", "200"]
    )
    assert code == 0, err
    assert {r["metric"] for r in json.loads(out)["rows"]} >= {"world.adherent"}
    code, out, err = cli(["pick", "compare", str(card), str(sweep), "--set", "b"])
    assert code == 0 and "world.adherent" in out
    code, _, err = cli([*args, "--preference", "world.nothing", "--out", str(tmp_path / "x.json")])
    assert code == 2 and "Traceback" not in err and not (tmp_path / "x.json").exists()
    code, _, err = cli([*args, "--set", "z", "--out", str(tmp_path / "x.json")])
    assert code == 2 and "no prompt set 'z'" in err


def test_ties_are_broken_by_the_other_metric_not_by_seed_order() -> None:
    preference = np.array([1.0] * 10 + [0.5] * 2)  # ten seeds tied at 100% adherence
    quality = np.array([9.0, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1, -2])  # lower is better
    pool = golden_pool(
        quality, preference, 3, quality_higher_is_better=False, preference_higher_is_better=True
    )
    assert pool.tolist() == [9]  # not seeds 0-2, which only come first by index


def test_unknown_direction_options_and_nullable_bool_scores(
    grid: Path, tmp_path: Path, cli: Cli
) -> None:
    sweep = _scored(grid, tmp_path, effect=True)
    keys = seedscope.open_sweep(sweep).keys().to_pandas()
    rng = np.random.default_rng(4)
    good = keys["seed"].isin(GOOD).to_numpy()
    match = (rng.random(len(keys)) < np.where(good, 0.95, 0.2)).astype(object)
    match[rng.random(len(keys)) < 0.1] = None  # a nullable bool: object dtype in pandas
    wobble = rng.normal(size=len(keys)) + 3.0 * good  # a direction seedscope does not know
    write_scores(sweep, "extra", keys.assign(colour_match=match, wobble=wobble))
    card = tmp_path / "card.json"
    args = ["pick", "golden", str(sweep), "--top", "3", "--set", "a", "--reps", "100"]
    args += ["--quality", "grayscale.grayscale", "--preference", "extra.wobble", "--out", str(card)]
    code, _, err = cli(args)
    assert code == 2 and "give --preference-higher-is-better or --preference-lower-is-better" in err
    code, out, err = cli([*args, "--preference-higher-is-better", "--json"])
    assert code == 0, err
    assert sorted(json.loads(out)["seeds"]) == sorted(GOOD)
    # Flipped, the planted seeds are the worst of extra.wobble and the best of grayscale.
    code, _, err = cli([*args, "--preference-lower-is-better"])
    assert code == 2 and "no seed is in the top 3 of both" in err, err
    cli([*args, "--preference-higher-is-better"])
    result = compare_golden(seedscope.load_card(card), sweep, CompareSettings(set="b", reps=300))
    rows = {r["metric"]: r for r in result["rows"]}
    assert rows["extra.colour_match"]["better"] == "pool"  # kept, read as 0/1
    assert rows["extra.wobble"]["higher_is_better"] is True  # the card's own direction
    assert rows["extra.wobble"]["better"] == "pool"


def test_fid_and_kid_of_the_pool_on_heldout_prompts(grid: Path, tmp_path: Path, cli: Cli) -> None:
    sweep = _scored(grid, tmp_path, effect=True)
    card = pick_golden(sweep, SETTINGS)
    path = tmp_path / "card.json"
    write_card(card, path)
    args = ["pick", "compare", str(path), str(sweep), "--set", "b", "--json", "--reps", "100"]
    code, _, err = cli([*args, "--metrics", "kid"])
    assert code == 2 and f"run `seedscope fid-seeds {sweep} --ref REF` first" in err, err
    ref = tmp_path / "ref"
    ref.mkdir()
    sw = seedscope.open_sweep(sweep)
    for s in range(6):
        sw.image(int(s), 0).save(ref / f"{s}.png")
    code, _, err = cli(
        ["fid-seeds", str(sweep), "--ref", str(ref), "--extractor", "world", "--allow-small"]
    )
    assert code == 0, err
    code, out, err = cli([*args, "--metrics", "fid,kid,world.adherent", "--draws", "3"])
    assert code == 0, err
    rows = {r["metric"]: r for r in json.loads(out)["rows"]}
    for name in ("fid", "kid"):
        r = rows[name]
        assert r["higher_is_better"] is False and r["n_prompts"] == 10 and r["draws"] == 3
        assert r["pool_lo"] <= r["pool"] <= r["pool_hi"] and 0 <= r["p"] <= 1
        assert r["diff"] == pytest.approx(r["pool"] - r["random"])
    assert "p" in rows["world.adherent"]
