"""Analysis results on disk: one Parquet file per identity, its settings in the file's metadata.

`write_analysis(sweep, "fid_by_seed", table, settings, inputs)` writes
``DIR/analysis/fid_by_seed-<digest12>.parquet``; another setting gets another file, so two runs
with different settings never overwrite each other. `read_analysis` picks the one matching.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from seedscope.errors import SeedscopeError
from seedscope.identity import Identity, table_identity
from seedscope.store import Sweep, atomic_write_parquet, open_sweep

log = logging.getLogger(__name__)

ANALYSIS_DIR = "analysis"
ANALYSIS_VERSION = "1"


def _path(sweep: Sweep, name: str, identity: Identity) -> Path:
    return sweep.path / ANALYSIS_DIR / f"{name}-{identity.digest[:12]}.parquet"


def _opened(sweep: Sweep | str | Path) -> Sweep:
    return sweep if isinstance(sweep, Sweep) else open_sweep(sweep)


def analysis_identity(
    name: str,
    settings: Mapping[str, Any],
    inputs: Mapping[str, Any] | None = None,
    version: str = ANALYSIS_VERSION,
) -> Identity:
    """The identity of an analysis result."""
    return Identity(name, version, dict(settings), dict(inputs or {}))


def write_analysis(
    sweep: Sweep | str | Path,
    name: str,
    table: pa.Table,
    settings: Mapping[str, Any],
    inputs: Mapping[str, Any] | None = None,
    version: str = ANALYSIS_VERSION,
) -> Path:
    """Write an analysis table atomically, named by its identity; returns the path."""
    opened = _opened(sweep)
    identity = analysis_identity(name, settings, inputs, version)
    path = _path(opened, name, identity)
    return atomic_write_parquet(table, path, identity.metadata())


def list_analyses(
    sweep: Sweep | str | Path, name: str | None = None
) -> list[tuple[Path, Identity]]:
    """Every analysis file (of `name`, if given) with its identity, newest first."""
    folder = _opened(sweep).path / ANALYSIS_DIR
    if not folder.is_dir():
        return []
    out = []
    for p in folder.glob("*.parquet"):
        if p.name.startswith("."):
            continue
        ident = table_identity(pq.read_schema(p).metadata)
        if ident is not None and (name is None or ident.producer == name):
            out.append((p, ident))
    out.sort(key=lambda pi: pi[0].stat().st_mtime, reverse=True)
    return out


def _matches(ident: Identity, wanted: Mapping[str, Any]) -> bool:
    have = ident.to_dict()["settings"]
    want = Identity("x", "0", dict(wanted)).to_dict()["settings"]
    return all(have.get(k) == v for k, v in want.items())


MAKERS = {"fid_by_seed": "fid-seeds"}
"""The command that makes each analysis, where it is not the analysis' own name."""


def find_analysis(sweep: Sweep | str | Path, name: str, **settings: Any) -> tuple[Path, Identity]:
    """The one result of `name` whose settings include `settings`; an error if none or several."""
    opened = _opened(sweep)
    found = [(p, i) for p, i in list_analyses(opened, name) if _matches(i, settings)]
    if not found:
        what = f" with {', '.join(f'{k}={v}' for k, v in settings.items())}" if settings else ""
        command = MAKERS.get(name, name.split("_")[0])
        raise SeedscopeError(
            f"{opened.path} has no {name} result{what}; run `seedscope {command} "
            f"{opened.path}` first."
        )
    if len(found) > 1:
        choices = "; ".join(i.describe() for _, i in found)
        raise SeedscopeError(
            f"{opened.path} has {len(found)} {name} results ({choices}); say which by its settings."
        )
    return found[0]


def fid_label(ident: Identity) -> str:
    """How `--fid-extractor` names a fid_by_seed result: its extractor's cache key."""
    return str(ident.settings.get("extractor", ident.producer))


def choose_fid_by_seed(
    sweep: Sweep | str | Path, extractor: str | None = None
) -> tuple[Path, Identity] | None:
    """The fid_by_seed result to use: the only one, or the one of `extractor`; None if none.

    `extractor` is a cache key (`inception@clean`) or an extractor name (`inception`). Several
    results and no choice, or a choice matching none or several, is one sentence naming them.
    """
    opened = _opened(sweep)
    found = list_analyses(opened, "fid_by_seed")
    if not found:
        return None
    labels = sorted({fid_label(i) for _, i in found})
    if extractor is not None:
        picked = [
            (p, i)
            for p, i in found
            if extractor in (fid_label(i), (i.inputs.get("features") or {}).get("producer"))
        ]
        if not picked:
            raise SeedscopeError(
                f"{opened.path} has no fid_by_seed result of {extractor!r}; it has: "
                f"{', '.join(labels)}."
            )
        found = picked
    if len(found) > 1:
        names = sorted({fid_label(i) for _, i in found})
        if len(names) > 1:
            raise SeedscopeError(
                f"{opened.path} has {len(found)} fid_by_seed results; choose one with "
                + " or ".join(f"--fid-extractor {n}" for n in names)
                + "."
            )
        files = ", ".join(p.name for p, _ in found)
        raise SeedscopeError(
            f"{opened.path} has {len(found)} fid_by_seed results of {names[0]} (other references "
            f"or KID settings: {files}); move away the ones not wanted."
        )
    return found[0]


def read_analysis(sweep: Sweep | str | Path, name: str, **settings: Any) -> pa.Table:
    """The table of the one result of `name` matching `settings` (see `find_analysis`)."""
    path, _ = find_analysis(sweep, name, **settings)
    return pq.read_table(path)
