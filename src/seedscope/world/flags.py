"""Latent mode flags: the autoencoder carries a scene's frame or grayscale as a coarse latent pattern.

A frame is two latent pixels wide, too thin for the UNet's coarse levels to decide from the
initial noise (notes/world-v2.md sections 1-6), and guidance pulls generations away from gray.
With flags, the encoder adds one low-frequency cosine pattern (a 2-D DCT-II basis function, unit
RMS) to the last latent channel for each mode the scene shows, and the decoder draws the frame or
the gray from it. Whether an image is framed or gray becomes a coarse property of its latent, like
its sky: decided by the seed's low frequencies, and the same under the conditional and the
unconditional prediction, so classifier-free guidance leaves it alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# DCT basis (rows, columns) per mode: the lowest ones along which world latents vary least (the
# saddle (1, 1): std 0.06 of the scaled latents' last channel, against 0.79 for the mean).
PATTERNS: dict[str, tuple[int, int]] = {"border": (1, 1), "grayscale": (1, 2)}
FLAG_CHANNEL = 3


def parse_flags(text: str) -> dict[str, float]:
    """Parse "border=0.6,grayscale=0.6" into {mode: amplitude}; modes must have a pattern."""
    from seedscope.errors import SeedscopeError

    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            amp = float(value)
        except ValueError:
            amp = float("nan")
        if not sep or name not in PATTERNS or not amp > 0:
            raise SeedscopeError(
                f"latent flag {part!r} must be MODE=AMPLITUDE with a mode of"
                f" {', '.join(PATTERNS)} and a positive amplitude."
            )
        out[name] = amp
    return out


def pattern(mode: str, size: int) -> np.ndarray:
    """The mode's size x size cosine pattern, cos(pi i y) cos(pi j x) at pixel centres, unit RMS."""
    i, j = PATTERNS[mode]
    u = (np.arange(size) + 0.5) / size
    p = np.outer(np.cos(np.pi * i * u), np.cos(np.pi * j * u))
    return (p / np.sqrt((p**2).mean())).astype(np.float32)


def offsets(shows: dict[str, np.ndarray], flags: dict[str, float], size: int) -> np.ndarray:
    """Per scene, the flags' sum on the flag channel: (n, size, size), in scaled latent units.

    shows maps each flagged mode to a boolean array over the scenes.
    """
    n = len(next(iter(shows.values()))) if shows else 0
    out = np.zeros((n, size, size), np.float32)
    for mode, amp in flags.items():
        out += shows[mode][:, None, None] * (amp * pattern(mode, size))
    return out


def read_flags(z: Any, flags: dict[str, float]) -> dict[str, Any]:
    """Each flag's strength in scaled latents z (n, c, h, w): projection / amplitude (1 = set)."""
    size = z.shape[-1]
    out = {}
    for mode, amp in flags.items():
        p = pattern(mode, size)
        out[mode] = (z[:, FLAG_CHANNEL] * p).mean(axis=(-2, -1)) / amp
    return out


def augment(z: Any, framed: Any, gray: Any, gen: Any, band: int = 3, p: float = 0.5) -> Any:
    """Blur what the flags stand for in unscaled latents z, so that the decoder learns to rely on them.

    For framed scenes (probability p each) the outer `band` latent rows/columns are drawn towards
    each channel's interior mean by a random share; for gray ones the three colour channels get a
    random chroma (a constant plus a 4x4 field, zero mean over channels). Returns a new tensor.
    """
    import torch

    z = z.clone()
    n, _, h, w = z.shape
    pick_f = framed & (torch.rand(n, generator=gen) < p)
    if pick_f.any():
        inner = z[:, :, band:-band, band:-band].mean(dim=(2, 3), keepdim=True)
        lam = torch.rand(n, 1, 1, 1, generator=gen) * 0.7 + 0.3
        ring = torch.ones(h, w, dtype=torch.bool)
        ring[band:-band, band:-band] = False
        blended = lam * z + (1 - lam) * inner
        sel = pick_f[:, None, None, None] & ring[None, None]
        z = torch.where(sel, blended, z)
    pick_g = gray & (torch.rand(n, generator=gen) < p)
    if pick_g.any():
        const = torch.randn(n, 3, 1, 1, generator=gen) * 0.3
        field = torch.randn(n, 3, 4, 4, generator=gen) * 0.2
        chroma = const + torch.nn.functional.interpolate(field, size=(h, w), mode="bilinear")
        chroma = chroma - chroma.mean(dim=1, keepdim=True)
        z[:, :3] = torch.where(pick_g[:, None, None, None], z[:, :3] + chroma, z[:, :3])
    return z
