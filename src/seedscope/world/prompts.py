"""World prompt sets (optionally disjoint named sets) and real reference scenes for them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.world.grammar import caption, parse_prompt, sample_prompt, scene_for_prompt
from seedscope.world.render import render


def make_prompts(n: int, seed: int = 0, sets: Sequence[str] | None = None) -> pd.DataFrame:
    """n distinct world captions (id, prompt[, set]); with sets, split into disjoint named sets."""
    if n <= 0:
        raise SeedscopeError("--n must be a positive number of prompts.")
    rng = np.random.default_rng(seed)
    seen: dict[str, None] = {}
    tries = 0
    while len(seen) < n:
        tries += 1
        if tries > 200 * n + 10_000:
            raise SeedscopeError(
                f"the world grammar cannot write {n} distinct prompts; ask for fewer."
            )
        seen.setdefault(caption(sample_prompt(rng), rng), None)
    df = pd.DataFrame({"id": np.arange(n, dtype=np.int64), "prompt": list(seen)})
    if sets:
        # Disjoint sets: consecutive blocks of a random permutation, as even as possible.
        order = rng.permutation(n)
        labels = np.empty(n, dtype=object)
        for name, block in zip(sets, np.array_split(order, len(sets)), strict=True):
            labels[block] = name
        df["set"] = labels
    return df


def render_prompts(prompts: Sequence[str], out: Path, per_prompt: int = 1, seed: int = 0) -> int:
    """Render real world scenes for prompts into a folder of PNGs (the reference set for FID)."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    count = 0
    for i, text in enumerate(prompts):
        p = parse_prompt(text)
        if p is None:
            raise SeedscopeError(
                f"prompt {i} ({text!r}) names no world category, so it cannot be rendered."
            )
        for k in range(per_prompt):
            img = render(scene_for_prompt(p, rng))
            Image.fromarray(img).save(out / f"{i:06d}_{k:02d}.png")
            count += 1
    return count
