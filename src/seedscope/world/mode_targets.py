"""Mode pseudo-targets: a decoded image redrawn as the frame or grayscale its latent's flag asks for.

A generation from pure noise has no real image to pair with, so the decoder cannot be taught by
L1 to a scene. Where the UNet drew a mode's flag (seedscope.world.flags), the target is the
decoder's own image with that mode applied as the world's renderer applies it
(seedscope.world.render): a uniform frame of one of its frame colours, the nearest to what the
decoder drew along the edges, then the ITU-R BT.601 luminance.
"""

from __future__ import annotations

import numpy as np

from seedscope.world.render import FRAME_COLOURS

# The world's frames are 3-5 pixels wide at 64 pixels (render._border): the middle width.
FRAME_WIDTH = 4


def luminance(rgb: np.ndarray) -> np.ndarray:
    """The image in gray (BT.601 luma, as PIL's convert("L")) on all three channels, uint8."""
    y = rgb[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    g = np.clip(np.rint(y), 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=-1)


def framed(rgb: np.ndarray, width: int = FRAME_WIDTH) -> np.ndarray:
    """The image with its outer `width` pixels painted the world's frame colour nearest (RGB
    distance) to the median of its outer two pixels."""
    h, w = rgb.shape[:2]
    ring = np.ones((h, w), bool)
    ring[2 : h - 2, 2 : w - 2] = False
    median = np.median(rgb[ring].reshape(-1, rgb.shape[-1]).astype(np.float64), axis=0)
    palette = np.array(FRAME_COLOURS, np.float64)
    colour = palette[np.argmin(((palette - median[:3]) ** 2).sum(axis=1))]
    out = rgb.copy()
    band = np.ones((h, w), bool)
    band[width : h - width, width : w - width] = False
    out[band] = colour.astype(rgb.dtype)
    return out


def mode_target(rgb: np.ndarray, border: bool, grayscale: bool) -> np.ndarray:
    """The target for a decoded image (h, w, 3 uint8): framed if border, then gray if grayscale."""
    out = framed(rgb) if border else rgb.copy()
    return luminance(out) if grayscale else out
