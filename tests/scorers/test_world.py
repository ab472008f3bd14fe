"""World adherence scorer and world features: thin wrappers over the world detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.features import get_extractor
from seedscope.scorers import Context, get_scorer


@pytest.fixture
def random_detector(monkeypatch: pytest.MonkeyPatch) -> object:
    detect = pytest.importorskip("seedscope.world.detect")
    import torch

    torch.manual_seed(0)
    det = detect.WorldDetector(net=detect.DetectorNet())
    monkeypatch.setattr(detect, "shared_detector", lambda: det)
    return det


def test_world_wrappers_with_an_untrained_detector(random_detector: object) -> None:
    ims = [Image.fromarray(np.full((64, 64, 3), v, np.uint8)) for v in (10, 200)]
    rows = get_scorer("world").score(ims, Context(prompts=["a red circle", "a photo of nothing"]))
    assert rows[0]["category_match"] is not None and rows[1]["category_match"] is None
    assert rows[1]["adherent"] is None
    assert rows[0]["adherent"] in (True, False)
    assert all(0.0 <= rows[0][f"p_{m}"] <= 1.0 for m in ("grayscale", "border", "sky", "text"))
    ex = get_extractor("world")
    f = ex.extract(ims)
    assert f.shape == (2, ex.dim) and f.dtype == np.float32


def test_world_scorer_needs_prompts(random_detector: object) -> None:
    with pytest.raises(SeedscopeError, match="prompt"):
        get_scorer("world").score([Image.new("RGB", (64, 64))])


def test_world_adherence_accuracy(world_scenes: list) -> None:
    pytest.importorskip("seedscope.world.detect").shared_detector.cache_clear()
    scenes = world_scenes[:200]
    prompts = [f"a {s.obj.colour} {s.obj.category}" for s, _, _ in scenes]
    rows = get_scorer("world").score(
        [Image.fromarray(img) for _, img, _ in scenes], Context(prompts=prompts)
    )
    # Real scenes of their captions: the scorer should call nearly all of them adherent.
    acc = np.mean([bool(r["adherent"]) for r in rows])
    assert acc >= 0.85
    truth_x = np.array([s.obj.cx / 64 for s, _, _ in scenes])
    got_x = np.array([r["object_x"] for r in rows])
    assert np.median(np.abs(truth_x - got_x)) < 0.03


def test_other_detector_weights_are_another_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    detect = pytest.importorskip("seedscope.world.detect")
    import torch
    from safetensors.torch import save_file

    if not detect.DETECTOR_PATH.is_file():
        pytest.skip("no bundled detector weights")
    shipped = (get_scorer("world").identity, get_extractor("world").identity)
    assert all(len(i.settings["weights"]) == 16 for i in shipped)
    torch.manual_seed(1)
    other = tmp_path / "detector.safetensors"
    save_file(detect.DetectorNet().state_dict(), str(other))
    monkeypatch.setattr(detect, "DETECTOR_PATH", other)
    retrained = (get_scorer("world").identity, get_extractor("world").identity)
    assert retrained[0] != shipped[0] and retrained[1] != shipped[1]
    assert retrained[0].settings["weights"] == detect.weights_digest(other)
    # The same cache folder, so that the old cache is found and refused, not kept beside.
    assert get_extractor("world").key == "world"
