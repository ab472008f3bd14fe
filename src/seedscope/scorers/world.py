"""Prompt adherence for the bundled miniature world: does the detected scene match the caption?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.scorers.base import Context, Scorer
from seedscope.world.grammar import MODES


class WorldAdherenceScorer(Scorer):
    """The world detector's reading of each image, and whether it matches the world caption."""

    name = "world"
    version = "2"
    schema = pa.schema(
        [
            ("detected_category", pa.string()),
            ("detected_colour", pa.string()),
            ("category_match", pa.bool_()),
            ("colour_match", pa.bool_()),
            ("adherent", pa.bool_()),
            ("object_x", pa.float32()),
            ("object_y", pa.float32()),
            ("object_area", pa.float32()),
            *[(f"p_{m}", pa.float32()) for m in MODES],
        ]
    )

    def settings(self) -> dict[str, Any]:
        """The digest of the detector weights: another detector gives other numbers."""
        from seedscope.world.detect import weights_digest

        return {**super().settings(), "weights": weights_digest()}

    def score(
        self, images: Sequence[Image.Image], context: Context | None = None
    ) -> list[dict[str, Any]]:
        """Detect each image and judge it against its prompt (matches are None where not asked)."""
        if context is None or context.prompts is None:
            raise SeedscopeError("the world scorer needs the prompt of every image.")
        from seedscope.world.adherence import judge
        from seedscope.world.detect import shared_detector

        dets = shared_detector().detect(list(images))
        out = []
        for det, prompt in zip(dets, context.prompts, strict=True):
            row: dict[str, Any] = {"detected_category": det.category, "detected_colour": det.colour}
            row.update(judge(prompt, det))
            row.update(object_x=det.centroid_x, object_y=det.centroid_y, object_area=det.area)
            row.update({f"p_{m}": getattr(det, m) for m in MODES})
            out.append(row)
        return out
