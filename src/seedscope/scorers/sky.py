"""Sky at the top: smooth blue or pale regions grown from the top edge, ending at a horizon."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image
from scipy import ndimage

from seedscope.scorers.base import Context, Scorer


def _from_top(cand: np.ndarray) -> np.ndarray:
    labels, _ = ndimage.label(cand)
    top = np.unique(labels[0][labels[0] > 0])
    return np.isin(labels, top)


def sky_masks(
    image: Image.Image, size: int = 96, grad_max: float = 5.0
) -> tuple[np.ndarray, np.ndarray]:
    """Blue-sky and pale-sky candidate masks: smooth regions touching the top edge."""
    a = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR), np.float64)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    v = a.max(-1)
    s = np.where(v > 0, (v - a.min(-1)) / np.maximum(v, 1e-9), 0.0)
    gy, gx = np.gradient(ndimage.gaussian_filter(a.mean(-1), 1.0))
    smooth = ndimage.uniform_filter(np.hypot(gx, gy), 5) < grad_max
    blue = smooth & (b >= r + 10) & (b >= g + 5) & (v > 40)
    pale = smooth & (v > 150) & (s < 0.25)
    # Clouds in a blue sky: pale pixels enclosed by blue count as sky.
    blue_sky = ndimage.binary_fill_holes(_from_top(blue)) & (blue | pale)
    return blue_sky, _from_top(blue | pale)


class SkyScorer(Scorer):
    """Sky share of the top third and the sky band's height; flags a prominent sky."""

    name = "sky"
    version = "1"
    schema = pa.schema(
        [("sky_top_fraction", pa.float32()), ("sky_height", pa.float32()), ("sky", pa.bool_())]
    )

    def __init__(self, min_fraction: float = 0.5, max_bottom: float = 0.5) -> None:
        self.min_fraction = min_fraction
        self.max_bottom = max_bottom

    def _measure(self, m: np.ndarray) -> tuple[float, float]:
        h = m.shape[0]
        # Sky ends at a horizon: a region that also fills the bottom is a plain backdrop.
        if m[-(h // 3) :].mean() > self.max_bottom:
            return 0.0, 0.0
        rows = m.mean(1) >= 0.5
        height = float(np.argmin(rows) if not rows.all() else h) / h
        return float(m[: h // 3].mean()), height

    def score(
        self, images: Sequence[Image.Image], context: Context | None = None
    ) -> list[dict[str, Any]]:
        """Sky share of the top third, sky band height (leading rows mostly sky) and the flag."""
        out = []
        for im in images:
            top, height = max(self._measure(m) for m in sky_masks(im))
            out.append(
                {"sky_top_fraction": top, "sky_height": height, "sky": top >= self.min_fraction}
            )
        return out
