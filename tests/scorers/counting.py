"""A tiny test scorer that records each construction (its process id) in a file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from PIL import Image

from seedscope.scorers.base import Context, Scorer, as_array


class CountingScorer(Scorer):
    """Mean pixel value of each image; appends this process's id to `log` when built."""

    name = "counting"
    schema = pa.schema([("mean", pa.float64())])

    def __init__(self, log: str) -> None:
        self.log = log
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")

    def score(
        self, images: Sequence[Image.Image], context: Context | None = None
    ) -> list[dict[str, Any]]:
        """The mean pixel value of each image."""
        return [{"mean": float(as_array(im).mean())} for im in images]
