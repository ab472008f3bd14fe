"""Extract features once per (image, extractor, settings); cache in DIR/features/<key>/."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.features.base import FeatureExtractor
from seedscope.identity import Identity, read_identity
from seedscope.store import KEY_SCHEMA, KEYS, open_sweep, read_table, shard_paths
from seedscope.sweep.derive import Producer, derive, stale_error

log = logging.getLogger(__name__)


class FeatureProducer(Producer):
    """A feature extractor as a producer of DIR/features/<key>/ (one `feature` vector column)."""

    kind = "features"

    def __init__(self, extractor: FeatureExtractor) -> None:
        self.extractor = extractor

    @property
    def slug(self) -> str:
        """The extractor's key: one flat folder per setting."""
        return self.extractor.key

    @property
    def identity(self) -> Identity:
        """The extractor's name, version and settings."""
        return self.extractor.identity

    def compute(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> pa.Table:
        """One fixed-size float32 vector per image."""
        return feature_table(self.extractor.extract(list(images)))


def feature_table(feats: np.ndarray) -> pa.Table:
    """An (N, d) array as a table with one fixed-size-list float32 column `feature`."""
    feats = np.asarray(feats, np.float32).reshape(len(feats), -1)
    flat = pa.array(feats.ravel(), pa.float32())
    return pa.table({"feature": pa.FixedSizeListArray.from_arrays(flat, feats.shape[1])})


def read_features(sweep: str | Path, extractor: FeatureExtractor) -> tuple[pa.Table, np.ndarray]:
    """Cached features of one extractor's identity, sorted by (prompt_id, seed); never computes."""
    path = open_sweep(sweep).path
    folder = path / "features" / extractor.key
    found = read_identity(folder)
    if found is not None and found != extractor.identity:
        raise stale_error(folder, found, extractor.identity)
    t = read_table(path, f"features/{extractor.key}") if found is not None else None
    if t is None or t.num_rows == 0:
        return KEY_SCHEMA.empty_table(), np.zeros((0, extractor.dim), np.float32)
    feats = np.asarray(t["feature"].combine_chunks().flatten(), np.float32).reshape(t.num_rows, -1)
    order = np.lexsort((np.asarray(t["seed"]), np.asarray(t["prompt_id"])))
    return t.select(list(KEYS)).take(pa.array(order)), feats[order]


def iter_features(
    sweep: str | Path,
    extractor: FeatureExtractor,
    *,
    seeds: Sequence[int] | None = None,
    batch_rows: int = 8192,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Cached features in batches of (prompt_ids, seeds, float32 (n, dim)), in file order.

    Only the rows of `seeds` (all if None) are read; memory holds one batch, never the cache.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = open_sweep(sweep).path
    folder = path / "features" / extractor.key
    found = read_identity(folder)
    if found is not None and found != extractor.identity:
        raise stale_error(folder, found, extractor.identity)
    files = shard_paths(path, f"features/{extractor.key}") if found is not None else []
    wanted = None if seeds is None else pa.array([int(s) for s in seeds], pa.int64())
    for f in files:  # one file, one batch at a time: no read-ahead of whole files
        with pq.ParquetFile(f) as handle:
            for batch in handle.iter_batches(batch_size=batch_rows, columns=[*KEYS, "feature"]):
                if wanted is not None:
                    batch = batch.filter(pc.is_in(batch.column("seed"), value_set=wanted))
                if batch.num_rows == 0:
                    continue
                flat = batch.column("feature").flatten()
                x = np.asarray(flat, np.float32).reshape(batch.num_rows, -1)
                yield np.asarray(batch.column("prompt_id")), np.asarray(batch.column("seed")), x


def _same(extractor: FeatureExtractor) -> list[Producer]:
    return [FeatureProducer(extractor)]


def sweep_features(
    sweep: str | Path,
    extractor: FeatureExtractor,
    *,
    batch_size: int = 64,
    recompute: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[pa.Table, np.ndarray]:
    """Features of every image of a sweep, computing and caching only those not cached yet.

    Returns the (prompt_id, seed) keys sorted and the matching (N, dim) float32 array.
    `progress(n)` is called with the number of images done in each batch.
    """
    if batch_size < 1:
        raise SeedscopeError(f"--batch-size must be at least 1, not {batch_size}.")
    last = [0]

    def step(done: int, total: int) -> None:
        if progress is not None and done > last[0]:
            progress(done - last[0])
        last[0] = done

    derive(
        sweep,
        functools.partial(_same, extractor),
        batch_size=batch_size,
        recompute=recompute,
        progress=step,
    )
    return read_features(sweep, extractor)
