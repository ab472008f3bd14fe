"""Fixtures for scorer tests."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tests.scorers import photos


@pytest.fixture(scope="session")
def photo_crops() -> list[Image.Image]:
    """40 crops of scikit-image's bundled photos, 128 x 128."""
    pytest.importorskip("skimage")
    return photos.crops(40, 128)


@pytest.fixture(scope="session")
def world_scenes() -> list[tuple[object, np.ndarray, np.ndarray]]:
    """300 rendered world scenes: (scene truth, image, main-object mask)."""
    grammar = pytest.importorskip("seedscope.world.grammar")
    render = pytest.importorskip("seedscope.world.render")
    rng = np.random.default_rng(0)
    out = []
    for _ in range(300):
        scene = grammar.sample_scene(rng)[0]
        img, mask = render.render_with_mask(scene)
        out.append((scene, img, mask))
    return out
