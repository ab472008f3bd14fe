"""Style features: Gram matrices (Gatys et al. 2016) of several TF-Inception-v3 layers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from seedscope.features.base import FeatureExtractor
from seedscope.features.inception import check_mode, load_network, to_input

LAYERS = ("conv_1", "conv_2", "conv_3")
_CHANNELS = {"conv": 32, "conv_1": 32, "conv_2": 64, "conv_3": 80, "conv_4": 192}


class GramExtractor(FeatureExtractor):
    """Upper triangles of the channel Gram matrices of early Inception layers, per image."""

    name = "gram"
    version = "1"

    def __init__(
        self,
        layers: Sequence[str] = LAYERS,
        resize: str = "clean",
        size: int = 149,
        batch_size: int = 16,
    ) -> None:
        bad = [name for name in layers if name not in _CHANNELS]
        if bad:
            from seedscope.errors import SeedscopeError

            raise SeedscopeError(
                f"unknown Gram layer(s) {bad}; use some of {', '.join(_CHANNELS)}."
            )
        self.layers = tuple(layers)
        self.preprocess = check_mode(resize)
        self._mode = resize
        self.size = size
        self.batch_size = batch_size
        self.dim = sum(c * (c + 1) // 2 for c in (_CHANNELS[name] for name in self.layers))

    @torch.inference_mode()
    def extract(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Gram features per image: G = F F^T / (H W) per layer, upper triangles, concatenated."""
        layers = dict(load_network().net.layers.named_children())
        order = list(layers)
        last = max(order.index(name) for name in self.layers)
        out = [np.zeros((0, self.dim), np.float32)]
        for i in range(0, len(images), self.batch_size):
            h = to_input(images[i : i + self.batch_size], self._mode, self.size)
            parts = []
            for name in order[: last + 1]:
                h = layers[name](h)
                if name in self.layers:
                    f = h.flatten(2)
                    g = f @ f.transpose(1, 2) / f.shape[-1]
                    iu = torch.triu_indices(g.shape[1], g.shape[1])
                    parts.append(g[:, iu[0], iu[1]])
            out.append(torch.cat(parts, 1).numpy().astype(np.float32))
        return np.concatenate(out)
