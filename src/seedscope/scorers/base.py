"""The one interface every per-image scorer implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from PIL import Image

from seedscope.identity import Identity


@dataclass(frozen=True)
class Context:
    """What a scorer may know besides the pixels: the prompts and optional masks, one per image."""

    prompts: Sequence[str] | None = None
    masks: Sequence[np.ndarray | None] | None = None


class Scorer(ABC):
    """A per-image scorer: `score(images, context)` returns one dict per image matching `schema`."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    schema: ClassVar[pa.Schema]

    @abstractmethod
    def score(
        self, images: Sequence[Image.Image], context: Context | None = None
    ) -> list[dict[str, Any]]:
        """Score each image; the i-th dict belongs to the i-th image."""

    runtime_options: ClassVar[tuple[str, ...]] = ("batch_size", "device")
    """Attributes that change speed, not numbers: left out of the identity."""

    def settings(self) -> dict[str, Any]:
        """The options this scorer was built with (saved next to its scores)."""
        return {
            k: v
            for k, v in vars(self).items()
            if not k.startswith("_") and k not in self.runtime_options
        }

    @property
    def identity(self) -> Identity:
        """Name, version and settings: what its cached scores are keyed by."""
        return Identity(self.name, self.version, self.settings())


def as_array(image: Image.Image) -> np.ndarray:
    """An RGB image as an (H, W, 3) float64 array in [0, 255]."""
    return np.asarray(image.convert("RGB"), dtype=np.float64)
