"""Extract features once per (image, extractor, preprocessing); cache in DIR/features/<key>/."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from seedscope.features.base import FeatureExtractor
from seedscope.scorers import _io

log = logging.getLogger(__name__)


def _table(keys: pa.Table, feats: np.ndarray) -> pa.Table:
    flat = pa.array(feats.astype(np.float32).ravel(), pa.float32())
    col = pa.FixedSizeListArray.from_arrays(flat, feats.shape[1])
    return pa.table({"prompt_id": keys["prompt_id"], "seed": keys["seed"], "feature": col})


def _read(folder: Path, ex: FeatureExtractor) -> tuple[pa.Table, np.ndarray]:
    t = _io.read_table(folder.parent.parent, f"features/{folder.name}")
    if t is None or t.num_rows == 0:
        return _io.KEY_SCHEMA.empty_table(), np.zeros((0, ex.dim), np.float32)
    feats = np.asarray(t["feature"].combine_chunks().flatten(), np.float32).reshape(t.num_rows, -1)
    return t.select(list(_io.KEYS)), feats


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
    path = _io.check_sweep(sweep)
    folder = path / "features" / extractor.key
    meta = {"seedscope": json.dumps(extractor.settings())}
    with _io.locked(folder):
        _io.clean_temporaries(folder)
        done_keys, _ = _read(folder, extractor)
        done = set(
            zip(done_keys["prompt_id"].to_pylist(), done_keys["seed"].to_pylist(), strict=True)
        )
        for batch in _io.iter_images(path, ["prompt_id", "seed", "png"], batch_size):
            pids, seeds = batch["prompt_id"].to_pylist(), batch["seed"].to_pylist()
            todo = [i for i, k in enumerate(zip(pids, seeds, strict=True)) if k not in done]
            if not todo:
                continue
            images = [_io.decode_png(batch["png"][i].as_py()) for i in todo]
            keys = pa.table(
                {
                    "prompt_id": pa.array([pids[i] for i in todo], pa.int64()),
                    "seed": pa.array([seeds[i] for i in todo], pa.int64()),
                }
            )
            _io.write_shard(_table(keys, extractor.extract(images)), folder, meta)
            done.update((pids[i], seeds[i]) for i in todo)
            if progress is not None:
                progress(len(todo))
        keys, feats = _read(folder, extractor)
    order = np.lexsort((np.asarray(keys["seed"]), np.asarray(keys["prompt_id"])))
    return keys.take(pa.array(order)), feats[order]
