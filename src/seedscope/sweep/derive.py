"""The one incremental runner: compute what a sweep's per-image tables lack, batch by batch.

Scorers, feature extractors and per-image analyses are `Producer`s. Each owns one folder
``DIR/<kind>/<slug>/`` holding ``identity.json`` and ``part-*.parquet`` shards keyed by
(prompt_id, seed). A run finds the keys the producer's identity lacks, computes them in
batches (locally or on a bounded Ray actor pool) and writes each batch atomically under the
directory lock; a killed run loses only the batches in flight. A folder made by another
identity is refused, or with ``recompute`` rebuilt beside it and swapped in when complete.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.identity import Identity, read_identity, write_identity
from seedscope.store import (
    KEYS,
    DirLock,
    Sweep,
    atomic_write_parquet,
    compact_parts,
    decode_png,
    key_pairs,
    open_sweep,
    part_path,
    read_table,
    remove_temp_files,
    shard_paths,
)

log = logging.getLogger(__name__)

Key = tuple[int, int]
Progress = Callable[[int, int], None]
STAGING = ".recompute-"
REPLACED = ".replaced-"


class Producer(ABC):
    """Something that turns images (and their prompts) into one table row per image."""

    kind: ClassVar[str]
    """The sweep sub-folder its tables live in: "scores" or "features"."""

    @property
    @abstractmethod
    def slug(self) -> str:
        """Folder name under DIR/<kind>/: unique per identity, never nested."""

    @property
    @abstractmethod
    def identity(self) -> Identity:
        """What decides its numbers (name, version, settings)."""

    @abstractmethod
    def compute(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> pa.Table:
        """One row per image, in order, without the key columns."""

    @property
    def folder(self) -> str:
        """Its folder relative to the sweep directory."""
        return f"{self.kind}/{self.slug}"


Factory = Callable[[], list[Producer]]
"""Builds the producers; must be picklable (Ray actors call it once each)."""


def stale_error(folder: Path, found: Identity | None, wanted: Identity) -> SeedscopeError:
    """The one sentence for a cache made by another identity."""
    made = found.describe() if found is not None else "an older seedscope (no identity.json)"
    return SeedscopeError(
        f"{folder} holds results of {made}, but {wanted.describe()} was asked for; rerun with "
        "--recompute to replace them (the old results stay until the new ones are complete)."
    )


def _recover_swap(target: Path) -> None:
    """Finish or undo a replacement that was interrupted between its two renames."""
    for old in sorted(target.parent.glob(f"{REPLACED}{target.name}-*")):
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, target)


@dataclass
class _Slot:
    """One producer's place in a run: where it writes and which keys it already has."""

    producer: Producer
    target: Path
    write_to: Path
    done: set[Key]
    written: int = 0
    created: bool = False

    def discard_if_empty(self) -> None:
        """After a failed run: remove a folder this run made (or a staging one) with no rows."""
        if not (self.created or self.write_to != self.target) or not self.write_to.is_dir():
            return
        if not shard_paths(self.write_to, ""):
            shutil.rmtree(self.write_to, ignore_errors=True)

    def prepare(self, recompute: bool) -> None:
        """Check (or, recomputing, stage) the folder and read the keys already written."""
        wanted = self.producer.identity
        _recover_swap(self.target)
        if recompute:
            found = read_identity(self.write_to)
            if found is not None and found != wanted:
                shutil.rmtree(self.write_to)
        else:
            found = read_identity(self.target)
            rows = bool(shard_paths(self.target, ""))
            if (found is None and rows) or (found is not None and found != wanted and rows):
                raise stale_error(self.target, found, wanted)
        self.created = not self.write_to.exists()
        self.write_to.mkdir(parents=True, exist_ok=True)
        remove_temp_files(self.write_to)
        if read_identity(self.write_to) != wanted:  # none yet, or another one's with no rows
            write_identity(self.write_to, wanted)
        keys = read_table(self.write_to, "", columns=KEYS)
        self.done = set() if keys is None else set(key_pairs(keys))

    def write(self, keys: list[Key], table: pa.Table) -> None:
        """Write the rows of one batch that this producer still lacks, as one shard."""
        keep = [i for i, k in enumerate(keys) if k not in self.done]
        if not keep:
            return
        if len(keep) < len(keys):
            table = table.take(pa.array(keep))
            keys = [keys[i] for i in keep]
        pids, seeds = zip(*keys, strict=True)
        keyed = table.add_column(0, "seed", pa.array(seeds, pa.int64())).add_column(
            0, "prompt_id", pa.array(pids, pa.int64())
        )
        atomic_write_parquet(keyed, part_path(self.write_to), self.producer.identity.metadata())
        self.done.update(keys)
        self.written += len(keys)

    def finish(self) -> None:
        """Swap a completed recomputation into place; the old folder goes only after."""
        if self.write_to == self.target:
            return
        old = self.target.parent / f"{REPLACED}{self.target.name}-{uuid.uuid4().hex[:8]}"
        if self.target.exists():
            os.replace(self.target, old)
        os.replace(self.write_to, self.target)
        shutil.rmtree(old, ignore_errors=True)


# One batch of work: keys, the folders (slugs) that lack some of them, PNG bytes and prompts.
Job = tuple[list[Key], list[str], list[bytes], list[str]]


def compute_batch(
    producers: Sequence[Producer], pngs: Sequence[bytes], prompts: Sequence[str]
) -> dict[str, pa.Table]:
    """Decode PNGs once and run every producer on them; tables by folder."""
    images = [decode_png(b) for b in pngs]
    return {p.folder: p.compute(images, list(prompts)) for p in producers}


class DeriveWorker:
    """A Ray actor body: builds the producers once, then computes every batch sent to it."""

    def __init__(self, factory: Factory, threads: int = 1) -> None:
        import torch

        torch.set_num_threads(threads)
        self.producers = factory()

    def compute(self, folders: list[str], pngs: list[bytes], prompts: list[str]) -> Any:
        """Tables of one batch by the producers in `folders`."""
        return compute_batch([p for p in self.producers if p.folder in folders], pngs, prompts)


def _jobs(sweep: Sweep, slots: Sequence[_Slot], batch_size: int) -> Iterator[Job]:
    """The batches that some producer still lacks, read lazily from the sweep's shards."""
    for batch in sweep.iter_batches(["prompt_id", "seed", "prompt", "png"], batch_size):
        bkeys = key_pairs(batch)
        idx = [i for i, k in enumerate(bkeys) if any(k not in s.done for s in slots)]
        if not idx:
            continue
        # Images that some producer lacks are computed by all of those that lack any of them.
        keys = [bkeys[i] for i in idx]
        todo = [s.producer.folder for s in slots if any(k not in s.done for k in keys)]
        pngs = [batch["png"][i].as_py() for i in idx]
        prompts = [batch["prompt"][i].as_py() for i in idx]
        yield keys, todo, pngs, prompts


def derive(
    sweep: str | Path,
    factory: Factory,
    *,
    engine: str = "local",
    batch_size: int = 64,
    recompute: bool = False,
    progress: Progress | None = None,
    ray_address: str | None = None,
    gpus_per_worker: float = 0.0,
) -> dict[str, int]:
    """Compute every producer's missing rows; returns rows written now by folder.

    `progress(done, total)` counts images needing work (an image lacked by any producer). On
    Ray (`engine="ray"`), `ray_address` names the cluster (default RAY_ADDRESS, else a local
    one) and `gpus_per_worker` reserves GPUs for each actor (then as many actors as GPUs fit).
    """
    if engine not in ("local", "ray"):
        raise SeedscopeError(f"unknown engine {engine!r}; use local or ray.")
    if engine != "ray" and (ray_address is not None or gpus_per_worker):
        raise SeedscopeError("--ray-address and --gpus-per-worker need --engine ray.")
    if gpus_per_worker < 0:
        raise SeedscopeError(f"--gpus-per-worker must be 0 or more, not {gpus_per_worker}.")
    if batch_size < 1:
        raise SeedscopeError(f"--batch-size must be at least 1, not {batch_size}.")
    opened = open_sweep(sweep)
    producers = factory()
    if not producers:
        raise SeedscopeError("nothing to compute; name some scorers or feature extractors.")
    folders = [p.folder for p in producers]
    if len(set(folders)) != len(folders):
        raise SeedscopeError(f"the same table was asked for twice: {', '.join(folders)}.")
    slots = []
    for p in producers:
        target = opened.path / p.folder
        staging = target.parent / f"{STAGING}{target.name}"
        slots.append(_Slot(p, target, staging if recompute else target, set()))
    kinds = sorted({p.kind for p in producers})
    with contextlib.ExitStack() as stack:
        for kind in kinds:
            stack.enter_context(DirLock(opened.path / kind, what=f"run writing {kind}"))
        try:
            ray = {"address": ray_address, "gpus_per_worker": gpus_per_worker}
            _run(opened, factory, producers, slots, engine, batch_size, recompute, progress, ray)
        except BaseException:
            for slot in slots:
                slot.discard_if_empty()
            raise
    return {s.producer.folder: s.written for s in slots}


def _run(
    opened: Sweep,
    factory: Factory,
    producers: Sequence[Producer],
    slots: Sequence[_Slot],
    engine: str,
    batch_size: int,
    recompute: bool,
    progress: Progress | None,
    ray_options: dict[str, Any],
) -> None:
    """`derive`'s work under the locks: prepare the slots, compute the batches, swap in."""
    for slot in slots:
        slot.prepare(recompute)
    all_keys = key_pairs(opened.keys())
    total = sum(1 for k in all_keys if any(k not in s.done for s in slots))
    log.info("%d of %d images need work", total, len(all_keys))
    if progress is not None:
        progress(0, total)
    by_folder = {s.producer.folder: s for s in slots}
    finished = 0

    def write(keys: list[Key], tables: dict[str, pa.Table]) -> None:
        nonlocal finished
        for folder, table in tables.items():
            by_folder[folder].write(keys, table)
        finished += len(keys)
        if progress is not None:
            progress(finished, total)

    jobs = _jobs(opened, slots, batch_size)
    if engine == "local":
        for keys, todo, pngs, prompts in jobs:
            picked = [p for p in producers if p.folder in todo]
            write(keys, compute_batch(picked, pngs, prompts))
    elif total:
        from seedscope.sweep.engines import init_ray
        from seedscope.sweep.pool import ActorPool

        ray = init_ray(ray_options["address"])
        gpus = float(ray_options["gpus_per_worker"])
        resources = ray.cluster_resources()
        fit = int(resources.get("GPU", 0) // gpus) if gpus else int(resources.get("CPU", 1))
        if fit < 1:
            raise SeedscopeError(
                f"the Ray cluster has {resources.get('GPU', 0):g} GPUs, too few for "
                f"--gpus-per-worker {gpus:g}."
            )
        n_actors = min(fit, math.ceil(total / batch_size))
        pool = ActorPool(ray, DeriveWorker, (factory,), n_actors, num_gpus=gpus)
        for job, tables in pool.map(jobs, lambda a, j: a.compute.remote(j[1], j[2], j[3])):
            write(job[0], tables)
    for slot in slots:
        compact_parts(slot.write_to)
        slot.finish()
