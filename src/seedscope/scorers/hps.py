"""Human Preference Score v2 (Wu et al. 2023) through the optional `hpsv2` package."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.scorers.base import Context, Scorer

_HOWTO = (
    "HPS v2 needs the hpsv2 package and its checkpoint: pip install hpsv2, then put "
    "HPS_v2.1_compressed.pt (from the xswu/HPSv2 Hugging Face repo) in the Hugging Face cache "
    "or pass --option hps.checkpoint=PATH"
)


class HPSv2Scorer(Scorer):
    """HPS v2 of each image for its prompt; optional (needs `hpsv2` and its weights)."""

    name = "hps"
    version = "1"
    schema = pa.schema([("hps", pa.float32())])

    def __init__(self, hps_version: str = "v2.1", checkpoint: str | None = None) -> None:
        self.hps_version = hps_version
        self.checkpoint = checkpoint
        try:
            import hpsv2  # noqa: F401
        except ImportError as err:
            raise SeedscopeError(_HOWTO + ".") from err

    def score(
        self, images: Sequence[Image.Image], context: Context | None = None
    ) -> list[dict[str, Any]]:
        """HPS v2 of each image against its prompt."""
        import hpsv2

        if context is None or context.prompts is None:
            raise SeedscopeError("the hps scorer needs the prompt of every image.")
        out = []
        for im, prompt in zip(images, context.prompts, strict=True):
            try:
                kw = {"cp": self.checkpoint} if self.checkpoint else {}
                val = hpsv2.score([im.convert("RGB")], prompt, hps_version=self.hps_version, **kw)
            except Exception as err:  # hpsv2 raises many kinds when weights are missing offline
                raise SeedscopeError(f"{_HOWTO} ({type(err).__name__}: {err}).") from err
            out.append({"hps": float(val[0])})
        return out
