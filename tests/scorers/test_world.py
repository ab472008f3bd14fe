"""World adherence scorer and world features: thin wrappers over the world detector."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.features import get_extractor
from seedscope.scorers import Context, _world, get_scorer


@pytest.fixture
def random_detector(monkeypatch: pytest.MonkeyPatch) -> object:
    detect = pytest.importorskip("seedscope.world.detect")
    import torch

    torch.manual_seed(0)
    det = detect.WorldDetector(net=detect.DetectorNet())
    monkeypatch.setattr(_world, "detector", lambda: det)
    return det


def test_world_wrappers_with_an_untrained_detector(random_detector: object) -> None:
    ims = [Image.fromarray(np.full((64, 64, 3), v, np.uint8)) for v in (10, 200)]
    rows = get_scorer("world").score(ims, Context(prompts=["a red circle", "a photo of nothing"]))
    assert rows[0]["category_match"] is not None and rows[1]["category_match"] is None
    assert rows[1]["adherence"] is None
    assert rows[0]["adherence"] in (0.0, 0.5, 1.0)
    ex = get_extractor("world")
    f = ex.extract(ims)
    assert f.shape == (2, ex.dim) and f.dtype == np.float32


def test_world_scorer_needs_prompts(random_detector: object) -> None:
    with pytest.raises(SeedscopeError, match="prompt"):
        get_scorer("world").score([Image.new("RGB", (64, 64))])


def test_world_adherence_accuracy(world_scenes: list) -> None:
    try:
        _world.detector.cache_clear()
        _world.detector()
    except SeedscopeError as err:
        pytest.skip(str(err))
    from seedscope.world.grammar import caption, parse_prompt  # noqa: F401

    scenes = world_scenes[:200]
    prompts = [f"a {s.obj.colour} {s.obj.category}" for s, _, _ in scenes]
    rows = get_scorer("world").score(
        [Image.fromarray(img) for _, img, _ in scenes], Context(prompts=prompts)
    )
    acc = np.mean([r["adherence"] for r in rows])
    assert acc >= 0.8
