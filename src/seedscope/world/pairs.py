"""Image/mask pairs from the miniature world for the inpainting audit (mask = one object, dilated)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from seedscope.errors import SeedscopeError
from seedscope.world.grammar import sample_prompt, scene_for_prompt
from seedscope.world.render import render_with_mask


def make_pairs(n: int, seed: int = 0, dilate: int = 3) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """n rendered scenes without text, the main object's mask grown by `dilate` pixels, its category."""
    if n <= 0:
        raise SeedscopeError("--n must be a positive number of pairs.")
    rng = np.random.default_rng(seed)
    out: list[tuple[np.ndarray, np.ndarray, str]] = []
    while len(out) < n:
        scene = scene_for_prompt(sample_prompt(rng), rng, modes=False)
        image, mask = render_with_mask(scene)
        if mask.sum() < 16:  # an object almost hidden behind the second one
            continue
        if dilate:
            mask = ndimage.binary_dilation(mask, iterations=dilate)
        out.append((image, mask, scene.obj.category))
    return out


def write_world_pairs(n: int, out: Path, seed: int = 0, dilate: int = 3) -> Path:
    """Write n world image/mask pairs as a pairs folder (images/, masks/, pairs.csv)."""
    from seedscope.inpaint.pairs import write_pairs

    if out.exists() and not out.is_dir():
        raise SeedscopeError(f"--out {out} is a file; give a folder.")
    return write_pairs(list(make_pairs(n, seed, dilate)), out)
