"""One read-only view of everything a sweep knows: images, prompts, scores and features.

`seedscope.open_sweep(DIR)` returns a `SweepTables`: the store's `Sweep` plus `scores()` (one
Arrow table keyed by (prompt_id, seed), every scorer's columns namespaced) and `features()`
(keys and a float32 array). Both only read: they never load a model or compute, and name the
command that fills what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from seedscope.errors import SeedscopeError
from seedscope.identity import Identity, read_identity, table_identity
from seedscope.store import KEYS, Sweep, shard_paths

SCORES_DIR = "scores"
FEATURES_DIR = "features"


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("prompt_id", "ascending"), ("seed", "ascending")])


def read_checked(folder: Path, columns: Sequence[str] | None = None) -> tuple[pa.Table, Identity]:
    """A derived table folder read as one table; every file must carry the folder's identity."""
    import pyarrow.dataset as ds

    ident = read_identity(folder)
    files = shard_paths(folder, "")
    if ident is None:
        raise SeedscopeError(f"{folder} has no identity.json; recompute it with --recompute.")
    for f in files:
        found = table_identity(pq.read_schema(f).metadata)
        if found != ident:
            raise SeedscopeError(
                f"{f} was made by {found.describe() if found else 'an unknown producer'}, not "
                f"{ident.describe()} like the rest of {folder}; rerun with --recompute."
            )
    if not files:
        return pa.table(
            {"prompt_id": pa.array([], pa.int64()), "seed": pa.array([], pa.int64())}
        ), ident
    have = pq.read_schema(files[0]).names
    unknown = [c for c in columns or () if c not in have]
    if unknown:
        raise SeedscopeError(
            f"the {folder.name!r} table has no column {unknown[0]!r}; it has: "
            f"{', '.join(c for c in have if c not in KEYS)}."
        )
    cols = None if columns is None else list(dict.fromkeys([*KEYS, *columns]))
    return ds.dataset([str(f) for f in files], format="parquet").to_table(columns=cols), ident


class SweepTables(Sweep):
    """A sweep directory with its derived tables: `scores()`, `features()`, `scorers()`."""

    def scorers(self) -> list[str]:
        """Names of the scorers with a cache in this sweep."""
        folder = self.path / SCORES_DIR
        if not folder.is_dir():
            return []
        return sorted(
            p.name
            for p in folder.iterdir()
            if not p.name.startswith(".") and (p / "identity.json").is_file()
        )

    def _keys(self, set: str | None) -> pa.Table:
        """The image keys with `prompt` and `set`, restricted to one prompt set if asked."""
        prompts = self.prompts()
        if "set" not in prompts.column_names:
            prompts = prompts.append_column("set", pa.nulls(prompts.num_rows, pa.string()))
        prompts = prompts.select(["prompt_id", "prompt", "set"])
        if set is not None:
            known = sorted(x for x in prompts["set"].unique().to_pylist() if x is not None)
            if set not in known:
                raise SeedscopeError(
                    f"the sweep has no prompt set {set!r}; its sets are: {', '.join(known) or 'none'}."
                )
            prompts = prompts.filter(pc.equal(prompts["set"], set))
        keys = self.keys()
        return _sorted(keys.join(prompts, "prompt_id", join_type="inner"))

    def scores(
        self,
        names: Sequence[str] | None = None,
        set: str | None = None,
        allow_missing: bool = False,
    ) -> pa.Table:
        """One table: keys, `prompt`, `set` and every asked scorer's columns as `scorer.column`.

        `names` are scorers (`sky`) or single columns (`world.object_x`); None means every
        scorer cached. Scorers that lack rows the images have are one error listing each with
        its missing count and the command that fills them, unless `allow_missing` (then their
        columns are null there).
        """
        wanted: dict[str, list[str] | None] = {}
        for name in names if names is not None else self.scorers():
            scorer, _, column = name.partition(".")
            if column:
                cols = wanted.setdefault(scorer, [])
                if cols is not None:
                    cols.append(column)
            else:
                wanted[scorer] = None
        if not wanted:
            raise SeedscopeError(
                f"{self.path} has no scores yet; run `seedscope score {self.path} --scorers ...`."
            )
        out = self._keys(set)
        tables: dict[str, pa.Table] = {}
        lacking: dict[str, str] = {}  # scorer -> what it lacks
        for scorer, cols in wanted.items():
            folder = self.path / SCORES_DIR / scorer
            if not (folder / "identity.json").is_file():
                lacking[scorer] = f"{scorer!r} has no scores (all {out.num_rows} images)"
                continue
            table, _ = read_checked(folder, cols)
            missing = set_difference(out.select(list(KEYS)), table.select(list(KEYS)))
            if missing:
                lacking[scorer] = f"{scorer!r} lacks scores for {missing} of {out.num_rows} images"
            tables[scorer] = table
        # A scorer with no cache at all has no columns to leave null: refused even so.
        if lacking and (not allow_missing or len(tables) < len(wanted)):
            raise SeedscopeError(
                f"{'; '.join(lacking.values())}; run "
                f"`seedscope score {self.path} --scorers {','.join(lacking)}`."
            )
        for scorer, table in tables.items():
            renamed = table.rename_columns(
                [c if c in KEYS else f"{scorer}.{c}" for c in table.column_names]
            )
            out = out.join(renamed, list(KEYS), join_type="left outer")
        return _sorted(out)

    def features(self, name: str, **settings: Any) -> tuple[pa.Table, np.ndarray]:
        """Cached features of extractor `name` (with `settings`): keys and float32 (N, dim).

        Rows are sorted by (prompt_id, seed). Read only: if rows are missing, the error names
        the command that computes them.
        """
        from seedscope.features import get_extractor
        from seedscope.features.cache import read_features

        extractor = get_extractor(name, **settings)
        keys, feats = read_features(self.path, extractor)
        self._require_features(keys, extractor.key, name, settings)
        return keys, feats

    def _require_features(
        self, keys: pa.Table, key: str, name: str, settings: dict[str, Any]
    ) -> None:
        """Refuse, naming the command that fills them, when images lack cached features."""
        from seedscope.plugins import show

        have = self.keys()
        missing = set_difference(have, keys)
        if missing:
            opts = "".join(f" --option {name}.{k}={show(v)}" for k, v in settings.items())
            raise SeedscopeError(
                f"{missing} of {have.num_rows} images have no {key} features; run "
                f"`seedscope score {self.path} --scorers '' --features {name}{opts}`."
            )

    def feature_batches(
        self,
        name: str,
        seeds: Sequence[int] | None = None,
        batch_rows: int = 8192,
        **settings: Any,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Cached features of `name` in batches of (prompt_ids, seeds, float32 (n, dim)).

        Like `features()` but streamed (one batch in memory), unsorted, only `seeds` if given;
        every image must have its features (checked on the key columns first).
        """
        from seedscope.features import get_extractor
        from seedscope.features.cache import iter_features

        extractor = get_extractor(name, **settings)
        folder = self.path / FEATURES_DIR / extractor.key
        files = shard_paths(folder, "")
        keys = (
            read_checked(folder, [])[0].select(list(KEYS))
            if files
            else pa.table({k: pa.array([], pa.int64()) for k in KEYS})
        )
        self._require_features(keys, extractor.key, name, settings)
        yield from iter_features(self.path, extractor, seeds=seeds, batch_rows=batch_rows)


def set_difference(have: pa.Table, got: pa.Table) -> int:
    """How many (prompt_id, seed) keys of `have` are not in `got`."""
    if have.num_rows == 0:
        return 0
    joined = have.join(got.select(list(KEYS)), list(KEYS), join_type="left anti")
    return int(joined.num_rows)


def open_sweep(path: str | os.PathLike[str]) -> SweepTables:
    """Open a sweep directory for reading: plan, prompts, images, scores and features."""
    return SweepTables(path)
