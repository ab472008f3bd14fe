"""Shard planning, naming and verification: a shard is a block of prompts × a block of seeds."""

from __future__ import annotations

import hashlib
import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from seedscope.store import IMAGES_DIR, KEYS, key_pairs, shard_paths

log = logging.getLogger(__name__)

META_ROWS = "seedscope.rows"
META_PAIRS = "seedscope.pairs_sha256"


def pairs_digest(pairs: Iterable[tuple[int, int]]) -> str:
    """sha256 of the sorted (prompt_id, seed) pairs as int64 bytes."""
    array = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    return hashlib.sha256(array.tobytes()).hexdigest()


@dataclass(frozen=True)
class Shard:
    """The (prompt_id, seed) pairs of one output file, prompt-major in order."""

    prompt_block: int
    seed_block: int
    pairs: tuple[tuple[int, int], ...]

    @property
    def name(self) -> str:
        """Deterministic file name: block key plus the digest of the pairs it holds."""
        digest = pairs_digest(self.pairs)[:16]
        return f"p{self.prompt_block}-s{self.seed_block}-{digest}.parquet"

    def __len__(self) -> int:
        return len(self.pairs)

    def batches(self, size: int) -> Iterator[list[tuple[int, int]]]:
        """Consecutive runs of at most `size` pairs."""
        for start in range(0, len(self.pairs), size):
            yield list(self.pairs[start : start + size])


def plan_shards(
    prompt_ids: Sequence[int],
    seeds: Sequence[int],
    done: set[tuple[int, int]],
    shard_prompts: int,
    shard_seeds: int,
) -> list[Shard]:
    """Group the pairs not yet done by (prompt_id // shard_prompts, seed // shard_seeds).

    Blocks are keyed by value, so adding prompts or seeds only creates new shards, and a
    restart regroups exactly the missing pairs into the same names it would have used.
    """
    groups: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for pid in prompt_ids:
        for seed in seeds:
            if (pid, seed) not in done:
                groups[(pid // shard_prompts, seed // shard_seeds)].append((pid, seed))
    return [Shard(pb, sb, tuple(pairs)) for (pb, sb), pairs in sorted(groups.items())]


def _check_shard(path: Path, full: bool = False) -> list[tuple[int, int]]:
    """Check a shard's footer, row count and pair digest (with `full`, every page's CRC)."""
    with pq.ParquetFile(path, page_checksum_verification=full) as handle:
        if full:
            handle.read()
        meta = handle.schema_arrow.metadata or {}
        rows = int(meta.get(META_ROWS.encode(), b"-1"))
        if rows != handle.metadata.num_rows:
            raise ValueError("row count does not match")
        pairs = key_pairs(handle.read(columns=list(KEYS)))
    digest = pairs_digest(pairs)
    if meta.get(META_PAIRS.encode(), b"").decode() != digest or digest[:16] not in path.name:
        raise ValueError("pairs do not match the shard's name")
    return pairs


def scan_done(folder: Path, full: bool = False) -> tuple[set[tuple[int, int]], int, list[Path]]:
    """The pairs held by sound shards, their count, and damaged shards (renamed to *.corrupt).

    The quick check (footer, row count, pair digest) catches truncated and half-written files;
    `full` also reads every page and verifies its CRC, which catches flipped bytes.
    """
    done: set[tuple[int, int]] = set()
    corrupt: list[Path] = []
    count = 0
    for path in shard_paths(folder):
        try:
            pairs = _check_shard(path, full)
        except Exception as err:  # any read error means a damaged file
            log.warning("shard %s is damaged (%s); it will be regenerated", path.name, err)
            target = path.with_name(path.name + ".corrupt")
            os.replace(path, target)
            corrupt.append(target)
            continue
        dupes = done.intersection(pairs)
        if dupes:
            log.warning("shard %s repeats %d pairs; it is set aside", path.name, len(dupes))
            os.replace(path, path.with_name(path.name + ".duplicate"))
            continue
        done.update(pairs)
        count += 1
    return done, count, corrupt


def shard_path(folder: Path, shard: Shard) -> Path:
    """Where a shard's file goes."""
    return folder / IMAGES_DIR / shard.name
