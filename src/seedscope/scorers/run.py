"""Score every image of a sweep with several scorers: incremental, resumable, local or on Ray."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Sequence
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
    atomic_write_parquet,
    decode_png,
    key_pairs,
    open_sweep,
    part_path,
    read_table,
    remove_temp_files,
)

log = logging.getLogger(__name__)


def _done(path: Path, name: str) -> set[tuple[int, int]]:
    t = read_table(path, f"scores/{name}", columns=KEYS)
    return set() if t is None else set(key_pairs(t))


def score_images(
    scorers: Sequence[Scorer], pngs: Sequence[bytes], prompts: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Decode PNGs once and run every scorer on them."""
    images = [decode_png(b) for b in pngs]
    ctx = Context(prompts=list(prompts))
    return {s.name: s.score(images, ctx) for s in scorers}


def _ray_task(
    names: list[str], options: dict[str, dict[str, Any]], pngs: list[bytes], prompts: list[str]
) -> Any:
    return score_images([get_scorer(n, **options.get(n, {})) for n in names], pngs, prompts)


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
    (temporary name, then rename), so a killed run loses at most the batch in flight and a
    rerun resumes.
    `progress(done, total)` is called after each batch.
    """
    opened = open_sweep(sweep)
    path = opened.path
    options = options or {}
    if engine not in ("local", "ray"):
        raise SeedscopeError(f"unknown engine {engine!r}; use local or ray.")
    if batch_size < 1:
        raise SeedscopeError(f"--batch-size must be at least 1, not {batch_size}.")
    scorers = [get_scorer(n, **options.get(n, {})) for n in names]
    if not scorers:
        raise SeedscopeError("no scorers given; name some with --scorers.")
    folders = {s.name: path / "scores" / s.name for s in scorers}
    metas = {
        s.name: {
            "seedscope": json.dumps(
                {"scorer": s.name, "version": s.version, "settings": s.settings()}, default=str
            )
        }
        for s in scorers
    }
    counts = dict.fromkeys(folders, 0)
    with contextlib.ExitStack() as stack:
        for f in folders.values():
            stack.enter_context(DirLock(f, what="scoring run"))
            remove_temp_files(f)
        done = {n: _done(path, n) for n in folders}
        all_keys = key_pairs(opened.keys())
        total = sum(1 for k in all_keys if any(k not in d for d in done.values()))
        log.info("%d of %d images need scoring", total, len(all_keys))
        if progress is not None:
            progress(0, total)
        pending: list[tuple[Any, list[tuple[int, int]], list[str]]] = []
        remote = None
        if engine == "ray":
            import ray

            if not ray.is_initialized():
                ray.init(log_to_driver=False, include_dashboard=False)
            remote = ray.remote(_ray_task)
        finished = 0

        def _write(
            result: dict[str, list[dict[str, Any]]],
            batch_keys: list[tuple[int, int]],
            todo: list[str],
        ) -> None:
            nonlocal finished
            for s in scorers:
                if s.name not in todo:
                    continue
                rows = [
                    {"prompt_id": k[0], "seed": k[1], **r}
                    for k, r in zip(batch_keys, result[s.name], strict=True)
                    if k not in done[s.name]
                ]
                if not rows:
                    continue
                table = pa.Table.from_pylist(rows, schema=pa.unify_schemas([KEY_SCHEMA, s.schema]))
                atomic_write_parquet(table, part_path(folders[s.name]), metas[s.name])
                done[s.name].update((r["prompt_id"], r["seed"]) for r in rows)
                counts[s.name] += len(rows)
            finished += len(batch_keys)
            if progress is not None:
                progress(finished, total)

        for batch in opened.iter_batches(["prompt_id", "seed", "prompt", "png"], batch_size):
            bkeys = key_pairs(batch)
            idx = [i for i, k in enumerate(bkeys) if any(k not in d for d in done.values())]
            if not idx:
                continue
            # Images that some scorer lacks are scored by all; only the lacking scorers write.
            sub_keys = [bkeys[i] for i in idx]
            todo = [n for n, d in done.items() if any(k not in d for k in sub_keys)]
            pngs = [batch["png"][i].as_py() for i in idx]
            prompts = [batch["prompt"][i].as_py() for i in idx]
            if remote is None:
                _write(
                    score_images([s for s in scorers if s.name in todo], pngs, prompts),
                    sub_keys,
                    todo,
                )
            else:
                pending.append((remote.remote(todo, options, pngs, prompts), sub_keys, todo))
        if remote is not None:
            import ray

            refs = {p[0]: p for p in pending}
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1)
                ref, sub_keys, todo = refs.pop(ready[0])
                _write(ray.get(ref), sub_keys, todo)
    return counts


def read_scores(sweep: str | Path, name: str) -> pa.Table:
    """All scores of one scorer for a sweep, as one table keyed by (prompt_id, seed)."""
    path = open_sweep(sweep).path
    t = read_table(path, f"scores/{name}")
    if t is None:
        raise SeedscopeError(
            f"no scores for {name!r} in {path}; run `seedscope score {path} --scorers {name}`."
        )
    return t
