"""The one interface every feature extractor implements."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from seedscope.identity import Identity


class FeatureExtractor(ABC):
    """Maps images to float32 vectors; `key` names its cache folder, `preprocess` its resize."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    dim: int
    preprocess: str = "none"
    runtime_options: ClassVar[tuple[str, ...]] = ("batch_size", "device")
    """Attributes that change speed, not numbers: left out of the identity."""

    @abstractmethod
    def extract(self, images: Sequence[Image.Image]) -> np.ndarray:
        """An (N, dim) float32 array, row i for image i."""

    def settings(self) -> dict[str, Any]:
        """Everything that decides the numbers: dimension, preprocessing and every option."""
        out = {
            k: v
            for k, v in vars(self).items()
            if not k.startswith("_") and k not in self.runtime_options
        }
        out.update(dim=self.dim, preprocess=self.preprocess)
        return out

    @property
    def identity(self) -> Identity:
        """Name, version and settings: what its cached features are keyed by."""
        return Identity(self.name, self.version, self.settings())

    @property
    def key(self) -> str:
        """Cache folder name, one per setting: `inception@clean`, `gram@clean-1a2b3c4d`, `world`.

        The resize mode is spelled out; any other option goes into a short hash. The version
        and the digest of the model's weights (`weights`) are not part of the name, so a new
        version or retrained weights find the old cache and refuse it.
        """
        settings = self.identity.to_dict()["settings"]
        preprocess = settings.pop("preprocess", "none")
        settings.pop("dim", None)
        settings.pop("weights", None)
        key = self.name if preprocess in ("none", "native") else f"{self.name}@{preprocess}"
        if settings:
            text = json.dumps(settings, sort_keys=True)
            key += "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
        return key.replace("/", "_")
