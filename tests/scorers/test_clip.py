"""CLIP score with a tiny random CLIPModel in a local folder (no weights can be downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.scorers import Context, get_scorer


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    transformers = pytest.importorskip("transformers")
    tiny = pytest.importorskip("tests.fixtures.tiny")
    folder = tmp_path_factory.mktemp("clip")
    tiny.write_clip_tokenizer_files(folder)
    tok = transformers.CLIPTokenizer.from_pretrained(folder)
    text = transformers.CLIPTextConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, projection_dim=16,
    )  # fmt: skip
    vision = transformers.CLIPVisionConfig(
        hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        image_size=32, patch_size=8, projection_dim=16,
    )  # fmt: skip
    import torch

    torch.manual_seed(0)
    config = transformers.CLIPConfig(
        text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16
    )
    transformers.CLIPModel(config).save_pretrained(folder)
    proc = transformers.CLIPProcessor(
        image_processor=transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=32),
        tokenizer=tok,
    )
    proc.save_pretrained(folder)
    return folder


def test_clip_score_with_tiny_model(tiny_clip: Path) -> None:
    scorer = get_scorer("clip", model=str(tiny_clip))
    rng = np.random.default_rng(0)
    ims = [Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)) for _ in range(3)]
    prompts = ["a red cat", "a blue car", "a photo of a dog"]
    rows = scorer.score(ims, Context(prompts=prompts))
    again = scorer.score(ims, Context(prompts=prompts))
    vals = [r["clip_score"] for r in rows]
    assert all(0.0 <= v <= 100.0 for v in vals)
    assert vals == [r["clip_score"] for r in again]
    # The score is per (image, prompt) pair: one image alone gives the same value.
    single = scorer.score(ims[1:2], Context(prompts=prompts[1:2]))[0]["clip_score"]
    assert single == pytest.approx(vals[1], rel=1e-4, abs=1e-4)


def test_clip_missing_weights_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(SeedscopeError, match="cannot load the CLIP model"):
        get_scorer("clip", model=str(tmp_path / "nothing")).score(
            [Image.new("RGB", (8, 8))], Context(prompts=["x"])
        )


def test_hps_missing_is_clear() -> None:
    try:
        import hpsv2  # noqa: F401
    except ImportError:
        with pytest.raises(SeedscopeError, match="pip install hpsv2"):
            get_scorer("hps")
    else:
        pytest.skip("hpsv2 is installed")
