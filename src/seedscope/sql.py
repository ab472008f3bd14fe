"""SQL over a sweep directory: duckdb views over its Parquet files, in place."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from seedscope.errors import SeedscopeError
from seedscope.identity import read_identity, table_identity
from seedscope.store import IMAGES_DIR, PROMPTS_FILE, shard_paths
from seedscope.tables import FEATURES_DIR, SCORES_DIR, SweepTables, open_sweep

log = logging.getLogger(__name__)


def _ident(name: str) -> str:
    """A SQL identifier for a view name (letters, digits, underscores)."""
    return re.sub(r"\W", "_", name)


def _lit(path: Path) -> str:
    """A path as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def _files(paths: list[Path]) -> str:
    return "[" + ", ".join(_lit(p) for p in paths) + "]"


def _check_folder(folder: Path) -> tuple[list[Path], str | None]:
    """The shards of a derived folder, or why it is refused (the check `sweep.scores` makes)."""
    ident = read_identity(folder)
    files = shard_paths(folder, "")
    if ident is None:
        return files, f"{folder} has no identity.json; recompute it with --recompute"
    for f in files:
        found = table_identity(pq.read_schema(f).metadata)
        if found != ident:
            made = found.describe() if found else "an unknown producer"
            return files, (
                f"{f} was made by {made}, not {ident.describe()} like the rest of {folder}; "
                "rerun `seedscope score` with --recompute"
            )
    return files, None


def catalog(sweep: SweepTables, with_png: bool = False) -> tuple[dict[str, str], dict[str, str]]:
    """(view name -> SQL, refused name -> why) for every table of the sweep.

    A scores or features folder whose files do not all carry its identity is refused, never
    mixed. Each analysis result is a view `<name>_<digest12>` (its file name); the plain
    `<name>` also refers to it when it is the only result of that name, and is refused as
    ambiguous (naming the choices) when there are several.
    """
    from seedscope.analysis.io import list_analyses

    out = {"prompts": f"select * from read_parquet({_lit(sweep.path / PROMPTS_FILE)})"}
    refused: dict[str, str] = {}
    shards = shard_paths(sweep.path, IMAGES_DIR)
    if shards:
        cols = "*" if with_png else "* exclude (png)"
        out["images"] = f"select {cols} from read_parquet({_files(shards)}, union_by_name=true)"
    for kind, prefix in ((SCORES_DIR, ""), (FEATURES_DIR, "features_")):
        folder = sweep.path / kind
        if not folder.is_dir():
            continue
        for sub in sorted(folder.iterdir()):
            if sub.name.startswith(".") or not sub.is_dir():
                continue
            files, why = _check_folder(sub)
            name = _ident(prefix + sub.name)
            if why is not None:
                refused[name] = why
            elif files:
                out[name] = f"select * from read_parquet({_files(files)})"
    by_name: dict[str, list[str]] = {}
    for path, ident in sorted(list_analyses(sweep), key=lambda pi: pi[0].name):
        name, stem = _ident(ident.producer), _ident(path.stem)
        if not path.stem.endswith("-" + ident.digest[:12]):
            refused[stem] = f"{path} is not named by its identity ({ident.describe()})"
            continue
        out[stem] = f"select * from read_parquet({_lit(path)})"
        by_name.setdefault(name, []).append(stem)
    for name, stems in by_name.items():
        if name in out:  # an analysis named like a scorer keeps only its suffixed views
            continue
        if len(stems) == 1:
            out[name] = out[stems[0]]
        else:
            refused[name] = (
                f"the sweep has {len(stems)} {name} results; query one of them by its view: "
                f"{', '.join(stems)}"
            )
    return out, refused


def views(sweep: SweepTables, with_png: bool = False) -> dict[str, str]:
    """View name -> SQL of every table of the sweep: prompts, images, scorers, features, analyses."""
    return catalog(sweep, with_png)[0]


def connect(sweep_dir: str | Path, with_png: bool = False) -> Any:
    """A duckdb connection with one view per table of the sweep (refused tables logged)."""
    con, _ = _connect(open_sweep(sweep_dir), with_png)
    return con


def _connect(sweep: SweepTables, with_png: bool) -> tuple[Any, dict[str, str]]:
    import duckdb

    made, refused = catalog(sweep, with_png)
    for name, why in refused.items():
        log.warning("no view %s: %s.", name, why)
    con = duckdb.connect()
    for name, sql in made.items():
        con.execute(f'create view "{name}" as {sql}')
    return con, refused


def query(sweep_dir: str | Path, sql: str, with_png: bool = False) -> tuple[list[str], list[tuple]]:
    """Run `sql` against the sweep's views; returns column names and rows."""
    import duckdb

    con, refused = _connect(open_sweep(sweep_dir), with_png)
    try:
        cur = con.execute(sql)
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0]
        if isinstance(err, duckdb.CatalogException):
            for name, why in refused.items():
                if re.search(rf"\b{re.escape(name)}\b", first):
                    raise SeedscopeError(f"no view {name}: {why}.") from err
        raise SeedscopeError(f"the query failed: {first}") from err
    if cur.description is None:
        return [], []
    return [d[0] for d in cur.description], cur.fetchall()
