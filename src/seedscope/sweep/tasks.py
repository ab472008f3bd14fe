"""What an engine runs: a generation spec, shard tasks, PNG encoding and the shard sink."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from seedscope.models import ModelRef, check_size, load_pipeline, parse_dtype, set_scheduler
from seedscope.store import IMAGE_SCHEMA, atomic_write_parquet, encode_png, key_pairs
from seedscope.sweep.generate import BatchGenerator, BatchResult
from seedscope.sweep.shards import META_PAIRS, META_ROWS, Shard, pairs_digest, shard_path

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class GenerationSpec:
    """Everything a worker needs to rebuild the pipeline and generate like the plan says."""

    model: ModelRef
    dtype: str
    scheduler: str | None
    steps: int
    guidance: float
    height: int
    width: int
    generator_device: str = "cpu"
    negative_prompt: str | None = None
    device: str = "cpu"
    batch_size: int = 8

    def load(self, device: str | None = None) -> Any:
        """Load and configure the pipeline (offline)."""
        pipe = load_pipeline(self.model, parse_dtype(self.dtype), device or self.device)
        set_scheduler(pipe, self.scheduler)
        check_size(pipe, self.height, self.width)
        return pipe

    def generator(self, pipe: Any) -> BatchGenerator:
        """A BatchGenerator for `pipe` with the spec's settings."""
        return BatchGenerator(
            pipe,
            steps=self.steps,
            guidance=self.guidance,
            height=self.height,
            width=self.width,
            generator_device=self.generator_device,
            negative_prompt=self.negative_prompt,
        )


@dataclass(frozen=True)
class ShardTask:
    """One shard and the prompts (and sets) its rows need."""

    shard: Shard
    prompts: dict[int, str]
    sets: dict[int, str | None] = field(default_factory=dict)


def encode_batch(result: BatchResult, task: ShardTask) -> pa.RecordBatch:
    """PNG-encode one batch and lay it out as image rows."""
    h, w = result.images.shape[1:3]
    n = len(result.pairs)
    columns = {
        "prompt_id": [p for p, _ in result.pairs],
        "seed": [s for _, s in result.pairs],
        "prompt": [task.prompts[p] for p, _ in result.pairs],
        "set": [task.sets.get(p) for p, _ in result.pairs],
        "noise_sha256": result.noise,
        "width": [int(w)] * n,
        "height": [int(h)] * n,
        "png": [encode_png(img) for img in result.images],
    }
    return pa.RecordBatch.from_pydict(columns, schema=IMAGE_SCHEMA)


def _assemble(parts: list[Future[pa.RecordBatch]]) -> pa.Table:
    return pa.Table.from_batches([f.result() for f in parts], schema=IMAGE_SCHEMA)


def produce_shard(
    gen: BatchGenerator,
    task: ShardTask,
    batch_size: int,
    pool: ThreadPoolExecutor,
    finish: Callable[[pa.Table], T],
    advance: Callable[[int], None] | None = None,
    max_pending: int = 2,
) -> Future[T]:
    """Generate a shard batch by batch; PNG encoding and `finish` run in `pool`, overlapped.

    `pool` must have one worker: its FIFO order runs `finish` after the shard's encodes.
    """
    gen.encode(task.prompts)
    parts: list[Future[pa.RecordBatch]] = []
    for pairs in task.shard.batches(batch_size):
        result = gen.run(pairs)
        parts.append(pool.submit(encode_batch, result, task))
        if advance is not None:
            advance(len(pairs))
        # Keep memory flat: at most `max_pending` batches wait for encoding.
        pending = [f for f in parts if not f.done()]
        while len(pending) > max_pending:
            pending.pop(0).result()
    return pool.submit(lambda: finish(_assemble(parts)))


class ShardSink:
    """Writes finished shards into DIR/images atomically, with their pair digest in metadata."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.written = 0

    def write(self, shard: Shard, table: pa.Table) -> Path:
        """Check that `table` holds exactly the shard's pairs, then write it (temp + rename)."""
        pairs = key_pairs(table)
        if sorted(pairs) != sorted(shard.pairs):
            raise RuntimeError(f"shard {shard.name} came back with other pairs than planned")
        meta = {META_ROWS: str(table.num_rows), META_PAIRS: pairs_digest(pairs)}
        path = atomic_write_parquet(table, shard_path(self.folder, shard), metadata=meta)
        self.written += 1
        log.debug("wrote %s (%d images)", path.name, table.num_rows)
        return path


def shard_tasks(shards: list[Shard], prompts: pa.Table) -> list[ShardTask]:
    """Attach each shard's prompts and sets."""
    ids = prompts.column("prompt_id").to_pylist()
    text = dict(zip(ids, prompts.column("prompt").to_pylist(), strict=True))
    sets = dict(zip(ids, prompts.column("set").to_pylist(), strict=True))
    tasks = []
    for shard in shards:
        pids = dict.fromkeys(p for p, _ in shard.pairs)
        tasks.append(ShardTask(shard, {p: text[p] for p in pids}, {p: sets[p] for p in pids}))
    return tasks
