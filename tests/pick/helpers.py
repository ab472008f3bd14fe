"""Write synthetic score caches into real sweep directories (planted seed effects)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from seedscope.identity import Identity, write_identity
from seedscope.store import atomic_write_parquet


def write_scores(sweep: Path, scorer: str, df: pd.DataFrame) -> None:
    """A score cache `scores/<scorer>/` holding `df` (prompt_id, seed and the scorer's columns)."""
    folder = sweep / "scores" / scorer
    ident = Identity(scorer, "test", {"synthetic": True})
    write_identity(folder, ident)
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    table = table.set_column(0, "prompt_id", table["prompt_id"].cast(pa.int64()))
    table = table.set_column(1, "seed", table["seed"].cast(pa.int64()))
    atomic_write_parquet(table, folder / "part-0.parquet", ident.metadata())
