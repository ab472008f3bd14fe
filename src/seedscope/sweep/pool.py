"""A bounded pool of Ray actors: each builds its model once; a few calls in flight per actor."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

log = logging.getLogger(__name__)

J = TypeVar("J")

IN_FLIGHT_PER_ACTOR = 2


class ActorPool:
    """`n_actors` Ray actors of `actor_cls(*args)`; `map` keeps `in_flight` calls queued per actor.

    Jobs are drawn from the iterator only when an actor has room, so memory stays bounded by
    the window however many jobs there are; results come back in completion order.
    """

    def __init__(
        self,
        ray: Any,
        actor_cls: type,
        args: tuple[Any, ...],
        n_actors: int,
        *,
        in_flight: int = IN_FLIGHT_PER_ACTOR,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
    ) -> None:
        self.ray = ray
        self.in_flight = max(1, in_flight)
        remote_cls = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(actor_cls)
        self.actors = [remote_cls.remote(*args) for _ in range(max(1, n_actors))]
        log.info("ray: %d %s actors", len(self.actors), actor_cls.__name__)

    def map(self, jobs: Iterable[J], call: Callable[[Any, J], Any]) -> Iterator[tuple[J, Any]]:
        """Yield (job, result) for every job; `call(actor, job)` submits one (returns an ObjectRef)."""
        source = iter(jobs)
        inflight: dict[Any, tuple[Any, J]] = {}

        def submit(actor: Any) -> None:
            job = next(source, None)
            if job is not None:
                inflight[call(actor, job)] = (actor, job)

        try:
            for actor in self.actors * self.in_flight:
                submit(actor)
            while inflight:
                ready, _ = self.ray.wait(list(inflight), num_returns=1)
                actor, job = inflight.pop(ready[0])
                yield job, self.ray.get(ready[0])
                submit(actor)
        finally:
            self.close()

    def close(self) -> None:
        """Kill every actor (their models go with them)."""
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
