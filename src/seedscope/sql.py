"""SQL over a sweep directory: duckdb views over its Parquet files, in place."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from seedscope.errors import SeedscopeError
from seedscope.identity import read_identity
from seedscope.store import IMAGES_DIR, PROMPTS_FILE, shard_paths
from seedscope.tables import FEATURES_DIR, SCORES_DIR, SweepTables, open_sweep


def _ident(name: str) -> str:
    """A SQL identifier for a view name (letters, digits, underscores)."""
    return re.sub(r"\W", "_", name)


def _lit(path: Path) -> str:
    """A path as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def _files(paths: list[Path]) -> str:
    return "[" + ", ".join(_lit(p) for p in paths) + "]"


def views(sweep: SweepTables, with_png: bool = False) -> dict[str, str]:
    """View name -> SQL of every table of the sweep: prompts, images, scorers, features, analyses."""
    from seedscope.analysis.io import list_analyses

    out = {"prompts": f"select * from read_parquet({_lit(sweep.path / PROMPTS_FILE)})"}
    shards = shard_paths(sweep.path, IMAGES_DIR)
    if shards:
        cols = "*" if with_png else "* exclude (png)"
        out["images"] = f"select {cols} from read_parquet({_files(shards)}, union_by_name=true)"
    for kind, prefix in ((SCORES_DIR, ""), (FEATURES_DIR, "features_")):
        folder = sweep.path / kind
        if not folder.is_dir():
            continue
        for sub in sorted(folder.iterdir()):
            files = shard_paths(sub, "")
            if sub.name.startswith(".") or read_identity(sub) is None or not files:
                continue
            out[_ident(prefix + sub.name)] = f"select * from read_parquet({_files(files)})"
    seen: set[str] = set()
    for path, ident in list_analyses(sweep):
        name = _ident(ident.producer)
        if name in seen:  # several settings of one analysis: each under its file name
            name = _ident(path.stem)
        seen.add(name)
        out[name] = f"select * from read_parquet({_lit(path)})"
    return out


def connect(sweep_dir: str | Path, with_png: bool = False) -> Any:
    """A duckdb connection with one view per table of the sweep."""
    import duckdb

    sweep = open_sweep(sweep_dir)
    con = duckdb.connect()
    for name, sql in views(sweep, with_png).items():
        con.execute(f'create view "{name}" as {sql}')
    return con


def query(sweep_dir: str | Path, sql: str, with_png: bool = False) -> tuple[list[str], list[tuple]]:
    """Run `sql` against the sweep's views; returns column names and rows."""
    import duckdb

    con = connect(sweep_dir, with_png)
    try:
        cur = con.execute(sql)
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0]
        raise SeedscopeError(f"the query failed: {first}") from err
    if cur.description is None:
        return [], []
    return [d[0] for d in cur.description], cur.fetchall()
