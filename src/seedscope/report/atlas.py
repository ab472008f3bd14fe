"""The atlas: one static HTML page of a sweep's analyses, plus a page per seed (jinja2, autoescaped).

It reads the sweep's plan, images and `analysis/` results and computes nothing: a section whose
analysis has not been run says which command makes it.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.report import figures
from seedscope.store import Sweep, atomic_write_bytes, open_sweep
from seedscope.world.grammar import MODES as WORLD_MODES

log = logging.getLogger(__name__)

__all__ = ["SECTIONS", "ReportSettings", "write_report"]

SECTIONS: dict[str, tuple[str, str]] = {
    "plan": ("The plan", "seedscope sweep"),
    "ranking": ("Seed ranking", "seedscope rank DIR"),
    "golden": ("Golden and inferior seeds", "seedscope rank DIR"),
    "decides": ("What the seed decides", "seedscope composition DIR"),
    "maps": (
        "Style and layout maps",
        "seedscope map DIR --by style; seedscope map DIR --by layout",
    ),
    "classify": ("Seed classifier", "seedscope classify DIR"),
    "identify": ("Seed identification", "seedscope identify --sweep DIR"),
    "swap": ("The seed swap", "seedscope swap --sweep DIR"),
    "inpaint": (
        "Inpainting audit",
        "seedscope world pairs --out PAIRS; seedscope inpaint-audit --pairs PAIRS/pairs.csv "
        "--out DIR/inpaint",
    ),
    "compare_golden": (
        "Golden pool against random seeds",
        "seedscope pick golden DIR --out CARD, then seedscope pick compare CARD DIR",
    ),
    "compare_diverse": (
        "Diverse seeds against random seeds",
        "seedscope pick diverse DIR --out CARD, then seedscope pick compare CARD DIR",
    ),
}
"""Section id -> (title, the command that makes it)."""


@dataclass(frozen=True)
class ReportSettings:
    """Where the atlas goes and how large its pictures are."""

    out: Path | None = None  # default: DIR/report
    thumb: int = 64  # thumbnail size in pixels
    grid_prompts: int = 6  # prompts (rows) in each seed grid
    grid_seeds: int = 8  # seeds (columns) in each golden/inferior grid
    mode_seeds: int = 4  # example seeds per "what the seed decides" mode

    def __post_init__(self) -> None:
        if not 16 <= self.thumb <= 256:
            raise SeedscopeError(f"--thumb must be between 16 and 256 pixels, not {self.thumb}.")


# Reading what is on disk.


class _Results:
    """The sweep's analysis files, newest first per producer (read once, never written)."""

    def __init__(self, sweep: Sweep) -> None:
        from seedscope.analysis.io import list_analyses

        self.sweep = sweep
        self.found = list_analyses(sweep)
        self.by_name: dict[str, list[tuple[Path, Any]]] = {}
        for path, ident in self.found:
            self.by_name.setdefault(ident.producer, []).append((path, ident))

    def path(self, name: str) -> Path | None:
        hits = self.by_name.get(name)
        return hits[0][0] if hits else None

    def table(self, name: str) -> pd.DataFrame | None:
        p = self.path(name)
        return None if p is None else pq.read_table(p).to_pandas()

    def identity(self, name: str) -> dict[str, Any]:
        hits = self.by_name.get(name)
        return hits[0][1].to_dict() if hits else {}

    def summary(self, name: str) -> dict[str, Any] | None:
        t = self.table(name)
        if t is None or "summary" not in t.columns or len(t) == 0:
            return None
        return dict(json.loads(t["summary"].iloc[0]))

    def figure(self, name: str, suffix: str = "") -> Path | None:
        """A PNG written beside the analysis file (`<stem><suffix>.png`)."""
        p = self.path(name)
        if p is None:
            return None
        png = p.with_name(p.stem + suffix + ".png")
        return png if png.is_file() else None

    def figure_of(self, prefix: str) -> Path | None:
        """The newest PNG in analysis/ whose name starts with `prefix`."""
        folder = self.sweep.path / "analysis"
        pngs = sorted(folder.glob(f"{prefix}*.png"), key=lambda p: p.stat().st_mtime, reverse=True)
        return pngs[0] if pngs else None


def _fmt(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating):
        if math.isnan(float(x)):
            return "–"
        return f"{float(x):.4g}"
    if isinstance(x, list | tuple | np.ndarray):
        return ", ".join(_fmt(v) for v in list(x)[:12]) + (" …" if len(x) > 12 else "")
    if isinstance(x, dict):
        return json.dumps(x, default=str)[:200]
    return str(x)


def table_view(
    df: pd.DataFrame, columns: Sequence[str] | None = None, max_rows: int = 64
) -> dict[str, Any]:
    """Headers and string rows of a table; a column `c` with `c_lo`/`c_hi` shows `v [lo, hi]`."""
    cols = [c for c in (columns or df.columns) if c in df.columns]
    shown = [c for c in cols if not (re.search(r"_(lo|hi)$", c) and c[:-3] in cols)]
    rows = []
    for _, r in df.head(max_rows).iterrows():
        row = []
        for c in shown:
            text = _fmt(r[c])
            if f"{c}_lo" in df.columns and f"{c}_hi" in df.columns and text not in ("", "–"):
                text += f" [{_fmt(r[f'{c}_lo'])}, {_fmt(r[f'{c}_hi'])}]"
            row.append(text)
        rows.append(row)
    return {"headers": shown, "rows": rows, "more": max(0, len(df) - max_rows)}


# The sweep's images.


class _Images:
    """The sweep's images by (prompt_id, seed), cached; None where the sweep has none."""

    def __init__(self, sweep: Sweep) -> None:
        self.sweep = sweep
        keys = sweep.keys().to_pandas()
        self.prompts = sorted(int(p) for p in keys["prompt_id"].unique())
        self.seeds = sorted(int(s) for s in keys["seed"].unique())
        self.have = set(zip(keys["prompt_id"].astype(int), keys["seed"].astype(int), strict=True))
        self.get = lru_cache(maxsize=4096)(self._get)

    def _get(self, prompt_id: int, seed: int) -> Image.Image | None:
        if (prompt_id, seed) not in self.have:
            return None
        try:
            return self.sweep.image(prompt_id, seed)
        except SeedscopeError:
            return None


# The sections.


def _plan(sw: Sweep, res: _Results, imgs: _Images) -> dict[str, Any]:
    plan = dict(sw.plan)
    prompts = sw.prompts().to_pandas()
    sets = prompts["set"].value_counts().to_dict() if "set" in prompts.columns else {}
    keep = (
        "model", "model_path", "steps", "guidance", "scheduler", "height", "width", "dtype",
        "seeds", "negative_prompt", "generator_device", "library_versions",
    )  # fmt: skip
    settings = [(k, _fmt(plan[k])) for k in keep if plan.get(k) not in (None, "")]
    runs = [
        {
            "name": ident.producer,
            "file": path.name,
            "settings": ", ".join(f"{k}={_fmt(v)}" for k, v in ident.to_dict()["settings"].items())[
                :300
            ],
        }
        for path, ident in res.found
    ]
    return {
        "settings": settings,
        "grid": f"{len(imgs.prompts)} prompts x {len(imgs.seeds)} seeds = {len(imgs.have)} images",
        "sets": [(str(k), int(v)) for k, v in sorted(sets.items(), key=lambda kv: str(kv[0]))],
        "prompts": table_view(prompts, ["prompt_id", "set", "prompt"], max_rows=24),
        "runs": runs,
    }


def _heldout_prompts(sw: Sweep, imgs: _Images, n: int) -> list[int]:
    """The prompts of the grids: from set b where there are sets (prompts that chose nothing)."""
    prompts = sw.prompts().to_pandas()
    ids = [int(p) for p in prompts["prompt_id"] if int(p) in set(imgs.prompts)]
    if "set" in prompts.columns:
        sets = sorted(str(s) for s in prompts["set"].dropna().unique())
        if len(sets) > 1:
            last = prompts[prompts["set"].astype(str) == sets[-1]]["prompt_id"].astype(int)
            ids = [p for p in last if p in set(imgs.prompts)] or ids
    return ids[:n]


def _ranking(res: _Results) -> dict[str, Any] | None:
    table, summary = res.table("rank"), res.summary("rank_summary")
    if table is None or summary is None:
        return None
    metric = summary["metric"]
    t = table.sort_values("rank")
    lo, hi = f"{metric}_lo", f"{metric}_hi"
    chart = None
    if metric in t.columns:
        v = t[metric].to_numpy(np.float64)
        has = lo in t.columns and hi in t.columns
        colour = {str(s): "#c28a00" for s in t.loc[t["golden"], "seed"]}
        colour.update({str(s): "#a33" for s in t.loc[t["inferior"], "seed"]})
        chart = figures.interval_chart(
            [str(s) for s in t["seed"]],
            v,
            t[lo].to_numpy(np.float64) if has else v,
            t[hi].to_numpy(np.float64) if has else v,
            title=f"{metric} per seed, {100 * summary['level']:g}% intervals over prompts",
            xlabel=metric,
            highlight=colour,
        )
    consistency = res.figure("rank", "-consistency")
    cols = ["rank", "seed", metric, lo, hi, "golden", "inferior", "n_prompts"]
    return {
        "metric": metric,
        "higher": summary.get("higher_is_better"),
        "summary": summary,
        "chart": chart,
        "consistency_png": figures.shrink_png(consistency) if consistency else None,
        "consistency": summary.get("consistency"),
        "tests": list((summary.get("tests") or {}).values()),
        "fid": summary.get("fid"),
        "table": table_view(t, cols, max_rows=40),
    }


def _golden(sw: Sweep, res: _Results, imgs: _Images, s: ReportSettings) -> dict[str, Any] | None:
    summary = res.summary("rank_summary")
    if summary is None:
        return None
    prompts = _heldout_prompts(sw, imgs, s.grid_prompts)
    out = {"prompts": _prompt_rows(sw, prompts), "metric": summary["metric"], "grids": []}
    rank = res.table("rank")
    for kind in ("golden", "inferior"):
        seeds = [int(r["seed"]) for r in summary.get(kind, [])][: s.grid_seeds]
        if rank is not None and "rank" in rank.columns and len(seeds) < 4:
            # a small pool: show the best (worst) few seeds by rank, the pool first
            order = rank.sort_values("rank", ascending=kind == "golden")["seed"].astype(int)
            more = [x for x in order if x not in seeds][: min(4, len(rank) // 2) - len(seeds)]
            seeds += more
        if seeds:
            out["grids"].append(
                {
                    "kind": kind,
                    "seeds": seeds,
                    "uri": figures.seed_grid(imgs.get, prompts, seeds, s.thumb),
                }
            )
    return out


def _prompt_rows(sw: Sweep, prompt_ids: Sequence[int]) -> list[tuple[int, str]]:
    prompts = sw.prompts().to_pandas().set_index("prompt_id")["prompt"]
    return [(int(p), str(prompts.get(p, ""))) for p in prompt_ids]


def _decides(sw: Sweep, res: _Results, imgs: _Images, s: ReportSettings) -> dict[str, Any] | None:
    table = res.table("seed_decides")
    if table is None:
        return None
    rank = res.table("rank")
    prompts = _heldout_prompts(sw, imgs, min(4, s.grid_prompts))
    modes = []
    if rank is not None:
        for col in _mode_columns(list(table["column"]), list(rank.columns)):
            order = rank.sort_values(col, ascending=False)
            seeds = [int(x) for x in order["seed"].head(s.mode_seeds)]
            modes.append(
                {
                    "column": col,
                    "seeds": seeds,
                    "uri": figures.seed_grid(imgs.get, prompts, seeds, s.thumb),
                }
            )
    shown = ["column", "mean"] + [c for c in table.columns if c.startswith("ss_")]
    if len(shown) < 3:
        shown = list(table.columns)
    comp = res.figure_of("composition_by_seed-") if res.path("composition_by_seed") else None
    return {
        "table": table_view(table, shown),
        "modes": modes,
        "prompts": _prompt_rows(sw, prompts),
        "composition_png": figures.shrink_png(comp) if comp else None,
        "has_rank": rank is not None,
    }


MODES = (*WORLD_MODES, "object_x", "object_area")
"""The modes of the study's section 'what the seed decides' (the world's style modes, then layout)."""


def _mode_columns(decided: list[str], ranked: list[str]) -> list[str]:
    """One score column per mode (a scorer's own before the world model's), in MODES order."""
    out = []
    for mode in MODES:
        hits = [c for c in decided if mode in c.rsplit(".", 1)[-1] and c in ranked]
        hits.sort(key=lambda c: (c.startswith("world."), len(c)))
        if hits:
            out.append(hits[0])
    return out


def _seed_strip(imgs: _Images, seed: int, prompts: Sequence[int], size: int) -> str:
    return figures.encode(figures.montage([[imgs.get(p, seed) for p in prompts]], size))


def _maps(sw: Sweep, res: _Results, imgs: _Images, s: ReportSettings) -> dict[str, Any] | None:
    from seedscope.report.interactive import seed_map_plot

    plots = []
    prompts = imgs.prompts[:4]
    first = _prompt_rows(sw, prompts[:1])
    for by in ("style", "layout"):
        points = res.table(f"map_{by}")
        if points is None:
            continue
        clusters = res.table(f"map_{by}_clusters")
        names: dict[int, str] = {}
        if clusters is not None:
            for _, r in clusters.iterrows():
                prop = r.get("property")
                names[int(r["cluster"])] = str(prop) if isinstance(prop, str) else "no property"
        strips = {
            int(seed): _seed_strip(imgs, int(seed), prompts, max(32, s.thumb * 3 // 4))
            for seed in points["seed"]
        }
        plots.append(
            {
                "by": by,
                "plot": seed_map_plot(points, names, strips, by, first[0][1] if first else ""),
                "clusters": table_view(clusters) if clusters is not None else None,
            }
        )
    if not plots:
        return None
    from seedscope.report.interactive import embed

    script, divs = embed([p.pop("plot") for p in plots])
    for p, div in zip(plots, divs, strict=True):
        p["div"] = div
    return {"plots": plots, "script": script, "prompts": _prompt_rows(sw, prompts)}


def _classify(res: _Results) -> dict[str, Any] | None:
    seeds, curve = res.table("classify_seeds"), res.table("classify_curve")
    if seeds is None and curve is None:
        return None
    plot = res.figure_of("classify_plot-")
    return {
        "curve": table_view(curve) if curve is not None else None,
        "seeds": table_view(seeds, max_rows=32) if seeds is not None else None,
        "settings": res.identity("classify_seeds").get("settings", {}),
        "png": figures.shrink_png(plot) if plot else None,
    }


def _identify(res: _Results) -> dict[str, Any] | None:
    t = res.table("identify")
    if t is None:
        return None
    verdicts: dict[str, int] = {}
    if "verdict" in t.columns:
        verdicts = {str(k): int(v) for k, v in t["verdict"].value_counts().items()}
    right = None
    if "match" in t.columns:
        right = int(t["match"].fillna(False).astype(bool).sum())
    elif "true_seed" in t.columns and "seed" in t.columns:
        right = int((t["true_seed"] == t["seed"]).sum())
    return {
        "table": table_view(t, max_rows=32),
        "n": len(t),
        "verdicts": sorted(verdicts.items()),
        "right": right,
        "settings": res.identity("identify").get("settings", {}),
    }


def _swap(res: _Results) -> dict[str, Any] | None:
    summary = res.table("swap_summary")
    if summary is None:
        return None
    path = res.path("swap")
    grid = path.with_suffix(".png") if path else None
    return {
        "table": table_view(summary),
        "png": figures.shrink_png(grid, 1000) if grid and grid.is_file() else None,
    }


def _generic(res: _Results, name: str) -> dict[str, Any] | None:
    """Any analysis shown as its table (intervals joined), its figure and its identity."""
    names = [n for n in res.by_name if n == name or n.startswith(name + "_")]
    if not names:
        return None
    tables, pngs = [], []
    for n in sorted(names):
        t = res.table(n)
        if t is not None and "summary" not in t.columns:
            tables.append({"name": n, "view": table_view(t, max_rows=32)})
        png = res.figure(n)
        if png is not None:
            pngs.append(figures.shrink_png(png))
    ident = res.identity(names[0])
    info = (ident.get("inputs") or {}).get("result") or {}
    return {"tables": tables, "pngs": pngs, "info": [(k, _fmt(v)) for k, v in info.items()]}


def _inpaint_folder(folder: Path) -> dict[str, Any] | None:
    """The per-seed summary of an inpainting audit written into DIR/inpaint (`inpaint-audit`)."""
    summary = folder / "summary.parquet"
    if not summary.is_file():
        return None
    t = pq.read_table(summary).to_pandas()
    return {"tables": [{"name": "per seed", "view": table_view(t, max_rows=64)}], "pngs": [],
            "info": []}  # fmt: skip


# Seed pages.


def _seed_page(
    sw: Sweep,
    seed: int,
    rank: pd.DataFrame | None,
    imgs: _Images,
    noise: dict[int, str],
    s: ReportSettings,
) -> dict[str, Any]:
    prompts = imgs.prompts
    per_row = max(4, min(16, math.ceil(math.sqrt(len(prompts)))))
    cells = [
        [imgs.get(p, seed) for p in prompts[i : i + per_row]]
        for i in range(0, len(prompts), per_row)
    ]
    scores: list[tuple[str, str]] = []
    if rank is not None:
        row = rank[rank["seed"] == seed]
        if len(row):
            r = row.iloc[0]
            for c in rank.columns:
                if c in ("seed",) or re.search(r"_(lo|hi)$", c):
                    continue
                text = _fmt(r[c])
                if f"{c}_lo" in rank.columns:
                    text += f" [{_fmt(r[f'{c}_lo'])}, {_fmt(r[f'{c}_hi'])}]"
                scores.append((c, text))
    digest = noise.get(seed)
    return {
        "seed": seed,
        "uri": figures.encode(figures.montage(cells, s.thumb)),
        "per_row": per_row,
        "prompts": _prompt_rows(sw, prompts),
        "scores": scores,
        "noise": digest,
        "noise_uri": figures.noise_picture(digest) if digest else None,
    }


def _noise(sw: Sweep) -> dict[int, str]:
    """Each seed's recorded `noise_sha256` (the sweep's own record of its initial latent)."""
    try:
        t = sw.images(["seed", "noise_sha256"]).to_pandas()
    except (SeedscopeError, KeyError, ValueError):
        return {}
    t = t.dropna().drop_duplicates("seed")
    return {int(a): str(b) for a, b in zip(t["seed"], t["noise_sha256"], strict=True)}


# Writing.


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("seedscope.report", "templates"),
        autoescape=True,  # prompts are untrusted text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def write_report(
    sweep: Sweep | str | Path,
    settings: ReportSettings = ReportSettings(),
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write DIR/report/index.html (+ seeds/seed-N.html); returns the sections present and the size."""
    sw = sweep if isinstance(sweep, Sweep) else open_sweep(sweep)
    out = Path(settings.out) if settings.out is not None else sw.path / "report"
    say = progress or (lambda msg: log.info("%s", msg))
    res = _Results(sw)
    imgs = _Images(sw)
    if not imgs.have:
        raise SeedscopeError(
            f"the sweep {str(sw.path)!r} has no images yet; run `seedscope sweep`."
        )
    sections: dict[str, Any] = {}
    say("plan")
    sections["plan"] = _plan(sw, res, imgs)
    say("ranking")
    sections["ranking"] = _ranking(res)
    sections["golden"] = _golden(sw, res, imgs, settings)
    say("what the seed decides")
    sections["decides"] = _decides(sw, res, imgs, settings)
    say("maps")
    sections["maps"] = _maps(sw, res, imgs, settings)
    say("classifier, identification, swap")
    sections["classify"] = _classify(res)
    sections["identify"] = _identify(res)
    sections["swap"] = _swap(res)
    sections["inpaint"] = _generic(res, "inpaint") or _inpaint_folder(sw.path / "inpaint")
    sections["compare_golden"] = _generic(res, "compare_golden")
    sections["compare_diverse"] = _generic(res, "compare_diverse")
    env = _environment()
    bokeh_js = ""
    if sections["maps"]:
        from seedscope.report.interactive import inline_resources

        bokeh_js = inline_resources()
    index = env.get_template("index.html").render(
        title=f"seedscope atlas of {sw.path.name}",
        sections=sections,
        meta=SECTIONS,
        bokeh=bokeh_js,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "seeds").mkdir(exist_ok=True)
    say(f"{len(imgs.seeds)} seed pages")
    rank = res.table("rank")
    noise = _noise(sw)
    page = env.get_template("seed.html")
    for seed in imgs.seeds:
        html = page.render(
            title=f"seed {seed} of {sw.path.name}",
            page=_seed_page(sw, seed, rank, imgs, noise, settings),
        )
        atomic_write_bytes(html.encode("utf-8"), out / "seeds" / f"seed-{seed}.html")
    atomic_write_bytes(index.encode("utf-8"), out / "index.html")
    return {
        "index": str(out / "index.html"),
        "sections": {k: v is not None for k, v in sections.items()},
        "pages": len(imgs.seeds),
        "bytes": _folder_bytes(out),
    }
