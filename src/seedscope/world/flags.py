"""Latent mode flags: the UNet's training latents carry a scene's frame or grayscale as a coarse pattern.

A frame is two latent pixels wide, too thin for the UNet's coarse levels to decide from the
initial noise (notes/world-v2.md sections 1-6), and guidance pulls generations away from gray.
With flags, each training latent gets one low-frequency cosine pattern (a 2-D DCT-II basis
function, unit RMS) added to its last channel for each mode its scene shows. Whether an image is
framed or gray becomes a coarse property of its latent, like its sky, which the UNet's 4x4 level
can decide from the seed's low frequencies and then draw the thin frame (or the gray) to match.
The decoder is fine-tuned to draw the same image with or without the pattern; the encoder is
unchanged (a convolutional encoder this shallow cannot place a position-dependent pattern).
For the seed to decide the mode, training pairs flagged scenes with noises whose own projection
on the pattern is high (coupling_cost, minibatch OT) and takes the flag's leak at the last
timestep off their noise (remove_terminal_leak); notes/world-v2.md section 8 has the measurements.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# DCT basis (rows, columns) per mode: the lowest ones along which world latents vary least (the
# saddle (1, 1): std 0.06 of the scaled latents' last channel, against 0.79 for the mean; (1, 2)
# and its transpose (2, 1): 0.08 each).
PATTERNS: dict[str, tuple[int, int]] = {"border": (1, 1), "grayscale": (1, 2), "text": (2, 1)}
FLAG_CHANNEL = 3


def parse_flags(text: str) -> dict[str, float]:
    """Parse "border=0.6,grayscale=0.6" into {mode: amplitude}; modes must have a pattern."""
    from seedscope.world.grammar import parse_mode_values

    return parse_mode_values(text, tuple(PATTERNS), "latent flag", "amplitude")


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


def read_loss(pred: Any, clean: Any, flags: dict[str, float]) -> Any:
    """Squared error of predicted clean latents' flag reads (read_flags) against the truth's.

    pred and clean are scaled latents (n, c, h, w) as tensors; summed over the flags, mean over
    the batch. It asks for the flag in clean-image terms at every noise level, where the
    epsilon loss hardly weighs it at the noisiest steps (notes/world-v2.md section 12).
    """
    import torch

    size = pred.shape[-1]
    out = pred.new_zeros(())
    for mode, amp in flags.items():
        p = torch.from_numpy(pattern(mode, size)).to(pred.dtype)
        diff = ((pred - clean)[:, FLAG_CHANNEL] * p).mean(dim=(-2, -1)) / amp
        out = out + (diff**2).mean()
    return out


def noise_scores(noise: Any, flags: dict[str, float]) -> dict[str, Any]:
    """Each flag's pattern's projection on standard normal noise (n, c, h, w) (a tensor), itself N(0, 1)."""
    import torch

    noise = torch.as_tensor(noise)
    h, w = noise.shape[-2:]
    out = {}
    for mode in flags:
        p = torch.from_numpy(pattern(mode, h)).to(noise.dtype)
        out[mode] = (noise[:, FLAG_CHANNEL] * p).sum(dim=(-2, -1)) / float(np.sqrt(h * w))
    return out


def coupling_cost(shows: dict[str, Any], noise: Any, flags: dict[str, float]) -> Any:
    """Minibatch OT cost (images x noises) pairing each scene of a flagged mode with high scores.

    A scene showing the mode wants a noise scoring 1.75 (the mean of the top 10% of a standard
    normal, the modes' world rate), one not showing it -0.2: sum over modes of squared distances.
    """
    import torch

    scores = noise_scores(noise, flags)
    cost = torch.zeros(len(noise), len(noise), dtype=torch.float64)
    for mode in flags:
        want = torch.where(torch.as_tensor(shows[mode]), 1.75, -0.2).double()
        cost = cost + (want[:, None] - torch.as_tensor(scores[mode]).double()[None, :]) ** 2
    return cost


def remove_terminal_leak(
    noise: Any, shows: dict[str, Any], flags: dict[str, float], alpha_bar_t: float
) -> Any:
    """Noise whose sum with a flagged latent at the last timestep shows no flag (a new tensor).

    At t = T the noisy latent sqrt(a) z0 + sqrt(1 - a) noise still carries a flag of amplitude
    A as sqrt(a) A sqrt(hw) along the pattern's unit direction, which pure noise at sampling time
    lacks. For each scene showing the mode, that much, over sqrt(1 - a), is taken off the noise
    along the direction, so that the noisiest input's projection is the seed's own, as at
    sampling time: zero terminal SNR (Lin et al. 2024) along the flag patterns only.
    """
    import torch

    noise = torch.as_tensor(noise).clone()
    h, w = noise.shape[-2:]
    k = float(np.sqrt(alpha_bar_t / (1 - alpha_bar_t)))
    for mode, amp in flags.items():
        unit = torch.from_numpy(pattern(mode, h) / np.sqrt(h * w)).to(noise.dtype)
        on = torch.as_tensor(shows[mode]).to(noise.dtype)[:, None, None]
        noise[:, FLAG_CHANNEL] -= on * (k * amp * float(np.sqrt(h * w))) * unit
    return noise
