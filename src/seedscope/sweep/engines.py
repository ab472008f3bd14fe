"""Engines run shard tasks and hand finished shards to the sink: `local` and `ray`."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from seedscope.errors import SeedscopeError
from seedscope.sweep.tasks import GenerationSpec, ShardSink, ShardTask, produce_shard

log = logging.getLogger(__name__)

Advance = Callable[[int], None]

ENGINES = ("local", "ray")


class Engine(Protocol):
    """Run every task, write each finished shard through `sink`, report images done."""

    name: str

    def run(
        self, spec: GenerationSpec, tasks: Sequence[ShardTask], sink: ShardSink, advance: Advance
    ) -> None: ...


class LocalEngine:
    """One pipeline in this process; PNG encoding and shard writes in a background thread."""

    name = "local"

    def __init__(self, pipe: Any = None) -> None:
        self.pipe = pipe

    def run(
        self, spec: GenerationSpec, tasks: Sequence[ShardTask], sink: ShardSink, advance: Advance
    ) -> None:
        """Generate shards in order; at most one finished shard waits to be written."""
        if not tasks:
            return
        pipe = self.pipe if self.pipe is not None else spec.load()
        gen = spec.generator(pipe)
        pending: deque[Future[Path]] = deque()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seedscope-png") as pool:
            try:
                for task in tasks:
                    fut = produce_shard(
                        gen,
                        task,
                        spec.batch_size,
                        pool,
                        functools.partial(sink.write, task.shard),
                        advance,
                    )
                    pending.append(fut)
                    while len(pending) > 1 or (pending and pending[0].done()):
                        pending.popleft().result()
                while pending:
                    pending.popleft().result()
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise


class ShardWorker:
    """A Ray actor body: loads the model once, returns each shard as an Arrow table."""

    def __init__(self, spec: GenerationSpec, threads: int | None = None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.spec = spec
        self.gen = spec.generator(spec.load())
        self.pool = ThreadPoolExecutor(max_workers=1)

    def run(self, task: ShardTask) -> Any:
        """Generate one shard; PNG encoding overlaps generation inside the worker."""
        return produce_shard(self.gen, task, self.spec.batch_size, self.pool, lambda t: t).result()


def init_ray(address: str | None = None) -> Any:
    """The ray module, initialised (address, RAY_ADDRESS or a local cluster)."""
    try:
        import ray
    except ImportError as err:
        raise SeedscopeError(
            "the ray engine needs Ray; install it with `pip install 'seedscope[ray]'`."
        ) from err
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    return ray


class RayEngine:
    """Shards as Ray actor calls, one model per actor; the driver writes every shard.

    Workers return Arrow tables, so no shared filesystem is needed; the driver keeps the lock,
    the atomic writes and the resume logic exactly as in the local engine.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        gpus_per_worker: float = 0.0,
        cpus_per_worker: float = 1.0,
    ) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS")
        self.workers = workers
        self.gpus_per_worker = gpus_per_worker
        self.cpus_per_worker = cpus_per_worker

    def _init(self) -> Any:
        return init_ray(self.address)

    def _worker_count(self, ray: Any, n_tasks: int) -> int:
        if self.workers:
            return max(1, min(self.workers, n_tasks))
        resources = ray.cluster_resources()
        if self.gpus_per_worker > 0:
            fit = int(resources.get("GPU", 0) // self.gpus_per_worker)
        else:
            fit = int(resources.get("CPU", 1) // max(self.cpus_per_worker, 1e-9))
        return max(1, min(fit, n_tasks))

    def run(
        self, spec: GenerationSpec, tasks: Sequence[ShardTask], sink: ShardSink, advance: Advance
    ) -> None:
        """Keep two shards in flight per actor; write each table as it arrives."""
        if not tasks:
            return
        ray = self._init()
        from seedscope.sweep.pool import ActorPool

        device = "cuda" if self.gpus_per_worker > 0 else spec.device
        worker_spec = dataclasses.replace(spec, device=device)
        n_workers = self._worker_count(ray, len(tasks))
        threads = max(1, int(self.cpus_per_worker))
        log.info("ray engine: %d workers for %d shards", n_workers, len(tasks))
        pool = ActorPool(
            ray,
            ShardWorker,
            (worker_spec, threads),
            n_workers,
            num_cpus=self.cpus_per_worker,
            num_gpus=self.gpus_per_worker,
        )
        for task, table in pool.map(tasks, lambda actor, task: actor.run.remote(task)):
            sink.write(task.shard, table)
            advance(len(task.shard))


def make_engine(name: str, pipe: Any = None, **ray_options: Any) -> Engine:
    """The engine called `name` ('local' or 'ray')."""
    if name == "local":
        return LocalEngine(pipe)
    if name == "ray":
        return RayEngine(**ray_options)
    raise SeedscopeError(f"unknown engine {name!r}; use {' or '.join(ENGINES)}.")
