"""Reading a sweep directory, atomic Parquet writes and the directory lock."""

from __future__ import annotations

import errno
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

import seedscope
from seedscope.errors import SeedscopeError
from seedscope.store import (
    KEY_SCHEMA,
    DirLock,
    atomic_write_parquet,
    decode_png,
    encode_png,
    key_pairs,
    open_sweep,
    part_path,
    read_table,
)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory, tiny_sd_dir: Path) -> Path:
    from conftest import make_sweep_dir

    out = tmp_path_factory.mktemp("store") / "sweep"
    return make_sweep_dir(out, tiny_sd_dir, seeds="0-2", shard_seeds=2)


def test_open_sweep_tables(sweep_dir: Path) -> None:
    sweep = seedscope.open_sweep(sweep_dir)
    assert sweep.path == sweep_dir
    assert sweep.plan["n_seeds"] == 3 and sweep.plan["steps"] == 2
    table = sweep.images()
    assert table.num_rows == 12
    assert table.schema.field("prompt_id").type == pa.int64()
    assert table.schema.field("seed").type == pa.int64()
    assert table.schema.field("png").type == pa.binary()
    assert {"prompt", "noise_sha256"} <= set(table.column_names)
    df = sweep.to_pandas()
    assert "png" not in df.columns and len(df) == 12
    assert sorted(zip(df.prompt_id, df.seed, strict=True)) == [
        (p, s) for p in range(4) for s in range(3)
    ]
    assert sweep.prompts().column_names == ["prompt_id", "prompt", "set"]


def test_image_and_batches(sweep_dir: Path) -> None:
    sweep = open_sweep(sweep_dir)
    image = sweep.image(2, 1)
    assert image.size == (32, 32)
    rows = sweep.images(["prompt_id", "seed", "png"]).to_pylist()
    png = next(r["png"] for r in rows if (r["prompt_id"], r["seed"]) == (2, 1))
    assert np.array_equal(np.asarray(image), np.asarray(Image.open(io.BytesIO(png))))
    batches = list(sweep.iter_batches(["prompt_id", "seed"], batch_size=2))
    assert all(b.num_rows <= 2 for b in batches)
    assert sum(b.num_rows for b in batches) == 12
    with pytest.raises(SeedscopeError, match="no image"):
        sweep.image(99, 0)


def test_readable_by_duckdb_and_datasets(sweep_dir: Path) -> None:
    import duckdb

    count = duckdb.sql(f"select count(*) from '{sweep_dir}/images/**/*.parquet'").fetchall()
    assert count == [(12,)]
    datasets = pytest.importorskip("datasets")
    files = [str(p) for p in sorted((sweep_dir / "images").glob("*.parquet"))]
    ds = datasets.load_dataset("parquet", data_files=files, split="train")
    assert ds.num_rows == 12
    png = ds[0]["png"]
    assert Image.open(io.BytesIO(png)).size == (32, 32)


def test_not_a_sweep(tmp_path: Path) -> None:
    with pytest.raises(SeedscopeError, match="not a sweep directory"):
        open_sweep(tmp_path)
    (tmp_path / "sweep.json").write_text("{not json")
    with pytest.raises(SeedscopeError, match="cannot read"):
        open_sweep(tmp_path)


def test_keys_are_the_image_keys(sweep_dir: Path) -> None:
    sweep = open_sweep(sweep_dir)
    keys = sweep.keys()
    assert keys.column_names == ["prompt_id", "seed"]
    assert key_pairs(keys) == key_pairs(sweep.images())
    assert sorted(key_pairs(keys)) == [(p, s) for p in range(4) for s in range(3)]


def test_read_table_reads_every_part(tmp_path: Path) -> None:
    assert read_table(tmp_path, "scores/x") is None
    folder = tmp_path / "scores" / "x"
    for seeds in ([0, 1], [2]):
        table = pa.table({"prompt_id": [7] * len(seeds), "seed": seeds, "v": [1.0] * len(seeds)})
        atomic_write_parquet(
            table.cast(KEY_SCHEMA.append(pa.field("v", pa.float64()))), part_path(folder)
        )
    (folder / ".tmp-dead.partial").write_bytes(b"junk")
    read = read_table(tmp_path, "scores/x", columns=["prompt_id", "seed"])
    assert read is not None and read.column_names == ["prompt_id", "seed"]
    assert sorted(key_pairs(read)) == [(7, 0), (7, 1), (7, 2)]
    assert len({p.name for p in folder.glob("part-*.parquet")}) == 2


def test_png_round_trip() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    data = encode_png(pixels)
    assert np.array_equal(np.asarray(decode_png(data)), pixels)
    gray = encode_png(pixels[..., :1])
    assert decode_png(gray, mode=None).mode == "L"
    assert decode_png(gray).mode == "RGB"


def test_atomic_write_parquet(tmp_path: Path) -> None:
    table = pa.table({"seed": np.arange(3, dtype=np.int64)})
    path = atomic_write_parquet(table, tmp_path / "scores" / "x.parquet", metadata={"k": "v"})
    read = pq.read_table(path)
    assert read.column("seed").to_pylist() == [0, 1, 2]
    assert read.schema.metadata[b"k"] == b"v"
    assert [p.name for p in path.parent.iterdir()] == ["x.parquet"]


def test_atomic_write_disk_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    with pytest.raises(SeedscopeError, match="full"):
        atomic_write_parquet(pa.table({"a": [1]}), tmp_path / "x.parquet")
    assert list(tmp_path.iterdir()) == []


def test_dir_lock_is_exclusive(tmp_path: Path) -> None:
    with DirLock(tmp_path), pytest.raises(SeedscopeError, match="another sweep"):
        DirLock(tmp_path).acquire()
    # Released: can be taken again.
    DirLock(tmp_path).acquire().release()


def test_dir_lock_dies_with_holder(tmp_path: Path) -> None:
    code = (
        f"from seedscope.store import DirLock; DirLock({str(tmp_path)!r}).acquire(); "
        "print('ok', flush=True); input()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ok"
        with pytest.raises(SeedscopeError, match=f"pid {proc.pid}"):
            DirLock(tmp_path).acquire()
    finally:
        proc.kill()
        proc.wait()
    DirLock(tmp_path).acquire().release()


def test_sweep_without_shards_is_empty(tmp_path: Path) -> None:
    (tmp_path / "sweep.json").write_text("{}")
    sweep = open_sweep(tmp_path)
    assert sweep.images().num_rows == 0
    assert sweep.images(["prompt_id", "seed"]).column_names == ["prompt_id", "seed"]
    assert list(sweep.iter_batches()) == []


def test_empty_sweep_has_the_same_columns_as_a_generated_one(
    tmp_path: Path, sweep_dir: Path
) -> None:
    (tmp_path / "sweep.json").write_text("{}")
    empty = open_sweep(tmp_path).images().schema
    generated = open_sweep(sweep_dir).images().schema.remove_metadata()
    assert empty.remove_metadata() == generated
