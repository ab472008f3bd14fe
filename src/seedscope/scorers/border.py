"""Border/frame detection: uniform bands of one colour along the image edges."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from seedscope.scorers.base import Context, Scorer, as_array


def band_width(
    rgb: np.ndarray,
    tol: float = 12.0,
    max_frac: float = 0.25,
    edge: float = 0.5,
    corner: float = 0.05,
) -> int:
    """Frame width along the first rows of `rgb`: uniform rows of one colour ending at an edge.

    The frame colour is the median of the first two rows, and the `corner` share of columns at
    each end is left out: decoders of latent diffusion models draw their largest artefacts in
    the outermost pixels and the corners (zero padding), where the side frames meet anyway.
    Returns 0 where the band runs past `max_frac` of the image (a plain background, not a
    frame) or where neither the next row nor the one after it mostly leaves the band's colour
    (an object on a plain background); one blurred transition row is allowed, as decoders and
    resampling draw one.
    """
    h, w = rgb.shape[:2]
    c = round(w * corner)
    rgb = rgb[:, c : w - c] if c and w - 2 * c >= 4 else rgb
    ref = np.median(rgb[:2].reshape(-1, rgb.shape[-1]), axis=0)
    limit = int(h * max_frac)
    for i in range(limit + 1):
        dev = np.abs(rgb[i] - ref).max(-1)
        # A frame row: almost every pixel within `tol` of the frame colour.
        if np.quantile(dev, 0.95) > tol:
            after = np.abs(rgb[i + 1] - ref).max(-1) if i + 1 < h else dev
            ends = max((dev > tol).mean(), (after > tol).mean()) >= edge
            return i if i > 0 and ends else 0
    return 0


class BorderScorer(Scorer):
    """Measures the uniform frame on each side; flags a border when all four sides have one."""

    name = "border"
    version = "2"
    schema = pa.schema(
        [
            ("border_top", pa.float32()),
            ("border_bottom", pa.float32()),
            ("border_left", pa.float32()),
            ("border_right", pa.float32()),
            ("border_fraction", pa.float32()),
            ("border", pa.bool_()),
        ]
    )

    def __init__(
        self, min_width: float = 0.015, tol: float = 12.0, sides: int = 4, corner: float = 0.05
    ) -> None:
        self.min_width = min_width
        self.tol = tol
        self.sides = sides
        self.corner = corner

    def score(
        self, images: Sequence[Image.Image], context: Context | None = None
    ) -> list[dict[str, Any]]:
        """Width of the uniform band on each side (fraction of the image size) and the flag."""
        out = []
        for im in images:
            a = as_array(im)
            h, w = a.shape[:2]
            widths = {
                "border_top": band_width(a, self.tol, corner=self.corner) / h,
                "border_bottom": band_width(a[::-1], self.tol, corner=self.corner) / h,
                "border_left": band_width(a.transpose(1, 0, 2), self.tol, corner=self.corner) / w,
                "border_right": band_width(a.transpose(1, 0, 2)[::-1], self.tol, corner=self.corner)
                / w,
            }
            framed = sum(v >= self.min_width for v in widths.values())
            mask = np.zeros((h, w), bool)
            t, b = round(widths["border_top"] * h), round(widths["border_bottom"] * h)
            left, r = round(widths["border_left"] * w), round(widths["border_right"] * w)
            mask[:t] = True
            mask[h - b :] = True
            mask[:, :left] = True
            mask[:, w - r :] = True
            out.append(
                {**widths, "border_fraction": float(mask.mean()), "border": framed >= self.sides}
            )
        return out
