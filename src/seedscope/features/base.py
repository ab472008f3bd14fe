"""The one interface every feature extractor implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image


class FeatureExtractor(ABC):
    """Maps images to float32 vectors; `key` names its cache folder, `preprocess` its resize."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    dim: int
    preprocess: str = "none"

    @abstractmethod
    def extract(self, images: Sequence[Image.Image]) -> np.ndarray:
        """An (N, dim) float32 array, row i for image i."""

    @property
    def key(self) -> str:
        """Cache folder name: the extractor's name, plus a non-default preprocessing."""
        default = getattr(type(self), "default_preprocess", self.preprocess)
        return self.name if self.preprocess == default else f"{self.name}@{self.preprocess}"

    def settings(self) -> dict[str, Any]:
        """What decides the numbers: name, version, dimension and preprocessing."""
        return {
            "extractor": self.name,
            "version": self.version,
            "dim": self.dim,
            "preprocess": self.preprocess,
        }
