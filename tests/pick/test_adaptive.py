"""Successive halving finds a planted pool for a fraction of the images, within its budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import seedscope
from fixtures.cli import Cli
from seedscope.pick.adaptive import grid_evaluator, successive_halving
from seedscope.pick.cards import load_card


def test_finds_the_planted_best_seeds_within_budget() -> None:
    rng = np.random.default_rng(0)
    n_p, n_s = 200, 32
    quality = np.zeros(n_s)
    quality[[3, 17, 29, 30]] = 1.0
    values = quality[None, :] + rng.normal(0, 0.8, (n_p, n_s))
    evaluate, asked = grid_evaluator(np.arange(n_p), np.arange(n_s), values)
    budget = n_p * n_s // 4
    result = successive_halving(
        evaluate, range(n_s), range(n_p), budget=budget, pool_size=4, rng=np.random.default_rng(1)
    )
    assert sorted(result.pool) == [3, 17, 29, 30]
    assert result.images == asked[0] <= budget
    assert [r["seeds"] for r in result.rounds] == [32, 16, 8]


def test_without_an_effect_the_pool_is_no_better_than_chance() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=(100, 16))
    evaluate, _ = grid_evaluator(np.arange(100), np.arange(16), values)
    hits = 0
    for rep in range(40):
        pool = successive_halving(
            evaluate, range(16), range(100), budget=400, pool_size=4, rng=np.random.default_rng(rep)
        ).pool
        hits += len(set(pool) & {0, 1, 2, 3})
    assert 20 < hits < 60  # 40 draws x 4 x 4/16 = 40 expected by chance


def test_pick_adaptive_generates_only_what_it_needs_and_resumes(
    tiny_sd_dir: Path, tmp_path: Path, cli: Cli
) -> None:
    csv = tmp_path / "prompts.csv"
    csv.write_text("id,prompt,set\n" + "".join(f"{i},a photo number {i},a\n" for i in range(6)))
    out, card = tmp_path / "search", tmp_path / "pool.json"
    args = [
        "pick", "adaptive", "--model", str(tiny_sd_dir), "--prompts", str(csv), "--seeds", "0-7",
        "--out", str(out), "--card", str(card), "--metric", "grayscale.colourfulness",
        "--pool", "2", "--budget", "0.5", "--steps", "1", "--json",
    ]  # fmt: skip
    code, stdout, stderr = cli(args)
    assert code == 0, stderr
    result = json.loads(stdout)
    rounds = sorted((out / "rounds").glob("r*/"))
    made = [seedscope.open_sweep(r).images(["prompt_id", "seed"]).num_rows for r in rounds]
    assert sum(made) == result["evidence"]["images"] <= 24  # half of 6 prompts x 8 seeds
    assert len(set(result["seeds"])) == 2 and set(result["seeds"]) <= set(range(8))
    # the pool is the best 2 of the last round's seeds by their mean over every image they got
    means: dict[int, list[float]] = {}
    for r in rounds:
        df = seedscope.open_sweep(r).scores(["grayscale"]).to_pandas()
        for s, v in zip(df["seed"], df["grayscale.colourfulness"], strict=True):
            means.setdefault(int(s), []).append(float(v))
    last = seedscope.open_sweep(rounds[-1]).images(["seed"]).column("seed").to_pylist()
    best = sorted(set(last), key=lambda s: -np.mean(means[s]))[:2]
    assert result["seeds"] == best
    assert load_card(card).seed_list() == best
    # a rerun finds every round on disk and generates nothing
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("images/*.parquet")}
    code, stdout2, _ = cli(args)
    assert code == 0 and json.loads(stdout2)["seeds"] == best
    assert {p: p.stat().st_mtime_ns for p in out.rglob("images/*.parquet")} == stamps


def test_pick_adaptive_refuses_a_budget_too_small_before_generating(
    tmp_path: Path, cli: Cli
) -> None:
    csv = tmp_path / "prompts.txt"
    csv.write_text("a red star\na blue moon\n")
    out = tmp_path / "search"
    base = ["pick", "adaptive", "--model", "world", "--prompts", str(csv), "--seeds", "0-7"]
    base += ["--out", str(out), "--card", str(tmp_path / "c.json")]
    code, _, stderr = cli([*base, "--budget", "4"])
    assert code == 2 and "cannot give each of the 8 seeds" in stderr
    code, _, stderr = cli([*base, "--metric", "adherent"])
    assert code == 2 and "SCORER.COLUMN" in stderr
    assert not out.exists()


def test_missing_scores_do_not_count_as_zero() -> None:
    rng = np.random.default_rng(5)
    values = np.full((60, 8), 0.5)
    values[:, [2, 6]] = 1.0  # the best seeds, but most of their images have no score
    holes = rng.random((60, 2)) < 0.7
    values[:, 2][holes[:, 0]] = np.nan
    values[:, 6][holes[:, 1]] = np.nan
    evaluate, _ = grid_evaluator(np.arange(60), np.arange(8), values)
    result = successive_halving(
        evaluate, range(8), range(60), budget=240, pool_size=2, rng=np.random.default_rng(0)
    )
    assert sorted(result.pool) == [2, 6]  # means over scored images, not sums over all
