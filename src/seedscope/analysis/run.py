"""Run the rank, map and composition analyses on a sweep directory and write DIR/analysis/."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from seedscope.analysis import plots
from seedscope.analysis.composition import (
    CompositionSettings,
    composition_columns,
    decided_columns,
    largest_complete_block,
    seed_composition,
    what_the_seed_decides,
)
from seedscope.analysis.consistency import split_prompts
from seedscope.analysis.io import write_analysis
from seedscope.analysis.maps import MapSettings, image_properties, name_clusters, seed_map
from seedscope.analysis.rank import RankSettings, rank_seeds, score_columns, score_grids
from seedscope.analysis.tables import features, scores_frame
from seedscope.errors import SeedscopeError
from seedscope.identity import Identity
from seedscope.tables import SweepTables as Sweep
from seedscope.tables import open_sweep

log = logging.getLogger(__name__)

__all__ = ["run_composition", "run_map", "run_rank"]


def _arrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)


def _summary_table(summary: dict[str, Any]) -> pa.Table:
    return pa.table({"summary": [json.dumps(summary, default=_jsonable)]})


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def _inputs(sweep: Sweep, df: pd.DataFrame) -> dict[str, Any]:
    """What an analysis of `df` read: the sweep and each scorer's cache identity digest."""
    from seedscope.identity import read_identity

    scorers = {}
    for name in sorted({c.split(".", 1)[0] for c in df.columns if "." in c}):
        ident = read_identity(sweep.path / "scores" / name)
        scorers[name] = None if ident is None else ident.digest
    return {"sweep": str(sweep.path), "scorers": scorers, "rows": len(df)}


FidTables = tuple[
    pd.DataFrame | None, tuple[pd.DataFrame, pd.DataFrame] | None, str, Identity | None
]


def _fid_table(sweep: Sweep, settings: RankSettings, set_a: np.ndarray | None) -> FidTables:
    """FID/KID per seed from `fid-seeds`; jackknife intervals on all prompts and on each set.

    The features are streamed (`SweepTables.feature_batches`), a group of seeds at a time: all
    three FIDs of a seed come from one pass (`fid_streamed`), its KIDs from a second
    (`kid_streamed`, which holds one group's features at a time).
    """
    from seedscope.analysis.io import choose_fid_by_seed

    found = choose_fid_by_seed(sweep, settings.fid_extractor)
    if found is None:
        return None, None, "no fid_by_seed result (run `seedscope fid-seeds DIR --ref REF`)", None
    import pyarrow.parquet as pq

    path, ident = found
    t = pq.read_table(path).to_pandas()
    points = t[[c for c in ("seed", "fid", "kid") if c in t.columns]]
    if not settings.fid_intervals:
        return points, None, "FID/KID without intervals (--no-fid-intervals)", ident
    try:
        from seedscope.analysis.fid_interval import fid_streamed, kid_streamed, prompt_blocks
        from seedscope.features import extractor_options, get_extractor
        from seedscope.metrics.reference import load_reference

        info = ident.to_dict()
        feat_id = info["inputs"]["features"]
        opts = extractor_options(feat_id["settings"])
        ex = get_extractor(feat_id["producer"], **opts)
        ref = load_reference(info["inputs"]["reference"], ex, allow_small=True)
        pids = sweep.prompts()["prompt_id"].to_numpy()
        in_a = None if set_a is None else np.isin(pids, set_a)
        cells, k = prompt_blocks(pids, in_a, settings.fid_blocks)

        def read(group: list[int]) -> Any:
            return sweep.feature_batches(feat_id["producer"], seeds=group, **opts)

        seeds = points["seed"].to_numpy()
        views = [
            pd.DataFrame(d)
            for d in fid_streamed(
                read, seeds, pids, cells, k, ref.mean, ref.cov, level=settings.level
            )
        ]
        note = f"FID with delete-one-of-{k}-prompt-blocks jackknife t intervals (features streamed)"
        if "kid" in points.columns and ref.features is not None:
            kids = kid_streamed(read, seeds, pids, cells, k, ref.features, level=settings.level)
            views = [
                v.merge(pd.DataFrame(kd), on="seed", how="left")
                for v, kd in zip(views, kids, strict=True)
            ]
            note += "; KID likewise"
        elif "kid" in points.columns:
            views[0] = views[0].merge(points[["seed", "kid"]], on="seed", how="left")
            note += "; KID from fid-seeds, without an interval (the reference keeps no features)"
        full, a, b = views
        return full, (a, b) if set_a is not None else None, note, ident
    except (SeedscopeError, KeyError, OSError, ValueError, TypeError) as err:
        log.warning("FID/KID intervals not computed: %s", err)
        return points, None, f"FID/KID without intervals ({err})", ident


def run_rank(
    sweep: str | Path, settings: RankSettings, *, make_plots: bool = True
) -> dict[str, Any]:
    """Rank the seeds of a sweep; writes analysis/rank-*.parquet, rank_summary-*.parquet, plots."""
    sw = open_sweep(sweep)
    df = scores_frame(sw)
    prompts = sw.prompts().to_pandas()
    sets = prompts["set"].to_numpy(dtype=object) if "set" in prompts.columns else None
    mask, *_ = split_prompts(
        prompts["prompt_id"].to_numpy(), sets, fraction=settings.split, seed=settings.split_seed
    )
    per_seed, per_set, fid_note, fid_id = _fid_table(
        sw, settings, prompts["prompt_id"].to_numpy()[mask]
    )
    result = rank_seeds(df, settings, per_seed=per_seed, per_seed_sets=per_set)
    result.summary["fid"] = fid_note
    inputs = _inputs(sw, df)
    if fid_id is not None:
        inputs["fid_by_seed"] = fid_id.digest
    s = asdict(settings)
    path = write_analysis(sw, "rank", _arrow(result.table), s, inputs)
    summary = dict(result.summary)
    spath = write_analysis(sw, "rank_summary", _summary_table(summary), s, inputs)
    files = [str(path), str(spath)]
    if make_plots and result.consistency is not None:
        c = result.consistency
        sets = summary["sets"]
        files += [
            str(p)
            for p in plots.consistency_plot(
                c.mean_a,
                c.mean_b,
                metric=summary["metric"],
                names=(sets["a"], sets["b"]),
                higher_is_better=summary["higher_is_better"],
                rho=c.rho,
                stem=path.with_name(path.stem + "-consistency"),
            )
        ]
    summary["files"] = files
    return summary


def _map_cube(
    sw: Sweep, settings: MapSettings, df: pd.DataFrame | None, prompt_ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """A complete (P, S, D) block of per-image features on the map's prompts."""
    if settings.by == "style":
        keys, x = features(sw, "gram")
        pid, sd = keys["prompt_id"].to_numpy(), keys["seed"].to_numpy()
    else:
        if df is None:
            raise SeedscopeError(
                f"{sw.path} has no scores yet; run `seedscope score {sw.path} --scorers "
                "world` (bundled model) or `--scorers composition` first."
            )
        cols = composition_columns(score_columns(df))
        x = df[[cols["x"], cols["y"], cols["area"]]].to_numpy(np.float32)
        good = ~np.isnan(x).any(1)
        x = x[good]
        pid, sd = df["prompt_id"].to_numpy()[good], df["seed"].to_numpy()[good]
    keep = np.isin(pid, prompt_ok)
    pid, sd, x = pid[keep], sd[keep], x[keep]
    up, ip = np.unique(pid, return_inverse=True)
    us, is_ = np.unique(sd, return_inverse=True)
    ok = np.zeros((len(up), len(us)), bool)
    ok[ip, is_] = True
    rows, cols_ = largest_complete_block(ok)
    note = {
        "grid": [len(up), len(us)],
        "block": [len(rows), len(cols_)],
        "complete": bool(ok.all()),
    }
    if not ok.all():
        log.warning(
            "the %d prompts x %d seeds grid is incomplete; using its largest complete block, "
            "%d prompts x %d seeds.",
            len(up),
            len(us),
            len(rows),
            len(cols_),
        )
    cube = np.full((len(up), len(us), x.shape[1]), np.nan, np.float32)
    cube[ip, is_] = x
    return cube[np.ix_(rows, cols_)], up[rows], us[cols_], note


def run_map(sweep: str | Path, settings: MapSettings, *, make_plots: bool = True) -> dict[str, Any]:
    """A style or layout map of seeds with named clusters; writes analysis/map_<by>-*.parquet."""
    sw = open_sweep(sweep)
    try:
        df: pd.DataFrame | None = scores_frame(sw)
    except SeedscopeError:
        if settings.by == "layout":
            raise
        df = None  # a style map needs only features; its clusters stay unnamed
    prompts = sw.prompts().to_pandas()
    sets = prompts["set"].to_numpy(dtype=object) if "set" in prompts.columns else None
    mask, name_a, name_b, how = split_prompts(
        prompts["prompt_id"].to_numpy(), sets, fraction=settings.split, seed=settings.split_seed
    )
    map_prompts = prompts["prompt_id"].to_numpy()[mask]
    cube, pids, seeds, note = _map_cube(sw, settings, df, map_prompts)
    m = seed_map(cube, seeds, settings)
    clusters = pd.DataFrame({"cluster": np.unique(m.labels)})
    if df is not None:
        p_all, s_all, grids = score_grids(df, score_columns(df))
        props = image_properties(grids)
        cols = np.searchsorted(s_all, seeds)
        in_a = np.isin(p_all, pids)
        in_b = ~np.isin(p_all, map_prompts)
        clusters = name_clusters(
            m.labels,
            {k: v[in_a][:, cols] for k, v in props.items()},
            {k: v[in_b][:, cols] for k, v in props.items()},
            min_share=settings.min_share,
            rng_seed=settings.rng_seed,
        )
    names = {
        int(
            r["cluster"]
        ): f"{int(r['cluster'])}: {r['property'] if pd.notna(r.get('property')) else 'no property'}"
        for _, r in clusters.iterrows()
    }
    points = pd.DataFrame({"seed": seeds, "x": m.xy[:, 0], "y": m.xy[:, 1], "cluster": m.labels})
    s = asdict(settings)
    inputs = {"sweep": str(sw.path), "prompts": [int(p) for p in pids], "backend": m.backend}
    name = f"map_{settings.by}"
    path = write_analysis(sw, name, _arrow(points), s, inputs)
    cpath = write_analysis(sw, f"{name}_clusters", _arrow(clusters), s, inputs)
    files = [str(path), str(cpath)]
    if make_plots:
        first = int(pids[0])
        files += [
            str(p)
            for p in plots.map_plot(
                m.xy,
                m.labels,
                names,
                lambda i: sw.image(first, int(seeds[i])),
                title=f"{settings.by} map of {len(seeds)} seeds over {len(pids)} prompts "
                f"(thumbnails: prompt {first})",
                stem=path.with_name(path.stem),
            )
        ]
    return {
        "by": settings.by,
        "seeds": len(seeds),
        "prompts": len(pids),
        "grid": note,
        "sets": {"map": name_a, "heldout": name_b, "how": how},
        "backend": m.backend,
        "clusters": json.loads(clusters.to_json(orient="records")),
        "files": files,
    }


def run_composition(
    sweep: str | Path,
    settings: CompositionSettings,
    *,
    category: str | None = None,
    make_plots: bool = True,
) -> dict[str, Any]:
    """Per-seed composition and 'what the seed decides'; writes analysis/composition*-*.parquet."""
    sw = open_sweep(sweep)
    df = scores_frame(sw)
    columns = score_columns(df)
    pids, seeds, grids = score_grids(df, decided_columns(columns, settings.source))
    s = asdict(settings)
    inputs = _inputs(sw, df)
    files: list[str] = []
    out: dict[str, Any] = {}
    try:
        comp = composition_columns(columns, settings.source)
    except SeedscopeError as err:
        log.warning("%s", err)
        comp = {}
    if comp:
        per_seed = seed_composition({k: grids[v] for k, v in comp.items()}, seeds, settings)
        path = write_analysis(sw, "composition_by_seed", _arrow(per_seed), s, inputs)
        files.append(str(path))
        out["source"] = comp["x"].split(".", 1)[0]
        if make_plots:
            cat, rows = _category_rows(df, pids, category)
            files += [
                str(p)
                for p in plots.composition_plots(
                    grids[comp["x"]][rows],
                    grids[comp["y"]][rows],
                    grids[comp["area"]],
                    seeds,
                    category=cat,
                    stem=path.with_name(path.stem + "-fig10"),
                )
            ]
    decides, meta = what_the_seed_decides(grids, settings)
    dpath = write_analysis(sw, "seed_decides", _arrow(decides), s, inputs)
    files.append(str(dpath))
    out.update(
        seeds=len(seeds),
        prompts=len(pids),
        blocks=meta["blocks"],
        decides=json.loads(decides.to_json(orient="records")),
        files=files,
    )
    return out


def _category_rows(
    df: pd.DataFrame, pids: np.ndarray, category: str | None
) -> tuple[str, np.ndarray]:
    """Rows of the prompts that name `category` (default: the most common world category)."""
    prompts = df.drop_duplicates("prompt_id").set_index("prompt_id")["prompt"].reindex(pids)
    text = prompts.fillna("").str.lower()
    if category is None:
        from seedscope.world.grammar import CATEGORIES

        counts = {c: int(text.str.contains(rf"\b{c}\b").sum()) for c in CATEGORIES}
        category = max(counts, key=lambda c: counts[c])
        if counts[category] == 0:
            return "all prompts", np.arange(len(pids))
    rows = np.flatnonzero(text.str.contains(rf"\b{category.lower()}\b").to_numpy())
    if len(rows) == 0:
        raise SeedscopeError(
            f"no prompt names {category!r}; give --category WORD from the prompts."
        )
    return category, rows
