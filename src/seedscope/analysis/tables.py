"""Read a sweep's scores and features for the analyses (through `Sweep.scores` / `Sweep.features`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from seedscope.errors import SeedscopeError
from seedscope.store import KEYS, Sweep, read_table

SCORE_HINT = "grayscale,border,sky,text,composition"


def scores_frame(sweep: Sweep, names: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per scored image: keys, `prompt`, `set` and every scorer's `<scorer>.<column>`."""
    folder = sweep.path / "scores"
    present = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not present and not names:
        raise SeedscopeError(
            f"{sweep.path} has no scores yet; run `seedscope score {sweep.path} "
            f"--scorers {SCORE_HINT}` first."
        )
    reader = getattr(sweep, "scores", None)
    if callable(reader):  # the store's own joined table (issue 8)
        return reader(names=list(names) if names else None).to_pandas()
    # Until the store reads scores itself: join the score folders on their keys.
    prompts = sweep.prompts().to_pandas()
    if "set" not in prompts.columns:
        prompts["set"] = None
    out: pd.DataFrame | None = None
    for name in names or present:
        t = read_table(sweep.path, f"scores/{name}")
        if t is None or t.num_rows == 0:
            raise SeedscopeError(
                f"{sweep.path} has no {name} scores; run `seedscope score {sweep.path} "
                f"--scorers {name}` first."
            )
        df = t.to_pandas()
        df = df.rename(columns={c: f"{name}.{c}" for c in df.columns if c not in KEYS})
        df = df.drop_duplicates(list(KEYS), keep="last")
        out = df if out is None else out.merge(df, on=list(KEYS), how="inner")
    assert out is not None
    out = out.merge(prompts[["prompt_id", "prompt", "set"]], on="prompt_id", how="left")
    return out.sort_values(list(KEYS), ignore_index=True)


def features(sweep: Sweep, name: str, **settings: Any) -> tuple[pd.DataFrame, np.ndarray]:
    """Cached features (keys sorted by prompt_id, seed; float32 (N, dim)); never computes."""
    reader = getattr(sweep, "features", None)
    if callable(reader):  # the store's own read-only accessor (issue 8)
        keys, x = reader(name, **settings)
        return keys.to_pandas(), np.asarray(x, np.float32)
    from seedscope.features import get_extractor
    from seedscope.features.cache import read_features

    keys, x = read_features(sweep.path, get_extractor(name, **settings))
    if keys.num_rows == 0:
        raise SeedscopeError(
            f"{sweep.path} has no {name} features; run `seedscope score {sweep.path} "
            f"--features {name}` first."
        )
    return keys.to_pandas(), x
