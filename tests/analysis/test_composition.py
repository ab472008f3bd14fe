"""Composition per seed and the 'what the seed decides' table on planted grids."""

from __future__ import annotations

import numpy as np
import pytest

from seedscope.analysis.composition import (
    CompositionSettings,
    composition_columns,
    decided_columns,
    seed_composition,
    what_the_seed_decides,
)
from seedscope.errors import SeedscopeError


def test_composition_prefers_the_world_scorer() -> None:
    cols = ["composition.object_x", "composition.object_y", "composition.object_area"]
    assert composition_columns(cols)["x"] == "composition.object_x"
    both = [*cols, "world.object_x", "world.object_y", "world.object_area", "sky.sky"]
    assert composition_columns(both)["area"] == "world.object_area"
    assert decided_columns(both)[-1] == "sky.sky"
    with pytest.raises(SeedscopeError, match="--scorers"):
        composition_columns(["sky.sky"])


def test_seed_decides_x_but_not_a_null_flag() -> None:
    rng = np.random.default_rng(0)
    n_p, n_s = 30, 20
    x = 0.2 + 0.6 * rng.random((1, n_s)) + rng.normal(0, 0.05, (n_p, n_s))  # seed decides x
    area = 0.1 + 0.1 * rng.random((n_p, 1)) + rng.normal(0, 0.01, (n_p, n_s))  # prompt decides
    flag = (rng.random((n_p, n_s)) < 0.2).astype(float)  # nobody decides
    x[3, 5] = np.nan  # one hole: the grid is cut to its largest complete block
    table, meta = what_the_seed_decides(
        {"x": x, "area": area, "flag": flag}, CompositionSettings(reps=300)
    )
    t = table.set_index("column")
    assert t.loc["x", "var_seed"] > 0.8 and t.loc["x", "var_seed_lo"] > 0.6
    assert t.loc["area", "var_prompt"] > 0.8 and t.loc["area", "var_seed"] < 0.1
    assert t.loc["flag", "var_seed_lo"] < 0.05 and t.loc["flag", "var_seed"] < 0.1
    assert meta["blocks"]["x"]["prompts"] * meta["blocks"]["x"]["seeds"] == 29 * 20
    for k in ("ss_seed", "var_seed"):
        assert (t[f"{k}_lo"] <= t[k] + 1e-9).all() and (t[k] <= t[f"{k}_hi"] + 1e-9).all()


def test_seed_composition_quartiles_and_interval() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((40, 5))
    out = seed_composition({"x": x}, np.arange(5), CompositionSettings(reps=200))
    np.testing.assert_allclose(out["x_median"], np.median(x, 0))
    np.testing.assert_allclose(out["x_mean"], x.mean(0))
    assert (out["x_lo"] < out["x_mean"]).all() and (out["x_mean"] < out["x_hi"]).all()
