"""The inpainting audit (Xu et al. 2025, Sec. 6): which seeds paint text into the masked region?

Every image/mask pair is inpainted with every seed, once with the removal prompt ("clear
background") and once with the object's name (completion), by any diffusers inpainting pipeline
(a text-to-image pipeline is turned into one with ``AutoPipelineForInpainting.from_pipe``).
OCR measures the fraction of the mask covered by text; the world detector's ``p_text`` is a
cheaper second signal. Seeds are flagged text-prone on one half of the pairs and the flag is
checked on the other half, paired by pair.

On disk (resumable, like a sweep): ``OUT/audit.json`` (the plan), ``OUT/pairs.parquet`` (the
pairs), ``OUT/images/<task>-<pair>.parquet`` (one row per (pair_id, seed, task) with the PNG and
its text scores, written atomically), ``OUT/summary.parquet`` (per seed).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from seedscope import __version__
from seedscope.errors import SeedscopeError
from seedscope.inpaint.pairs import Pair, load_pairs, pairs_hash
from seedscope.store import (
    DirLock,
    atomic_write_bytes,
    atomic_write_parquet,
    decode_png,
    encode_png,
    remove_temp_files,
)

log = logging.getLogger(__name__)

PLAN = "audit.json"
TASKS = ("removal", "completion")
OCR_MODES = ("all", "detected", "none")
ROW_SCHEMA = pa.schema(
    [
        ("pair_id", pa.int64()),
        ("seed", pa.int64()),
        ("task", pa.string()),
        ("prompt", pa.string()),
        ("png", pa.binary()),
        ("text", pa.string()),
        ("text_in_mask", pa.float32()),
        ("has_text", pa.bool_()),
        ("p_text", pa.float32()),
    ]
)


@dataclass(frozen=True)
class AuditSettings:
    """What decides the audit's images and scores (saved in audit.json) and how it is summarised."""

    seeds: str = "0-15"
    tasks: tuple[str, ...] = TASKS
    removal_prompt: str = "clear background"
    steps: int | None = None  # None: the model's default (world) or 50
    guidance: float | None = None
    strength: float = 1.0
    generator_device: str = "cpu"
    ocr: str = "all"  # all images, only those the detector calls text ("detected"), or none
    detector: bool | None = None  # world detector p_text; None: on for the world model
    select_fraction: float = 0.5
    split_seed: int = 0
    reps: int = 2000
    level: float = 0.95
    batch_size: int = 8

    def __post_init__(self) -> None:
        bad = [t for t in self.tasks if t not in TASKS]
        if bad or not self.tasks:
            raise SeedscopeError(f"--tasks must be removal and/or completion, not {bad or 'none'}.")
        if self.ocr not in OCR_MODES:
            raise SeedscopeError(f"--ocr must be all, detected or none, not {self.ocr!r}.")
        if not 0.0 < self.select_fraction < 1.0:
            raise SeedscopeError("--select-fraction must be between 0 and 1.")
        if not 0.0 < self.strength <= 1.0:
            raise SeedscopeError(f"--strength must be in (0, 1], not {self.strength}.")
        if self.batch_size < 1:
            raise SeedscopeError("--batch-size must be at least 1.")
        if self.detector is False and self.ocr != "all":
            raise SeedscopeError(
                f"--ocr {self.ocr} needs the world detector, which is off (--no-detector, or a "
                "model other than world): give --ocr all, or --detector."
                if self.ocr == "detected"
                else "--ocr none with the detector off (--no-detector, or a model other than "
                "world) leaves nothing to find text with: give --ocr all or --detector."
            )

    def plan(self) -> dict[str, Any]:
        """The settings that decide the stored rows."""
        keys = {"seeds", "tasks", "removal_prompt", "steps", "guidance", "strength"}
        keys |= {"generator_device", "ocr", "detector"}
        return {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in asdict(self).items()
            if k in keys
        }


def to_inpaint(pipe: Any) -> Any:
    """An inpainting pipeline sharing `pipe`'s components (itself if it already inpaints)."""
    if "Inpaint" in type(pipe).__name__:
        return pipe
    from diffusers import AutoPipelineForInpainting

    try:
        inpaint = AutoPipelineForInpainting.from_pipe(pipe)
    except (ValueError, TypeError) as err:
        raise SeedscopeError(
            f"{type(pipe).__name__} has no diffusers inpainting pipeline ({err})."
        ) from err
    inpaint.set_progress_bar_config(disable=True)
    return inpaint


class _Scorer:
    """OCR (the `text` scorer, masks given) and the world detector's p_text, as asked."""

    def __init__(self, ocr: str, detector: bool) -> None:
        self.ocr = ocr
        self.detector = detector
        self._text: Any = None

    def __call__(self, images: Sequence[Any], mask: np.ndarray) -> list[dict[str, Any]]:
        p_text: list[float | None] = [None] * len(images)
        if self.detector:
            from seedscope.world.detect import shared_detector

            p_text = [float(d.text) for d in shared_detector().detect(list(images))]
        rows: list[dict[str, Any]] = [
            {"text": None, "text_in_mask": None, "has_text": None, "p_text": p} for p in p_text
        ]
        if self.ocr == "none":
            return rows
        if self._text is None:
            from seedscope.scorers.text import TextScorer

            self._text = TextScorer()
        from seedscope.scorers.base import Context

        todo = [
            i
            for i in range(len(images))
            if self.ocr == "all" or (p_text[i] is not None and p_text[i] >= 0.5)  # type: ignore[operator]
        ]
        for i in range(len(images)):
            rows[i].update(text="", text_in_mask=0.0, has_text=False)
        if todo:
            scored = self._text.score([images[i] for i in todo], Context(masks=[mask] * len(todo)))
            for i, s in zip(todo, scored, strict=True):
                frac = float(s["text_in_mask"] or 0.0)
                rows[i].update(text=s["text"], text_in_mask=frac, has_text=frac > 0)
        return rows


def _prompt(task: str, pair: Pair, settings: AuditSettings) -> str | None:
    return settings.removal_prompt if task == "removal" else pair.object


def _shard(out: Path, task: str, pair_id: int) -> Path:
    return out / "images" / f"{task}-{pair_id:08d}.parquet"


def _model_entry(model: str | None, pipe: Any) -> dict[str, Any]:
    if model is None:
        return {"id": type(pipe).__name__, "hash": None}
    from seedscope.pick.cards import resolve

    ref = resolve(model)
    return {"id": ref.name, "kind": ref.kind, "hash": ref.content_hash}


def _load(model: str, settings: AuditSettings) -> tuple[Any, AuditSettings]:
    import dataclasses

    from seedscope.models import load_pipeline
    from seedscope.models.loading import world_defaults
    from seedscope.pick.cards import resolve

    steps, guidance = (world_defaults() if model == "world" else None) or (50, 7.5)
    settings = dataclasses.replace(  # refuses a detector-less --ocr detected or none
        settings,
        steps=settings.steps or steps,
        guidance=guidance if settings.guidance is None else settings.guidance,
        detector=(model == "world") if settings.detector is None else settings.detector,
    )
    return load_pipeline(resolve(model)), settings


def run_audit(
    pairs: str | Path,
    out: str | Path,
    settings: AuditSettings,
    *,
    model: str | None = None,
    pipe: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Inpaint every pair x seed x task not done yet into OUT, then summarise per seed."""
    from seedscope.seeds import make_generators, parse_seeds

    if (model is None) == (pipe is None):
        raise SeedscopeError("give a model or a loaded pipeline (not both).")
    loaded = load_pairs(pairs)
    seeds = parse_seeds(settings.seeds)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SeedscopeError(f"--out {str(out)!r} is a file; give a folder.")
    if out.is_dir() and any(out.iterdir()) and not (out / PLAN).is_file():
        raise SeedscopeError(f"--out {str(out)!r} is not empty and holds no audit.")
    if pipe is None:
        assert model is not None
        pipe, settings = _load(model, settings)
    else:
        import dataclasses

        settings = dataclasses.replace(
            settings,
            steps=settings.steps or 50,
            guidance=7.5 if settings.guidance is None else settings.guidance,
            detector=bool(settings.detector),
        )
    sizes = {p.image.size for p in loaded}
    if len(sizes) != 1:
        raise SeedscopeError(f"the pairs have {len(sizes)} image sizes; give pairs of one size.")
    width, height = sizes.pop()
    plan = {
        "model": _model_entry(model, pipe),
        "pipeline_class": type(pipe).__name__,
        "pairs_hash": pairs_hash(loaded),
        "n_pairs": len(loaded),
        "height": height,
        "width": width,
        **settings.plan(),
    }
    start = time.perf_counter()
    with DirLock(out, what="audit"):
        old = out / PLAN
        if old.is_file():
            have = json.loads(old.read_text())
            diff = sorted(k for k in plan if have.get(k) != plan[k] and k != "version")
            if diff:
                raise SeedscopeError(
                    f"{str(out)!r} holds an audit with other {', '.join(diff[:3])}; use another --out."
                )
        else:
            atomic_write_bytes(
                (json.dumps({**plan, "version": __version__}, indent=2) + "\n").encode(), old
            )
            atomic_write_parquet(_pairs_table(loaded), out / "pairs.parquet")
        (out / "images").mkdir(exist_ok=True)
        remove_temp_files(out / "images")
        todo = [
            (pair, task)
            for pair in loaded
            for task in settings.tasks
            if _prompt(task, pair, settings) and not _shard(out, task, pair.pair_id).is_file()
        ]
        total = len(todo) * len(seeds)
        inpaint = to_inpaint(pipe)
        scorer = _Scorer(settings.ocr, bool(settings.detector))
        done = 0
        for pair, task in todo:
            prompt = _prompt(task, pair, settings)
            assert prompt is not None
            rows: list[dict[str, Any]] = []
            for b in range(0, len(seeds), settings.batch_size):
                batch = seeds[b : b + settings.batch_size]
                images = inpaint(
                    prompt=[prompt] * len(batch),
                    image=[pair.image] * len(batch),
                    mask_image=[pair.mask_image()] * len(batch),
                    generator=make_generators(batch, settings.generator_device),
                    num_inference_steps=settings.steps,
                    guidance_scale=settings.guidance,
                    strength=settings.strength,
                    height=height,
                    width=width,
                    output_type="np",
                ).images
                pixels = (np.asarray(images) * 255).round().astype(np.uint8)
                pil = [decode_png(encode_png(px)) for px in pixels]
                for seed, px, score in zip(batch, pixels, scorer(pil, pair.mask), strict=True):
                    rows.append(
                        {"pair_id": pair.pair_id, "seed": seed, "task": task, "prompt": prompt}
                        | {"png": encode_png(px)}
                        | score
                    )
                done += len(batch)
                if progress is not None:
                    progress(done, total)
            atomic_write_parquet(
                pa.Table.from_pylist(rows, schema=ROW_SCHEMA), _shard(out, task, pair.pair_id)
            )
        summary = summarise(out, settings)
    summary.update(
        out=str(out),
        images_generated=done,
        images_total=len(loaded) * len(seeds) * len(settings.tasks),
        seconds=round(time.perf_counter() - start, 3),
    )
    return summary


def _pairs_table(pairs: list[Pair]) -> pa.Table:
    return pa.table(
        {
            "pair_id": pa.array([p.pair_id for p in pairs], pa.int64()),
            "name": [p.name for p in pairs],
            "object": pa.array([p.object for p in pairs], pa.string()),
            "image": pa.array([encode_png(np.asarray(p.image)) for p in pairs], pa.binary()),
            "mask": pa.array(
                [encode_png((p.mask * 255).astype(np.uint8)[..., None]) for p in pairs], pa.binary()
            ),
        }
    )


def read_rows(out: str | Path) -> pd.DataFrame:
    """Every audited image's scores (without the PNGs) as one DataFrame."""
    files = sorted((Path(out) / "images").glob("*.parquet"))
    files = [f for f in files if not f.name.startswith(".")]
    if not files:
        raise SeedscopeError(f"{str(out)!r} holds no audited images yet.")
    cols = [c for c in ROW_SCHEMA.names if c != "png"]
    return pd.concat([pq.read_table(f, columns=cols).to_pandas() for f in files], ignore_index=True)


def split_pairs(pair_ids: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A seeded random boolean mask of the pairs that choose the flags (the rest check them)."""
    ids = np.unique(pair_ids)
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(ids)[: max(1, round(fraction * len(ids)))]
    return np.isin(ids, chosen)


def seed_table(rows: pd.DataFrame, value: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pair ids, seeds, (pairs, seeds) grid) of a column averaged over the tasks of each pair."""
    from seedscope.analysis import stats as st

    df = rows.dropna(subset=[value]).groupby(["pair_id", "seed"], as_index=False)[value].mean()
    g = st.to_grid(df["pair_id"].to_numpy(), df["seed"].to_numpy(), df[value].to_numpy(np.float64))
    return g.prompt_ids, g.seeds, g.values


def flag_and_check(
    grid: np.ndarray, select: np.ndarray, reps: int, level: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any] | None]:
    """Flag seeds whose bootstrap lower bound over the selection pairs exceeds the overall rate;
    check on the held-out pairs (flagged minus other seeds, paired by pair)."""
    from seedscope.analysis import stats as st
    from seedscope.pick.golden import paired_test

    sel = grid[select]
    means = st.seed_means(sel)
    if len(sel) >= 2:
        lo, hi = st.percentile_ci(st.bootstrap_seed_means(sel, reps, rng), level)
    else:
        lo = hi = np.full(len(means), np.nan)
    overall = float(np.nanmean(sel))
    flagged = np.nan_to_num(lo, nan=-np.inf) > overall
    check = None
    held = grid[~select]
    if flagged.any() and (~flagged).any() and len(held) >= 2:
        with np.errstate(invalid="ignore"):
            check = paired_test(
                np.nanmean(held[:, flagged], 1), np.nanmean(held[:, ~flagged], 1), reps, level, rng
            )
    return flagged, lo, hi, check


def summarise(out: str | Path, settings: AuditSettings) -> dict[str, Any]:
    """Per-seed text rates, the flags chosen on one half of the pairs and their held-out check."""
    rows = read_rows(out)
    p_text = rows["p_text"].astype(float)
    rows["detected"] = np.where(p_text.isna(), np.nan, (p_text >= 0.5).astype(float))
    signals = {"ocr": "has_text", "detector": "detected"}
    signals = {k: v for k, v in signals.items() if rows[v].notna().any()}
    if not signals:
        raise SeedscopeError("the audit has neither OCR nor detector scores.")
    primary = "ocr" if "ocr" in signals else "detector"
    per_seed = rows.groupby("seed").agg(n_images=("task", "size"))
    for name, col in (
        ("text_in_mask", "text_in_mask"),
        ("ocr_share", "has_text"),
        ("detector_share", "detected"),
        ("p_text", "p_text"),
    ):
        if rows[col].notna().any():
            per_seed[name] = rows.astype({col: float}).groupby("seed")[col].mean()
    rng = np.random.default_rng(settings.split_seed)
    result: dict[str, Any] = {"primary_signal": primary, "signals": {}}
    pair_ids = None
    for name, col in signals.items():
        rows_f = rows.assign(**{col: rows[col].astype(float)})
        pids, seeds, grid = seed_table(rows_f, col)
        if pair_ids is None:
            pair_ids = pids
        select = split_pairs(pids, settings.select_fraction, settings.split_seed)
        flagged, lo, hi, check = flag_and_check(grid, select, settings.reps, settings.level, rng)
        per_seed.loc[seeds, f"{name}_select_lo"] = lo
        per_seed.loc[seeds, f"{name}_select_hi"] = hi
        per_seed.loc[seeds, f"{name}_flagged"] = flagged
        n_sel, n_held = int(select.sum()), int((~select).sum())
        result["signals"][name] = {
            "rate": float(np.nanmean(grid)),
            "flagged_seeds": [int(s) for s in seeds[flagged]],
            "selection_pairs": n_sel,
            "heldout_pairs": n_held,
            "heldout_check": check,
            "heldout_note": _heldout_note(check, flagged, n_sel, n_held),
        }
    table = per_seed.reset_index()
    atomic_write_parquet(
        pa.Table.from_pandas(table, preserve_index=False), Path(out) / "summary.parquet"
    )
    result["per_seed"] = json.loads(table.to_json(orient="records"))
    result["pairs"] = int(rows["pair_id"].nunique())
    result["images"] = len(rows)
    result["tasks"] = sorted(rows["task"].unique().tolist())
    return result


def _heldout_note(check: Any, flagged: np.ndarray, n_select: int, n_held: int) -> str | None:
    """Why there is no held-out check (None when there is one)."""
    if check is not None:
        return None
    if n_select < 2 or n_held < 2:
        return (
            f"no held-out check: {n_select} selection and {n_held} held-out pairs, and it needs "
            "at least 2 of each (give at least 4 pairs)"
        )
    if not flagged.any():
        return "held-out check: nothing flagged"
    return "held-out check: every seed flagged, none left to compare with"
