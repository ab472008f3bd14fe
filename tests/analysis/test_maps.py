"""Seed maps on synthetic features with planted clusters; cluster names checked on held-out prompts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from seedscope.analysis.composition import largest_complete_block
from seedscope.analysis.maps import (
    MapSettings,
    image_properties,
    name_clusters,
    seed_map,
)
from seedscope.errors import SeedscopeError


def _planted_cube(n_p: int = 6, n_s: int = 24, dim: int = 16, rng_seed: int = 0):
    rng = np.random.default_rng(rng_seed)
    group = np.arange(n_s) % 3
    centres = rng.normal(0, 4, size=(3, dim))
    cube = (
        centres[group][None, :, :]
        + rng.normal(0, 1, size=(n_p, 1, dim))  # prompt effect
        + rng.normal(0, 0.7, size=(n_p, n_s, dim))
    )
    return cube, group


@pytest.mark.parametrize("by", ["style", "layout"])
def test_seed_map_recovers_planted_clusters(by: str) -> None:
    cube, group = _planted_cube()
    if by == "layout":
        cube = cube[:, :, :3]
    m = seed_map(cube, np.arange(24) + 10, MapSettings(by=by, perplexity=5))
    assert m.xy.shape == (24, 2) and np.isfinite(m.xy).all()
    assert adjusted_rand_score(group, m.labels) > 0.9
    if by == "style":
        assert m.image_xy is not None and m.image_xy.shape == (6 * 24, 2)
    # Seeds of one planted group sit closer to each other on the map than to other groups.
    d = np.linalg.norm(m.xy[:, None] - m.xy[None], axis=-1)
    same = group[:, None] == group[None]
    assert d[same & ~np.eye(24, dtype=bool)].mean() < 0.5 * d[~same].mean()


def test_cluster_names_are_checked_on_held_out_prompts() -> None:
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1, 2], 8)
    gray_a = (rng.random((20, 24)) < np.where(labels == 0, 0.8, 0.05)).astype(float)
    gray_b = (rng.random((20, 24)) < np.where(labels == 0, 0.8, 0.05)).astype(float)
    # Cluster 1's "sky" is a fluke of the map's prompts: it is absent on the held-out ones.
    sky_a = (rng.random((20, 24)) < np.where(labels == 1, 0.7, 0.05)).astype(float)
    sky_b = (rng.random((20, 24)) < 0.05).astype(float)
    out = name_clusters(
        labels, {"grayscale": gray_a, "sky": sky_a}, {"grayscale": gray_b, "sky": sky_b}
    ).set_index("cluster")
    assert out.loc[0, "property"] == "grayscale" and out.loc[0, "holds"]
    assert out.loc[0, "share_heldout"] > 0.6
    assert out.loc[1, "property"] == "sky" and not out.loc[1, "holds"]
    assert pd.isna(out.loc[2, "property"])


def test_image_properties_from_world_scores() -> None:
    x = np.array([[0.1, 0.5, 0.9]])
    grids = {
        "world.object_x": x,
        "world.object_y": np.array([[0.5, 0.1, 0.9]]),
        "world.object_area": np.array([[0.01, 0.1, 0.3]]),
        "world.p_sky": np.array([[0.9, 0.2, np.nan]]),
    }
    props = image_properties(grids)
    assert props["left"].tolist() == [[1, 0, 0]] and props["right"].tolist() == [[0, 0, 1]]
    assert props["top"].tolist() == [[0, 1, 0]] and props["large"].tolist() == [[0, 0, 1]]
    assert props["sky"][0, :2].tolist() == [1, 0] and np.isnan(props["sky"][0, 2])


def test_largest_complete_block() -> None:
    ok = np.ones((6, 5), bool)
    ok[2, :] = False  # a prompt with no images
    ok[:, 4] = False  # a seed missing everywhere
    ok[0, 1] = False  # one hole
    r, c = largest_complete_block(ok)
    assert ok[np.ix_(r, c)].all() and len(r) * len(c) == 16
    with pytest.raises(SeedscopeError):
        seed_map(np.full((3, 5, 2), np.nan), np.arange(5), MapSettings())
