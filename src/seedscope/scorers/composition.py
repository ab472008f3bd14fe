"""Composition: the main object's mask, centroid and area, by a border-colour background model."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image
from scipy import ndimage
from scipy.cluster.vq import kmeans2

from seedscope.errors import SeedscopeError
from seedscope.scorers.base import Context, Scorer


def otsu(values: np.ndarray, bins: int = 128) -> float:
    """Otsu's (1979) threshold maximising the between-class variance."""
    hist, edges = np.histogram(values, bins=bins)
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers)
    mu0 = m0 / np.maximum(w0, 1)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1)
    return float(centers[np.argmax(w0 * w1 * (mu0 - mu1) ** 2)])


def object_mask(
    image: Image.Image,
    size: int = 128,
    ring: float = 0.06,
    min_distance: float = 25.0,
    min_share: float = 0.2,
) -> np.ndarray:
    """Main object mask at the image's size: pixels far from the border colours, largest blob."""
    w, h = image.size
    small = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    a = ndimage.gaussian_filter(np.asarray(small, np.float64), (1, 1, 0))
    r = max(1, round(size * ring))
    edge = np.concatenate(
        [
            a[:r].reshape(-1, 3),
            a[-r:].reshape(-1, 3),
            a[:, :r].reshape(-1, 3),
            a[:, -r:].reshape(-1, 3),
        ]
    )
    if np.ptp(edge, axis=0).max() < 1.0:
        centroids = edge[:1]
    else:
        centroids, lab = kmeans2(edge, 3, minit="++", seed=0)
        # Background colours cover much of the ring; an object touching the edge covers little.
        share = np.bincount(lab, minlength=len(centroids)) / len(lab)
        centroids = centroids[np.isfinite(centroids).all(1) & (share >= min_share)]
    dist = np.linalg.norm(a[:, :, None, :] - centroids[None, None], axis=-1).min(-1)
    thr = max(min_distance, otsu(dist))
    fg = ndimage.binary_opening(dist > thr, iterations=1)
    labels, n = ndimage.label(fg)
    if n == 0:
        mask = np.zeros((size, size), bool)
    else:
        sizes = ndimage.sum(fg, labels, range(1, n + 1))
        mask = ndimage.binary_fill_holes(labels == (1 + int(np.argmax(sizes))))
    return (
        np.asarray(
            Image.fromarray(mask.astype(np.uint8) * 255).resize((w, h), Image.Resampling.NEAREST)
        )
        > 0
    )


@functools.lru_cache(maxsize=2)
def _depth_pipeline(model: str) -> Any:
    try:
        from transformers import pipeline

        return pipeline("depth-estimation", model=model)
    except (OSError, ValueError) as err:
        raise SeedscopeError(
            f"cannot load the depth model {model!r} ({err}); "
            "give a local folder with a transformers depth-estimation model."
        ) from err


class CompositionScorer(Scorer):
    """Main object centroid (x, y in [0, 1]), area fraction and, with a depth model, depth."""

    name = "composition"
    version = "1"
    schema = pa.schema(
        [
            ("object_x", pa.float32()),
            ("object_y", pa.float32()),
            ("object_area", pa.float32()),
            ("object_depth", pa.float32()),
        ]
    )

    def __init__(self, depth_model: str | None = None) -> None:
        self.depth_model = depth_model

    def masks(self, images: Sequence[Image.Image]) -> list[np.ndarray]:
        """The main object's boolean mask of each image."""
        return [object_mask(im) for im in images]

    def score(
        self, images: Sequence[Image.Image], context: Context | None = None
    ) -> list[dict[str, Any]]:
        """Centroid, area and optional depth of each main object (NaN centroid when none)."""
        out = []
        for im, m in zip(images, self.masks(images), strict=True):
            h, w = m.shape
            area = float(m.mean())
            if area > 0:
                ys, xs = np.nonzero(m)
                cx, cy = float((xs.mean() + 0.5) / w), float((ys.mean() + 0.5) / h)
            else:
                cx = cy = float("nan")
            depth = None
            if self.depth_model is not None and area > 0:
                pred = _depth_pipeline(self.depth_model)(im.convert("RGB"))["predicted_depth"]
                d = np.asarray(pred.squeeze().float().numpy())
                d = np.asarray(Image.fromarray(d).resize((w, h), Image.Resampling.BILINEAR))
                rng = float(d.max() - d.min()) or 1.0
                depth = float((d[m].mean() - d.min()) / rng)
            out.append({"object_x": cx, "object_y": cy, "object_area": area, "object_depth": depth})
        return out
