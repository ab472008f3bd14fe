"""Open a sweep directory and read its tables; atomic Parquet writes and a directory lock.

Layout (the on-disk contract, shared/DESIGN.md): ``DIR/sweep.json`` (the plan),
``DIR/prompts.parquet`` (prompt_id, prompt, set), ``DIR/images/*.parquet`` (one row per
(prompt_id, seed) with PNG bytes and ``noise_sha256``). Other parts write
``DIR/scores/<scorer>/*.parquet`` etc. with `atomic_write_parquet` under `DirLock`.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from seedscope.errors import SeedscopeError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from PIL import Image

log = logging.getLogger(__name__)

PLAN_FILE = "sweep.json"
PROMPTS_FILE = "prompts.parquet"
IMAGES_DIR = "images"
LOCK_FILE = ".lock"
TMP_PREFIX = ".tmp-"
COMPACT_PREFIX = "compact-"
META_REPLACES = "seedscope.replaces"
KEYS = ("prompt_id", "seed")
KEY_SCHEMA = pa.schema([("prompt_id", pa.int64()), ("seed", pa.int64())])
"""The key of every per-image table: images, scores and features."""

IMAGE_SCHEMA = pa.schema(
    [
        ("prompt_id", pa.int64()),
        ("seed", pa.int64()),
        ("prompt", pa.string()),
        ("set", pa.string()),
        ("noise_sha256", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("png", pa.binary()),
    ]
)
"""Columns of an image shard (the contract needs prompt_id, prompt, seed, png, noise_sha256)."""


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def disk_full_error(path: Path) -> SeedscopeError:
    """The one-sentence error for ENOSPC while writing under `path`."""
    return SeedscopeError(
        f"the disk holding {str(path)!r} is full; free some space and run the same command "
        "again to resume (finished shards are kept)."
    )


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Yield a temporary file beside `path`; when the block succeeds, fsync and rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            raise disk_full_error(path.parent) from err
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(data: bytes, path: Path) -> None:
    """Write bytes to a temporary name in the same folder, fsync, then rename over `path`."""
    with _atomic_file(Path(path)) as handle:
        handle.write(data)


def atomic_write_parquet(
    table: pa.Table, path: str | os.PathLike[str], metadata: dict[str, str] | None = None
) -> Path:
    """Write `table` to `path` atomically (temp name, fsync, rename): readers never see half a file.

    `metadata` is merged into the schema's key-value metadata. A full disk raises a
    SeedscopeError and leaves no temporary file behind. Reusable by every part that writes
    tables into a sweep directory (scores, features, analysis).
    """
    path = Path(path)
    if metadata:
        merged = dict(table.schema.metadata or {})
        merged.update({k.encode(): v.encode() for k, v in metadata.items()})
        table = table.replace_schema_metadata(merged)
    with _atomic_file(path) as handle:
        pq.write_table(table, handle, compression="zstd", write_page_checksum=True)
    return path


def remove_temp_files(folder: Path) -> int:
    """Delete temporary files left by a killed writer under `folder`; call under the lock."""
    count = 0
    if folder.is_dir():
        for tmp in folder.rglob(f"{TMP_PREFIX}*"):
            with contextlib.suppress(OSError):
                tmp.unlink()
                count += 1
    return count


class DirLock:
    """An exclusive, non-blocking lock on a directory (fcntl.flock on DIR/.lock).

    The kernel drops the lock when the holder dies, even by kill -9, so a stale lock never
    blocks a restart. Use as a context manager; a second holder gets a SeedscopeError.
    """

    def __init__(self, folder: str | os.PathLike[str], what: str = "sweep") -> None:
        self.folder = Path(folder)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> DirLock:
        """Take the lock or raise SeedscopeError saying another process holds it."""
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise SeedscopeError(
                f"another {self.what} (pid {holder}) is writing into {str(self.folder)!r}; "
                "wait for it to finish or stop it first."
            ) from err
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Release the lock (closing the descriptor drops the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def shard_paths(folder: Path, sub: str = IMAGES_DIR, recursive: bool | None = None) -> list[Path]:
    """All complete Parquet files in `folder/sub`, sorted.

    Image shards (`images/**`, the contract) are found recursively; any other table folder is
    read flat, so a folder nested inside it is never mixed into its rows.
    """
    tables = Path(folder) / sub
    if not tables.is_dir():
        return []
    deep = sub == IMAGES_DIR if recursive is None else recursive
    found = tables.rglob("*.parquet") if deep else tables.glob("*.parquet")
    files = sorted(p for p in found if not p.name.startswith("."))
    if deep:
        return files
    replaced = _replaced_parts(files)
    return [p for p in files if p.name not in replaced]


def _replaced_parts(files: Sequence[Path]) -> set[str]:
    """Names of part files that a compacted file already holds (left by a killed compaction)."""
    out: set[str] = set()
    for f in files:
        if f.name.startswith(COMPACT_PREFIX):
            raw = (pq.read_schema(f).metadata or {}).get(META_REPLACES.encode())
            if raw:
                out.update(json.loads(raw))
    return out


def compact_parts(folder: Path, min_parts: int = 16, max_rows: int = 1 << 18) -> int:
    """Merge a table folder's small `part-*` files into `compact-*` files; call under the lock.

    Rows are streamed file by file (memory of one part). Each compacted file lists the parts it
    replaces in its metadata before they are deleted, so readers and a later run skip (and
    remove) parts that a killed compaction left behind. Returns the number of parts merged.
    """
    folder = Path(folder)
    files = sorted(folder.glob("*.parquet"))
    replaced = _replaced_parts(files)
    for p in files:
        if p.name in replaced:
            p.unlink(missing_ok=True)
    parts = [p for p in files if p.name.startswith("part-") and p.name not in replaced]
    if len(parts) < min_parts:
        return 0
    groups: list[list[Path]] = [[]]
    rows = 0
    for p in parts:
        if rows >= max_rows:
            groups.append([])
            rows = 0
        groups[-1].append(p)
        rows += pq.ParquetFile(p).metadata.num_rows
    merged = 0
    for group in groups:
        if len(group) < 2:
            continue
        schema = pq.read_schema(group[0])
        meta = dict(schema.metadata or {})
        meta[META_REPLACES.encode()] = json.dumps([p.name for p in group]).encode()
        schema = schema.with_metadata(meta)
        target = folder / f"{COMPACT_PREFIX}{uuid.uuid4().hex[:16]}.parquet"
        with _atomic_file(target) as handle:
            writer = pq.ParquetWriter(handle, schema, compression="zstd", write_page_checksum=True)
            for p in group:
                writer.write_table(pq.read_table(p).cast(schema))
            writer.close()
        for p in group:
            p.unlink(missing_ok=True)
        merged += len(group)
    return merged


def part_path(folder: Path) -> Path:
    """A new, unique `part-*.parquet` name in `folder`, for tables written one batch at a time."""
    return Path(folder) / f"part-{uuid.uuid4().hex[:16]}.parquet"


def read_table(
    folder: str | os.PathLike[str], sub: str, columns: Sequence[str] | None = None
) -> pa.Table | None:
    """Every Parquet file in `folder/sub` (e.g. "scores/sky") as one table, or None if none."""
    import pyarrow.dataset as ds

    files = shard_paths(Path(folder), sub)
    if not files:
        return None
    cols = list(columns) if columns is not None else None
    return ds.dataset([str(p) for p in files], format="parquet").to_table(columns=cols)


def key_pairs(table: pa.Table | pa.RecordBatch) -> list[tuple[int, int]]:
    """The (prompt_id, seed) pairs of a keyed table's rows, in row order."""
    return list(zip(table["prompt_id"].to_pylist(), table["seed"].to_pylist(), strict=True))


def encode_png(pixels: np.ndarray, compress_level: int = 6) -> bytes:
    """PNG bytes of one uint8 H×W×C image (lossless)."""
    from PIL import Image

    buffer = io.BytesIO()
    image = Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels)
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def decode_png(data: bytes, mode: str | None = "RGB") -> Image.Image:
    """PNG bytes as a PIL image converted to `mode` (None keeps the file's own mode)."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    return image.convert(mode) if mode else image.copy()


class Sweep:
    """A sweep directory opened for reading: the plan, the prompts and the images."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        plan_file = self.path / PLAN_FILE
        if not plan_file.is_file():
            raise SeedscopeError(
                f"{str(self.path)!r} is not a sweep directory (no {PLAN_FILE}); "
                "run `seedscope sweep` first."
            )
        try:
            self.plan: dict[str, Any] = dict(json.loads(plan_file.read_text()))
        except (OSError, ValueError, TypeError) as err:
            raise SeedscopeError(f"cannot read {str(plan_file)!r}: {err}.") from err

    def __repr__(self) -> str:
        return f"Sweep({str(self.path)!r}, shards={len(self.shards)})"

    @property
    def shards(self) -> list[Path]:
        """Paths of the complete image shards."""
        return shard_paths(self.path)

    def prompts(self) -> pa.Table:
        """The prompts table (prompt_id, prompt, set)."""
        return pq.read_table(self.path / PROMPTS_FILE)

    def _dataset(self) -> Any:
        import pyarrow.dataset as ds

        return ds.dataset([str(p) for p in self.shards], format="parquet")

    def images(self, columns: Sequence[str] | None = None) -> pa.Table:
        """All image rows as one pyarrow Table (optionally only `columns`)."""
        cols = list(columns) if columns is not None else None
        if not self.shards:
            empty = IMAGE_SCHEMA.empty_table()
            return empty.select(cols) if cols else empty
        return self._dataset().to_table(columns=cols)

    def to_pandas(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """All image rows as a pandas DataFrame (without the PNG bytes unless asked for)."""
        if columns is None:
            columns = (
                [n for n in self._dataset().schema.names if n != "png"] if self.shards else None
            )
        return self.images(columns).to_pandas()

    def keys(self) -> pa.Table:
        """The (prompt_id, seed) keys of all images, reading only those two columns."""
        return self.images(list(KEYS))

    def iter_batches(
        self, columns: Sequence[str] | None = None, batch_size: int = 256
    ) -> Iterator[pa.RecordBatch]:
        """Stream image rows shard by shard, `batch_size` rows at a time, without loading all."""
        cols = list(columns) if columns is not None else None
        for shard in self.shards:
            with pq.ParquetFile(shard) as handle:
                yield from handle.iter_batches(batch_size=batch_size, columns=cols)

    def image(self, prompt_id: int, seed: int) -> Image.Image:
        """The image (prompt_id, seed) as a PIL image."""
        import pyarrow.dataset as ds

        if self.shards:
            expr = (ds.field("prompt_id") == prompt_id) & (ds.field("seed") == seed)
            table = self._dataset().to_table(columns=["png"], filter=expr)
            if table.num_rows:
                return decode_png(table.column("png")[0].as_py(), mode=None)
        raise SeedscopeError(f"the sweep has no image for prompt_id {prompt_id}, seed {seed}.")


def open_sweep(path: str | os.PathLike[str]) -> Sweep:
    """Open a sweep directory for reading (plan, prompts, images)."""
    return Sweep(path)
