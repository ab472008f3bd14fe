"""Prompt adherence for the bundled miniature world: does the detected scene match the caption?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.scorers import _world
from seedscope.scorers.base import Context, Scorer

_FIELDS = ("category", "colour")


class WorldAdherenceScorer(Scorer):
    """Detected category and colour versus the world caption; adherence = share matched."""

    name = "world"
    version = "1"
    schema = pa.schema(
        [
            ("detected_category", pa.string()),
            ("detected_colour", pa.string()),
            ("category_match", pa.bool_()),
            ("colour_match", pa.bool_()),
            ("adherence", pa.float32()),
        ]
    )

    def score(
        self, images: Sequence[Image.Image], context: Context | None = None
    ) -> list[dict[str, Any]]:
        """Match each detection against its parsed prompt (None where the prompt is silent)."""
        if context is None or context.prompts is None:
            raise SeedscopeError("the world scorer needs the prompt of every image.")
        from seedscope.world.grammar import parse_prompt

        preds = _world.predict(list(images))
        out = []
        for pred, prompt in zip(preds, context.prompts, strict=True):
            asked = parse_prompt(prompt)
            row: dict[str, Any] = {f"detected_{f}": pred.get(f) for f in _FIELDS}
            matches = []
            for f in _FIELDS:
                want = getattr(asked, f, None) if asked is not None else None
                ok = None if want is None else pred.get(f) == want
                row[f"{f}_match"] = ok
                if ok is not None:
                    matches.append(ok)
            row["adherence"] = sum(matches) / len(matches) if matches else None
            out.append(row)
        return out
