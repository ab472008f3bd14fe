"""Extract features once per (image, extractor, preprocessing); cache in DIR/features/<key>/."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from seedscope.errors import SeedscopeError
from seedscope.features.base import FeatureExtractor
from seedscope.store import (
    KEY_SCHEMA,
    KEYS,
    DirLock,
    atomic_write_parquet,
    decode_png,
    key_pairs,
    open_sweep,
    part_path,
    read_table,
    remove_temp_files,
)

log = logging.getLogger(__name__)


def _table(keys: pa.Table, feats: np.ndarray) -> pa.Table:
    flat = pa.array(feats.astype(np.float32).ravel(), pa.float32())
    col = pa.FixedSizeListArray.from_arrays(flat, feats.shape[1])
    return pa.table({"prompt_id": keys["prompt_id"], "seed": keys["seed"], "feature": col})


def _read(path: Path, ex: FeatureExtractor) -> tuple[pa.Table, np.ndarray]:
    t = read_table(path, f"features/{ex.key}")
    if t is None or t.num_rows == 0:
        return KEY_SCHEMA.empty_table(), np.zeros((0, ex.dim), np.float32)
    feats = np.asarray(t["feature"].combine_chunks().flatten(), np.float32).reshape(t.num_rows, -1)
    return t.select(list(KEYS)), feats


def sweep_features(
    sweep: str | Path,
    extractor: FeatureExtractor,
    *,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> tuple[pa.Table, np.ndarray]:
    """Features of every image of a sweep, computing and caching only those not cached yet.

    Returns the (prompt_id, seed) keys sorted and the matching (N, dim) float32 array.
    """
    if batch_size < 1:
        raise SeedscopeError(f"--batch-size must be at least 1, not {batch_size}.")
    opened = open_sweep(sweep)
    path = opened.path
    folder = path / "features" / extractor.key
    meta = {"seedscope": json.dumps(extractor.settings())}
    with DirLock(folder, what="feature extraction"):
        remove_temp_files(folder)
        cached = read_table(path, f"features/{extractor.key}", columns=KEYS)
        done = set() if cached is None else set(key_pairs(cached))
        for batch in opened.iter_batches(["prompt_id", "seed", "png"], batch_size):
            pids, seeds = batch["prompt_id"].to_pylist(), batch["seed"].to_pylist()
            todo = [i for i, k in enumerate(zip(pids, seeds, strict=True)) if k not in done]
            if not todo:
                continue
            images = [decode_png(batch["png"][i].as_py()) for i in todo]
            keys = pa.table(
                {
                    "prompt_id": pa.array([pids[i] for i in todo], pa.int64()),
                    "seed": pa.array([seeds[i] for i in todo], pa.int64()),
                }
            )
            atomic_write_parquet(_table(keys, extractor.extract(images)), part_path(folder), meta)
            done.update((pids[i], seeds[i]) for i in todo)
            if progress is not None:
                progress(len(todo))
        keys, feats = _read(path, extractor)
    order = np.lexsort((np.asarray(keys["seed"]), np.asarray(keys["prompt_id"])))
    return keys.take(pa.array(order)), feats[order]
