"""Sky at the top of the image: smooth, bright or blue pixels connected to the top edge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image
from scipy import ndimage

from seedscope.scorers.base import Context, Scorer


def sky_mask(image: Image.Image, size: int = 96, grad_max: float = 5.0) -> np.ndarray:
    """Boolean sky mask at `size` x `size`: smooth sky-coloured regions touching the top edge."""
    a = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR), np.float64)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    v = a.max(-1)
    s = np.where(v > 0, (v - a.min(-1)) / np.maximum(v, 1e-9), 0.0)
    gray = a.mean(-1)
    gy, gx = np.gradient(ndimage.gaussian_filter(gray, 1.0))
    smooth = ndimage.uniform_filter(np.hypot(gx, gy), 5) < grad_max
    blue = (b >= r + 5) & (b >= g - 10) & (v > 70)
    pale = (v > 150) & (s < 0.25)
    cand = smooth & (blue | pale)
    labels, _ = ndimage.label(cand)
    top = np.unique(labels[0][labels[0] > 0])
    return np.isin(labels, top)


class SkyScorer(Scorer):
    """Fraction of the top third that is sky and the height of the sky band; flags a prominent sky."""

    name = "sky"
    version = "1"
    schema = pa.schema(
        [("sky_top_fraction", pa.float32()), ("sky_height", pa.float32()), ("sky", pa.bool_())]
    )

    def __init__(self, min_fraction: float = 0.5) -> None:
        self.min_fraction = min_fraction

    def score(self, images: Sequence[Image.Image], context: Context | None = None) -> list[dict[str, Any]]:
        """Sky share of the top third, sky band height (fraction of rows mostly sky) and the flag."""
        out = []
        for im in images:
            m = sky_mask(im)
            h = m.shape[0]
            top = float(m[: h // 3].mean())
            rows = m.mean(1) >= 0.5
            height = float(np.argmin(rows) if not rows.all() else h) / h
            out.append({"sky_top_fraction": top, "sky_height": height, "sky": top >= self.min_fraction})
        return out
