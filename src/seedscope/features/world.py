"""Fast features for the miniature world: the penultimate layer of its detector CNN."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from seedscope.features.base import FeatureExtractor
from seedscope.scorers import _world


class WorldExtractor(FeatureExtractor):
    """Penultimate-layer features of seedscope.world.detect.WorldDetector."""

    name = "world"
    version = "1"
    preprocess = "native"

    def __init__(self) -> None:
        det = _world.detector()
        self._det = det
        self.dim = int(getattr(det, "feature_dim", 0)) or self._probe()

    def _probe(self) -> int:
        return int(self._det.features([Image.new("RGB", (64, 64))]).shape[1])

    def extract(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Detector features of each image."""
        if not images:
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(self._det.features(list(images)), np.float32)
