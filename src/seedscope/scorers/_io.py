"""Minimal sweep-directory reading and atomic writing for scores and features.

Uses `seedscope.store` where it provides the helper, else a small local version of the
on-disk contract (DESIGN.md): `DIR/sweep.json` and `DIR/images/**/*.parquet`.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from PIL import Image

from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

KEYS = ("prompt_id", "seed")
KEY_SCHEMA = pa.schema([("prompt_id", pa.int64()), ("seed", pa.int64())])


def check_sweep(path: str | os.PathLike[str]) -> Path:
    """Return the sweep directory, or stop with one sentence if it is not one."""
    p = Path(path)
    if not (p / "sweep.json").is_file() or not (p / "images").is_dir():
        raise SeedscopeError(
            f"{p} is not a sweep directory (no sweep.json and images/); "
            "run `seedscope sweep` first."
        )
    return p


def read_plan(path: Path) -> dict[str, Any]:
    """The sweep's plan (sweep.json) as a dict."""
    try:
        return dict(json.loads((path / "sweep.json").read_text()))
    except (OSError, ValueError) as err:
        raise SeedscopeError(f"cannot read {path / 'sweep.json'}: {err}.") from err


def _dataset(path: Path, sub: str) -> ds.Dataset | None:
    files = sorted(str(f) for f in (path / sub).rglob("*.parquet") if not f.name.startswith("."))
    if not files:
        return None
    return ds.dataset(files, format="parquet")


def image_keys(path: Path) -> pa.Table:
    """All (prompt_id, seed) keys of a sweep's images."""
    d = _dataset(path, "images")
    if d is None:
        return KEY_SCHEMA.empty_table()
    return d.to_table(columns=list(KEYS))


def iter_images(path: Path, columns: list[str], batch_size: int = 64) -> Iterator[pa.RecordBatch]:
    """Record batches of a sweep's image table."""
    d = _dataset(path, "images")
    if d is None:
        return
    yield from d.to_batches(columns=columns, batch_size=batch_size)


def read_table(path: Path, sub: str, columns: list[str] | None = None) -> pa.Table | None:
    """Read every shard under `path/sub` as one table, or None if there is none."""
    d = _dataset(path, sub)
    return None if d is None else d.to_table(columns=columns)


def decode_png(data: bytes) -> Image.Image:
    """PNG bytes to an RGB PIL image."""
    return Image.open(io.BytesIO(data)).convert("RGB")


def write_shard(table: pa.Table, folder: Path, metadata: dict[str, str] | None = None) -> Path:
    """Write a parquet shard atomically: a temporary name, then rename."""
    folder.mkdir(parents=True, exist_ok=True)
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta.update({k.encode(): v.encode() for k, v in metadata.items()})
        table = table.replace_schema_metadata(meta)
    name = f"part-{uuid.uuid4().hex[:16]}.parquet"
    tmp = folder / f".{name}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, folder / name)
    return folder / name


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (one writer at a time); fails fast if held."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise SeedscopeError(
                f"{folder} is being written by another process; wait for it to finish."
            ) from err
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clean_temporaries(folder: Path) -> None:
    """Remove temporary shards left by a killed writer."""
    if folder.is_dir():
        for f in folder.glob(".*.tmp"):
            f.unlink(missing_ok=True)
