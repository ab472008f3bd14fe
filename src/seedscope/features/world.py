"""Fast features for the miniature world: the penultimate layer of its detector CNN."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from seedscope.features.base import FeatureExtractor


class WorldExtractor(FeatureExtractor):
    """Penultimate-layer features of seedscope.world.detect.WorldDetector (loaded on first use)."""

    name = "world"
    version = "1"
    preprocess = "native"

    def __init__(self) -> None:
        from seedscope.world.detect import FEATURE_DIM

        self.dim = FEATURE_DIM

    def settings(self) -> dict[str, Any]:
        """Dimension, preprocessing and the digest of the detector weights that decide them."""
        from seedscope.world.detect import weights_digest

        return {**super().settings(), "weights": weights_digest()}

    def extract(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Detector features of each image."""
        if not images:
            return np.zeros((0, self.dim), np.float32)
        from seedscope.world.detect import shared_detector

        return np.asarray(shared_detector().features(list(images)), np.float32)
