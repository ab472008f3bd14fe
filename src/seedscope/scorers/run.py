"""Score every image of a sweep with several scorers: incremental, resumable, local or on Ray."""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from seedscope.errors import SeedscopeError
from seedscope.scorers import get_scorer
from seedscope.scorers.base import Context, Scorer
from seedscope.store import (
    KEY_SCHEMA,
    KEYS,
    DirLock,
    Sweep,
    atomic_write_parquet,
    decode_png,
    key_pairs,
    open_sweep,
    part_path,
    read_table,
    remove_temp_files,
)

log = logging.getLogger(__name__)

Key = tuple[int, int]
Result = dict[str, list[dict[str, Any]]]
# One batch to score: its keys, the scorers that lack some of them, PNG bytes and prompts.
Job = tuple[list[Key], list[str], list[bytes], list[str]]
Write = Callable[[Result, list[Key], list[str]], None]

IN_FLIGHT_PER_ACTOR = 2


def _done(path: Path, name: str) -> set[Key]:
    t = read_table(path, f"scores/{name}", columns=KEYS)
    return set() if t is None else set(key_pairs(t))


def score_images(
    scorers: Sequence[Scorer], pngs: Sequence[bytes], prompts: Sequence[str]
) -> Result:
    """Decode PNGs once and run every scorer on them."""
    images = [decode_png(b) for b in pngs]
    ctx = Context(prompts=list(prompts))
    return {s.name: s.score(images, ctx) for s in scorers}


def _meta(s: Scorer) -> dict[str, str]:
    """The parquet metadata saved with every shard of scorer `s`."""
    info = {"scorer": s.name, "version": s.version, "settings": s.settings()}
    return {"seedscope": json.dumps(info, default=str)}


class _Writer:
    """Writes each scored batch as one parquet shard per scorer (atomically) and reports progress."""

    def __init__(
        self,
        scorers: Sequence[Scorer],
        folders: dict[str, Path],
        done: dict[str, set[Key]],
        total: int,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        self.scorers, self.folders, self.done = scorers, folders, done
        self.metas = {s.name: _meta(s) for s in scorers}
        self.counts = dict.fromkeys(folders, 0)
        self.total, self.finished, self.progress = total, 0, progress

    def write(self, result: Result, keys: list[Key], todo: list[str]) -> None:
        """Write the rows of one batch that the scorers in `todo` still lack."""
        for s in self.scorers:
            if s.name in todo:
                self._write_one(s, result[s.name], keys)
        self.finished += len(keys)
        if self.progress is not None:
            self.progress(self.finished, self.total)

    def _write_one(self, s: Scorer, scores: list[dict[str, Any]], keys: list[Key]) -> None:
        """Write one scorer's new rows of a batch as one shard."""
        done = self.done[s.name]
        rows = [
            {"prompt_id": k[0], "seed": k[1], **r}
            for k, r in zip(keys, scores, strict=True)
            if k not in done
        ]
        if not rows:
            return
        table = pa.Table.from_pylist(rows, schema=pa.unify_schemas([KEY_SCHEMA, s.schema]))
        atomic_write_parquet(table, part_path(self.folders[s.name]), self.metas[s.name])
        done.update((r["prompt_id"], r["seed"]) for r in rows)
        self.counts[s.name] += len(rows)


def _count_todo(opened: Sweep, done: dict[str, set[Key]]) -> int:
    """How many images of the sweep some scorer still lacks."""
    all_keys = key_pairs(opened.keys())
    total = sum(1 for k in all_keys if any(k not in d for d in done.values()))
    log.info("%d of %d images need scoring", total, len(all_keys))
    return total


def _jobs(opened: Sweep, done: dict[str, set[Key]], batch_size: int) -> Iterator[Job]:
    """The batches that some scorer still lacks, read lazily from the sweep."""
    for batch in opened.iter_batches(["prompt_id", "seed", "prompt", "png"], batch_size):
        bkeys = key_pairs(batch)
        idx = [i for i, k in enumerate(bkeys) if any(k not in d for d in done.values())]
        if not idx:
            continue
        # Images that some scorer lacks are scored by all; only the lacking scorers write.
        keys = [bkeys[i] for i in idx]
        todo = [n for n, d in done.items() if any(k not in d for k in keys)]
        pngs = [batch["png"][i].as_py() for i in idx]
        prompts = [batch["prompt"][i].as_py() for i in idx]
        yield keys, todo, pngs, prompts


class ScoreWorker:
    """A Ray actor body: builds the scorers once, then scores every batch sent to it."""

    def __init__(self, names: list[str], options: dict[str, dict[str, Any]]) -> None:
        self.scorers = [get_scorer(n, **options.get(n, {})) for n in names]

    def score(self, todo: list[str], pngs: list[bytes], prompts: list[str]) -> Result:
        """Scores of one batch by the scorers named in `todo`."""
        return score_images([s for s in self.scorers if s.name in todo], pngs, prompts)


def _score_on_ray(
    jobs: Iterator[Job],
    names: list[str],
    options: dict[str, dict[str, Any]],
    max_actors: int,
    write: Write,
) -> None:
    """Score jobs on a pool of actors, two batches in flight per actor; write each as it arrives."""
    from seedscope.sweep.engines import init_ray

    ray = init_ray()
    n_actors = max(1, min(int(ray.cluster_resources().get("CPU", 1)), max_actors))
    actor_cls = ray.remote(num_cpus=1)(ScoreWorker)
    actors = [actor_cls.remote(names, options) for _ in range(n_actors)]
    log.info("ray: %d scoring actors", n_actors)
    inflight: dict[Any, tuple[Any, list[Key], list[str]]] = {}

    def submit(actor: Any) -> None:
        job = next(jobs, None)
        if job is not None:
            keys, todo, pngs, prompts = job
            inflight[actor.score.remote(todo, pngs, prompts)] = (actor, keys, todo)

    try:
        for actor in actors * IN_FLIGHT_PER_ACTOR:
            submit(actor)
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1)
            actor, keys, todo = inflight.pop(ready[0])
            write(ray.get(ready[0]), keys, todo)
            submit(actor)
    finally:
        for actor in actors:
            ray.kill(actor)


def score_sweep(
    sweep: str | Path,
    names: Sequence[str],
    *,
    options: dict[str, dict[str, Any]] | None = None,
    engine: str = "local",
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Score images not yet scored by each scorer; returns how many each scorer scored now.

    Every batch is written as one parquet shard per scorer under DIR/scores/<scorer>/
    (temporary name, then rename), so a killed run loses at most the batches in flight and a
    rerun resumes. On Ray, a few actors build the scorers once each and score the batches.
    `progress(done, total)` is called after each batch.
    """
    opened = open_sweep(sweep)
    options = options or {}
    if engine not in ("local", "ray"):
        raise SeedscopeError(f"unknown engine {engine!r}; use local or ray.")
    if batch_size < 1:
        raise SeedscopeError(f"--batch-size must be at least 1, not {batch_size}.")
    scorers = [get_scorer(n, **options.get(n, {})) for n in names]
    if not scorers:
        raise SeedscopeError("no scorers given; name some with --scorers.")
    folders = {s.name: opened.path / "scores" / s.name for s in scorers}
    with contextlib.ExitStack() as stack:
        for f in folders.values():
            stack.enter_context(DirLock(f, what="scoring run"))
            remove_temp_files(f)
        done = {n: _done(opened.path, n) for n in folders}
        total = _count_todo(opened, done)
        if progress is not None:
            progress(0, total)
        writer = _Writer(scorers, folders, done, total, progress)
        jobs = _jobs(opened, done, batch_size)
        if engine == "local":
            for keys, todo, pngs, prompts in jobs:
                picked = [s for s in scorers if s.name in todo]
                writer.write(score_images(picked, pngs, prompts), keys, todo)
        elif total:
            max_actors = math.ceil(total / batch_size)
            _score_on_ray(jobs, list(names), options, max_actors, writer.write)
    return writer.counts


def read_scores(sweep: str | Path, name: str) -> pa.Table:
    """All scores of one scorer for a sweep, as one table keyed by (prompt_id, seed)."""
    path = open_sweep(sweep).path
    t = read_table(path, f"scores/{name}")
    if t is None:
        raise SeedscopeError(
            f"no scores for {name!r} in {path}; run `seedscope score {path} --scorers {name}`."
        )
    return t
