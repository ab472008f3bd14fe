"""CLIP score (Hessel et al. 2021): 100 x max(cos(image, text), 0), local transformers CLIP."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import torch
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.scorers.base import Context, Scorer


@functools.lru_cache(maxsize=2)
def _load(model: str) -> tuple[Any, Any]:
    from transformers import CLIPModel, CLIPProcessor

    try:
        return CLIPModel.from_pretrained(model).eval(), CLIPProcessor.from_pretrained(model)
    except OSError as err:
        raise SeedscopeError(
            f"cannot load the CLIP model {model!r} offline; give a local folder or a model "
            "already in the "
            "Hugging Face cache (e.g. huggingface-cli download openai/clip-vit-base-patch32)."
        ) from err


class ClipScorer(Scorer):
    """Image-prompt agreement by CLIP score; optional (needs CLIP weights on disk)."""

    name = "clip"
    version = "1"
    schema = pa.schema([("clip_score", pa.float32())])

    def __init__(self, model: str | None = None) -> None:
        self.model = model or os.environ.get("SEEDSCOPE_CLIP_MODEL", "openai/clip-vit-base-patch32")

    @torch.inference_mode()
    def score(
        self, images: Sequence[Image.Image], context: Context | None = None
    ) -> list[dict[str, Any]]:
        """CLIP score of each image against its prompt."""
        if context is None or context.prompts is None:
            raise SeedscopeError("the clip scorer needs the prompt of every image.")
        model, proc = _load(self.model)
        inputs = proc(
            text=list(context.prompts),
            images=[im.convert("RGB") for im in images],
            return_tensors="pt",
            padding=True,
            truncation=True,
        )
        out = model(**inputs)
        img = torch.nn.functional.normalize(out.image_embeds, dim=-1)
        txt = torch.nn.functional.normalize(out.text_embeds, dim=-1)
        s = (100.0 * (img * txt).sum(-1)).clamp_min(0.0)
        return [{"clip_score": float(v)} for v in s]
