"""Text painted into images: OCR with the PP-OCR models the `rapidocr` wheel ships, or tesseract."""

from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image, ImageDraw

from seedscope.errors import SeedscopeError
from seedscope.scorers.base import Context, Scorer

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w")
Box = tuple[list[tuple[float, float]], str, float]


@functools.lru_cache(maxsize=1)
def _rapidocr() -> Any:
    try:
        from rapidocr import RapidOCR
    except ImportError as err:
        raise SeedscopeError(
            "the text scorer needs rapidocr: pip install 'seedscope[ocr]'."
        ) from err
    # "error": its per-image "text detection result is empty" warning is the normal no-text case
    return RapidOCR(params={"Global.log_level": "error", "Global.use_cls": False})


def _ocr_rapid(a: np.ndarray) -> list[Box]:
    res = _rapidocr()(a)
    if res.boxes is None:
        return []
    return [
        ([(float(x), float(y)) for x, y in box], str(t), float(s))
        for box, t, s in zip(res.boxes, res.txts, res.scores, strict=True)
    ]


def _ocr_tesseract(a: np.ndarray) -> list[Box]:
    exe = shutil.which("tesseract")
    if exe is None:
        raise SeedscopeError(
            "the tesseract backend needs the tesseract binary: apt-get install tesseract-ocr."
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.png"
        Image.fromarray(a).save(path)
        tsv = subprocess.run(
            [exe, str(path), "stdout", "tsv"], capture_output=True, text=True, check=True
        ).stdout
    boxes: list[Box] = []
    for line in tsv.splitlines()[1:]:
        f = line.split("\t")
        if len(f) < 12 or not f[11].strip() or float(f[10]) < 0:
            continue
        x, y, w, h = (float(v) for v in f[6:10])
        boxes.append(
            ([(x, y), (x + w, y), (x + w, y + h), (x, y + h)], f[11], float(f[10]) / 100.0)
        )
    return boxes


class TextScorer(Scorer):
    """Detected text, its area fraction of the image and, given a mask, of the mask."""

    name = "text"
    version = "1"
    schema = pa.schema(
        [
            ("text", pa.string()),
            ("text_boxes", pa.int32()),
            ("text_area", pa.float32()),
            ("text_in_mask", pa.float32()),
            ("has_text", pa.bool_()),
        ]
    )

    def __init__(
        self,
        backend: str = "rapidocr",
        min_confidence: float = 0.5,
        min_side: int = 256,
        min_chars: int = 2,
    ) -> None:
        if backend not in ("rapidocr", "tesseract"):
            raise SeedscopeError(f"unknown OCR backend {backend!r}; use rapidocr or tesseract.")
        self.backend = backend
        self.min_confidence = min_confidence
        self.min_side = min_side
        self.min_chars = min_chars

    def score(
        self, images: Sequence[Image.Image], context: Context | None = None
    ) -> list[dict[str, Any]]:
        """OCR each image (small ones upscaled first); areas use the union of text boxes."""
        ocr = _ocr_rapid if self.backend == "rapidocr" else _ocr_tesseract
        masks = (
            context.masks
            if context is not None and context.masks is not None
            else [None] * len(images)
        )
        out = []
        for im, mask in zip(images, masks, strict=True):
            rgb = im.convert("RGB")
            w, h = rgb.size
            k = max(1.0, self.min_side / min(w, h))
            if k > 1:
                rgb = rgb.resize((round(w * k), round(h * k)), Image.Resampling.BICUBIC)
            boxes = [
                b
                for b in ocr(np.asarray(rgb))
                if b[2] >= self.min_confidence and len(_WORD.findall(b[1])) >= self.min_chars
            ]
            canvas = Image.new("L", (w, h), 0)
            draw = ImageDraw.Draw(canvas)
            for poly, _, _ in boxes:
                draw.polygon([(x / k, y / k) for x, y in poly], fill=1)
            covered = np.asarray(canvas, bool)
            in_mask = None
            if mask is not None:
                m = np.asarray(mask, bool)
                if m.shape != covered.shape:
                    raise SeedscopeError(
                        f"mask shape {m.shape} does not match image size {(h, w)}."
                    )
                in_mask = float(covered[m].mean()) if m.any() else 0.0
            out.append(
                {
                    "text": " ".join(b[1] for b in boxes),
                    "text_boxes": len(boxes),
                    "text_area": float(covered.mean()),
                    "text_in_mask": in_mask,
                    "has_text": bool(boxes),
                }
            )
        return out
