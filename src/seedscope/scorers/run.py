"""Score the images of a sweep (and cache features) through the one incremental runner."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.identity import Identity
from seedscope.scorers import get_scorer
from seedscope.scorers.base import Context, Scorer
from seedscope.store import open_sweep, read_table
from seedscope.sweep.derive import Producer, derive

log = logging.getLogger(__name__)

Options = dict[str, dict[str, Any]]


class ScorerProducer(Producer):
    """A scorer as a producer of DIR/scores/<name>/."""

    kind = "scores"

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer

    @property
    def slug(self) -> str:
        """One folder per scorer name: another setting is refused or recomputed, not mixed."""
        return self.scorer.name

    @property
    def identity(self) -> Identity:
        """The scorer's name, version and settings."""
        return self.scorer.identity

    def compute(self, images: Sequence[Image.Image], prompts: Sequence[str]) -> pa.Table:
        """The scorer's rows for the images, in its declared schema."""
        rows = self.scorer.score(images, Context(prompts=list(prompts)))
        return pa.Table.from_pylist(rows, schema=self.scorer.schema)


def build_producers(scorers: Sequence[str], features: Sequence[str], options: Options) -> list[Any]:
    """Scorer and feature producers by name, each built with its options (`name -> {opt: v}`)."""
    from seedscope.features import get_extractor
    from seedscope.features.cache import FeatureProducer

    out: list[Producer] = [ScorerProducer(get_scorer(n, **options.get(n, {}))) for n in scorers]
    out += [FeatureProducer(get_extractor(n, **options.get(n, {}))) for n in features]
    return out


def score_sweep(
    sweep: str | Path,
    names: Sequence[str],
    *,
    features: Sequence[str] = (),
    options: Options | None = None,
    engine: str = "local",
    batch_size: int = 64,
    recompute: bool = False,
    progress: Callable[[int, int], None] | None = None,
    ray_address: str | None = None,
    gpus_per_worker: float = 0.0,
) -> dict[str, int]:
    """Score (and extract features of) the images not done yet; new rows by scorer / feature folder.

    Every batch is written as one Parquet shard per scorer under DIR/scores/<scorer>/ (and
    per extractor under DIR/features/<key>/), atomically, so a killed run resumes. A cache
    made with other settings or another version is refused unless `recompute`. On Ray,
    `ray_address` and `gpus_per_worker` go to the actor pool (see `derive`).
    """
    if not names and not features:
        raise SeedscopeError("no scorers given; name some with --scorers.")
    factory = functools.partial(build_producers, list(names), list(features), options or {})
    counts = derive(
        sweep,
        factory,
        engine=engine,
        batch_size=batch_size,
        recompute=recompute,
        progress=progress,
        ray_address=ray_address,
        gpus_per_worker=gpus_per_worker,
    )
    # Scorers by name; feature caches by their folder, since a scorer and an extractor may share
    # a name (`world`).
    return {f.removeprefix("scores/"): n for f, n in counts.items()}


def read_scores(sweep: str | Path, name: str) -> pa.Table:
    """All scores of one scorer for a sweep, as one table keyed by (prompt_id, seed)."""
    path = open_sweep(sweep).path
    t = read_table(path, f"scores/{name}")
    if t is None:
        raise SeedscopeError(
            f"no scores for {name!r} in {path}; run `seedscope score {path} --scorers {name}`."
        )
    return t
