"""Synthetic score tables with planted seed effects, shaped like `Sweep.scores()`."""

from __future__ import annotations

import numpy as np
import pandas as pd


def score_table(
    n_prompts: int = 40,
    n_seeds: int = 30,
    *,
    seed_effect: float = 1.0,
    flag_seeds: tuple[int, ...] = (),
    rng_seed: int = 0,
) -> pd.DataFrame:
    """Long (prompt_id, seed) table: `hps.hps` = prompt + seed_effect * seed quality + noise.

    `sky.sky` is True with rate 0.9 for `flag_seeds` and 0.05 otherwise; half the prompts are
    in set "a", half in "b".
    """
    rng = np.random.default_rng(rng_seed)
    quality = np.linspace(-1, 1, n_seeds)
    rng.shuffle(quality)
    p = rng.normal(size=(n_prompts, 1))
    hps = p + seed_effect * quality[None, :] + rng.normal(size=(n_prompts, n_seeds))
    rate = np.where(np.isin(np.arange(n_seeds), flag_seeds), 0.9, 0.05)
    sky = rng.random((n_prompts, n_seeds)) < rate[None, :]
    pid, sd = np.meshgrid(np.arange(n_prompts), np.arange(n_seeds), indexing="ij")
    return pd.DataFrame(
        {
            "prompt_id": pid.ravel(),
            "seed": sd.ravel() + 100,
            "prompt": [f"prompt {i}" for i in pid.ravel()],
            "set": np.where(pid.ravel() < n_prompts // 2, "a", "b"),
            "hps.hps": hps.ravel(),
            "sky.sky": sky.ravel(),
            "world.detected_category": "circle",
        }
    ), quality
