"""Read a sweep's scores and features for the analyses, through `SweepTables` (read-only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from seedscope.errors import SeedscopeError
from seedscope.tables import SweepTables

SCORE_HINT = "grayscale,border,sky,text,composition"


def scores_frame(sweep: SweepTables, names: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per scored image: keys, `prompt`, `set` and every scorer's `<scorer>.<column>`."""
    folder = sweep.path / "scores"
    present = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    if not present and not names:
        raise SeedscopeError(
            f"{sweep.path} has no scores yet; run `seedscope score {sweep.path} "
            f"--scorers {SCORE_HINT}` first."
        )
    return sweep.scores(names=list(names) if names else None).to_pandas()


def features(sweep: SweepTables, name: str, **settings: Any) -> tuple[pd.DataFrame, np.ndarray]:
    """Cached features (keys sorted by prompt_id, seed; float32 (N, dim)); never computes."""
    keys, x = sweep.features(name, **settings)
    return keys.to_pandas(), np.asarray(x, np.float32)
