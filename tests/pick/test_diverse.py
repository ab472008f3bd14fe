"""Diverse seeds: farthest-point sampling against a brute-force loop; Table 2 on held-out prompts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import cdist

import seedscope
from fixtures.cli import Cli
from pick.helpers import write_scores
from seedscope.pick.diverse import (
    DiverseSettings,
    compare_diverse,
    farthest_point_sampling,
    mean_pairwise_cosine,
    pick_diverse,
)
from seedscope.pick.golden import CompareSettings


def _brute_fps(x: np.ndarray, k: int, first: int, metric: str) -> list[int]:
    d = cdist(x, x, metric=metric)
    chosen = [first]
    while len(chosen) < k:
        best, best_d = -1, -1.0
        for i in range(len(x)):
            if i in chosen:
                continue
            near = min(d[i, j] for j in chosen)
            if near > best_d + 1e-12:
                best, best_d = i, near
        chosen.append(best)
    return chosen


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_fps_matches_brute_force(metric: str) -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        n, dim = int(rng.integers(3, 9)), int(rng.integers(2, 5))
        x = rng.normal(size=(n, dim))
        k, first = int(rng.integers(1, n + 1)), int(rng.integers(n))
        assert farthest_point_sampling(x, k, first=first, metric=metric) == _brute_fps(
            x, k, first, metric
        )


def test_mean_pairwise_cosine_against_loop() -> None:
    x = np.random.default_rng(1).normal(size=(5, 3))
    sims = [
        1 - cdist(x[i : i + 1], x[j : j + 1], "cosine")[0, 0]
        for i in range(5)
        for j in range(5)
        if i != j
    ]
    assert mean_pairwise_cosine(x) == pytest.approx(np.mean(sims))


CORNERS = np.array([[0.2, 0.2], [0.8, 0.2], [0.2, 0.8], [0.8, 0.8]])


def _layout(grid: Path, tmp_path: Path, effect: bool) -> Path:
    out = tmp_path / "sweep"
    shutil.copytree(grid, out)
    keys = seedscope.open_sweep(out).keys().to_pandas()
    rng = np.random.default_rng(2)
    n = len(keys)
    if effect:  # seed s puts the object in corner s % 4, size by s // 4
        xy = CORNERS[keys["seed"].to_numpy() % 4] + rng.normal(0, 0.03, (n, 2))
        area = 0.1 + 0.02 * (keys["seed"].to_numpy() // 4) + rng.normal(0, 0.01, n)
    else:
        xy, area = rng.random((n, 2)), rng.random(n) * 0.2
    write_scores(out, "world", keys.assign(object_x=xy[:, 0], object_y=xy[:, 1], object_area=area))
    return out


def test_diverse_seeds_are_more_diverse_on_heldout_prompts(grid: Path, tmp_path: Path) -> None:
    sweep = _layout(grid, tmp_path, effect=True)
    card = pick_diverse(sweep, DiverseSettings(by="layout", per_prompt=4, set="a"))
    assert card.kind == "diverse" and len(card.seeds) == 8
    assert sorted(s % 4 for s in card.seed_list()[:4]) == [0, 1, 2, 3]  # one per corner
    assert sorted(s % 4 for s in card.pick(4, rng=7)) == [0, 1, 2, 3]
    result = compare_diverse(card, sweep, CompareSettings(set="b", reps=500, draws=10))
    row = result["rows"][0]
    assert row["better"] == "pool" and row["diff_hi"] < 0 and row["n_prompts"] == 10


def test_null_layout_is_not_more_diverse(grid: Path, tmp_path: Path, cli: Cli) -> None:
    sweep = _layout(grid, tmp_path, effect=False)
    card = tmp_path / "diverse.json"
    code, out, err = cli(
        [
            "pick",
            "diverse",
            str(sweep),
            "--by",
            "layout",
            "--set",
            "a",
            "--out",
            str(card),
            "--json",
        ]
    )
    assert code == 0, err
    assert len(json.loads(out)["seeds"]) == 8
    code, out, err = cli(
        ["pick", "compare", str(card), str(sweep), "--set", "b", "--json", "--reps", "500"]
    )
    assert code == 0, err
    assert json.loads(out)["rows"][0]["better"] is None
    code, _, err = cli(["pick", "diverse", str(sweep), "--by", "colour", "--out", str(card)])
    assert code == 2 and "--by must be style or layout" in err
