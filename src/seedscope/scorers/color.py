"""Grayscale detection by colourfulness (Hasler & Süsstrunk 2003) and mean HSV saturation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from seedscope.scorers.base import Context, Scorer, as_array


def colourfulness(rgb: np.ndarray) -> float:
    """Colourfulness M of Hasler & Süsstrunk (2003) on 0-255 RGB; ~0 gray, > 33 colourful."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def saturation(rgb: np.ndarray) -> float:
    """Mean HSV saturation in [0, 1]."""
    mx = rgb.max(-1)
    mn = rgb.min(-1)
    return float(np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-9), 0.0).mean())


class GrayscaleScorer(Scorer):
    """Flags images whose colourfulness (Hasler & Süsstrunk 2003) is below a threshold."""

    name = "grayscale"
    version = "1"
    schema = pa.schema(
        [("colourfulness", pa.float32()), ("saturation", pa.float32()), ("grayscale", pa.bool_())]
    )

    def __init__(self, threshold: float = 8.0) -> None:
        self.threshold = threshold

    def score(
        self, images: Sequence[Image.Image], context: Context | None = None
    ) -> list[dict[str, Any]]:
        """Colourfulness, mean saturation and the grayscale flag of each image."""
        out = []
        for im in images:
            a = as_array(im)
            m = colourfulness(a)
            out.append(
                {"colourfulness": m, "saturation": saturation(a), "grayscale": m < self.threshold}
            )
        return out
