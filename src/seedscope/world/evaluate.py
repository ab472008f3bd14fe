"""Measure the bundled world model: prompt adherence, FID with its floor, mode rates, speed."""

from __future__ import annotations

import logging
import platform
import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.world.grammar import MODES, parse_prompt, scene_for_prompt
from seedscope.world.model import DEFAULT_GUIDANCE, DEFAULT_STEPS, load_pipeline, sampling_defaults
from seedscope.world.render import render

log = logging.getLogger(__name__)


def generate(
    pipe: Any,
    prompts: Sequence[str],
    seeds: Sequence[int],
    batch_size: int = 64,
    steps: int = DEFAULT_STEPS,
    guidance: float = DEFAULT_GUIDANCE,
    progress: bool = False,
) -> tuple[list[Image.Image], float]:
    """Images for (prompt i, seed i) through the sweep's BatchGenerator; returns (images, images/s).

    Each image is what a sweep of the same model, settings and seed would store (one CPU
    generator per image, the same initial latents and noise fingerprints).
    """
    from seedscope.sweep.generate import BatchGenerator
    from seedscope.sweep.progress import ImagesProgress

    if len(prompts) != len(seeds):
        raise SeedscopeError("generate needs one seed per prompt.")
    ids: dict[str, int] = {}
    pairs = [(ids.setdefault(t, len(ids)), int(s)) for t, s in zip(prompts, seeds, strict=True)]
    size = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
    gen = BatchGenerator(pipe, steps=steps, guidance=guidance, height=size, width=size)
    images: list[Image.Image] = []
    t0 = time.perf_counter()
    with ImagesProgress(len(pairs), progress, "generating", transient=True) as bar:
        for i in range(0, len(pairs), batch_size):
            chunk = pairs[i : i + batch_size]
            gen.encode({pid: t for t, pid in ids.items() if pid in {p for p, _ in chunk}})
            images += [Image.fromarray(a) for a in gen.run(chunk).images]
            bar.advance(len(chunk))
    return images, len(images) / (time.perf_counter() - t0)


def real_scenes(
    prompts: Sequence[str], seed: int, per_prompt: int = 1
) -> tuple[list[Image.Image], list[dict[str, Any]]]:
    """per_prompt rendered scenes for each prompt (and their truth), deterministic in seed."""
    rng = np.random.default_rng(seed)
    imgs, truth = [], []
    for text in prompts:
        p = parse_prompt(text)
        if p is None:
            raise SeedscopeError(
                f"prompt {text!r} names no world category; the world model is evaluated on world prompts."
            )
        for _ in range(per_prompt):
            scene = scene_for_prompt(p, rng)
            imgs.append(Image.fromarray(render(scene)))
            truth.append(scene.to_dict())
    return imgs, truth


def seed_share(flags: np.ndarray) -> dict[str, float]:
    """Share of a (prompts x seeds) 0/1 table's variance explained by the seed and by the prompt."""
    total = flags.var()
    if total == 0:
        return {"seed": float("nan"), "prompt": float("nan")}
    return {
        "seed": float(flags.mean(0).var() / total),
        "prompt": float(flags.mean(1).var() / total),
    }


def adherence(prompts: Sequence[str], detections: Sequence[Any]) -> dict[str, float]:
    """Share of images whose detected category (and colour, where asked and visible) match."""
    return adherence_rates(judge_all(prompts, detections))


def judge_all(prompts: Sequence[str], detections: Sequence[Any]) -> list[dict[str, Any]]:
    """seedscope.world.adherence.judge of each (prompt, detection) pair."""
    from seedscope.world.adherence import judge

    return [judge(p, d) for p, d in zip(prompts, detections, strict=True)]


def adherence_rates(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Adherence, category and colour match rates of judged images (judge_all)."""
    colour = [r["colour_match"] for r in rows if r["colour_match"] is not None]
    return {
        "adherence": float(np.mean([bool(r["adherent"]) for r in rows])),
        "category": float(np.mean([bool(r["category_match"]) for r in rows])),
        "colour": float(np.mean(colour)) if colour else float("nan"),
    }


def prompt_interval(
    by_prompt: np.ndarray, level: float = 0.95, reps: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean over prompts (Efron 1979; scipy.stats.bootstrap).

    by_prompt holds one value per prompt over the same number of seeds (its adherence, or the
    paired difference of two runs' adherences), so its mean is the grid's and resampling it
    resamples whole prompts. NaN with fewer than 2 prompts.
    """
    from scipy.stats import bootstrap

    x = np.asarray(by_prompt, dtype=float)
    if len(x) < 2:
        return float("nan"), float("nan")
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    res = bootstrap(
        (x,),
        np.mean,
        n_resamples=reps,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


# The scorer that reads each mode, and the column of its flag. Text is read by the world
# scorer's detector (p_text >= 0.5): the OCR scorer reads none of the model's 64x64 painted
# words (0 of 32 images) and costs seconds per image on a CPU.
MODE_SCORERS: dict[str, tuple[str, str]] = {
    "grayscale": ("grayscale", "grayscale"),
    "border": ("border", "border"),
    "sky": ("sky", "sky"),
    "text": ("world", "p_text"),
}
# Targets of the bundled model (issue 13): each mode generated at 0.6x-1.5x its rate among
# world scenes (read by the same scorer), the seed explaining a large share of its variance,
# and prompt adherence of at least 85%.
MODE_RATIO_RANGE = (0.6, 1.5)
MIN_SEED_SHARE = 0.5
MIN_ADHERENCE = 0.85


def mode_flags(images: Sequence[Image.Image], detections: Sequence[Any]) -> dict[str, np.ndarray]:
    """0/1 flags of each mode by the project's own scorer of that mode (MODE_SCORERS)."""
    from seedscope.scorers import get_scorer

    out = {}
    for m in MODES:
        scorer, column = MODE_SCORERS[m]
        if scorer == "world":
            # The world scorer's p_MODE is the detector's probability, already computed.
            out[m] = np.array([getattr(d, m) >= 0.5 for d in detections], dtype=float)
            continue
        rows = get_scorer(scorer).score(list(images))
        out[m] = np.array([bool(r[column]) for r in rows], dtype=float)
    return out


def mode_report(
    generated: np.ndarray, world: float, n_prompts: int, n_seeds: int
) -> dict[str, Any]:
    """Generated rate, its ratio to the world's rate, the target check and the variance shares."""
    rate = float(generated.mean())
    ratio = rate / world if world > 0 else float("nan")
    lo, hi = MODE_RATIO_RANGE
    share = seed_share(generated.reshape(n_prompts, n_seeds))
    return {
        "generated": rate,
        "world": world,
        "ratio": ratio,
        "ratio_ok": bool(lo <= ratio <= hi),
        "variance_share": share,
        "seed_share_ok": bool(share["seed"] >= MIN_SEED_SHARE),
    }


def evaluate(
    prompts: Sequence[str] | None = None,
    model: str | None = None,
    n: int = 32,
    seeds: int = 8,
    batch_size: int = 64,
    progress: bool = False,
    steps: int | None = None,
    guidance: float | None = None,
    scheduler: str | None = None,
    prompt_seed: int = 7,
) -> dict[str, Any]:
    """All the measurements of `seedscope world evaluate`, on a prompts x seeds grid, as a dict."""
    from seedscope.features import get_extractor
    from seedscope.metrics.functional import fid_from_features
    from seedscope.models.settings import set_scheduler
    from seedscope.world.detect import WorldDetector
    from seedscope.world.grammar import MODE_RATES
    from seedscope.world.prompts import make_prompts

    texts = (
        list(prompts)
        if prompts is not None
        else make_prompts(n, seed=prompt_seed)["prompt"].tolist()
    )
    if not texts:
        raise SeedscopeError("the prompt set is empty.")
    if seeds < 1:
        raise SeedscopeError("--seeds must be at least 1.")
    if steps is not None and steps < 1:
        raise SeedscopeError("--steps must be at least 1.")
    # Grid: prompt-major, seeds 0..seeds-1 for every prompt.
    grid_prompts = [t for t in texts for _ in range(seeds)]
    grid_seeds = [s for _ in texts for s in range(seeds)]
    real_a, truth = real_scenes(texts, seed=0, per_prompt=seeds)
    real_b, _ = real_scenes(texts, seed=1, per_prompt=seeds)
    pipe = set_scheduler(load_pipeline(model), scheduler)
    own_steps, own_guidance = sampling_defaults(model)
    steps = steps if steps is not None else own_steps
    guidance = guidance if guidance is not None else own_guidance
    gen, ips = generate(
        pipe,
        grid_prompts,
        grid_seeds,
        batch_size,
        steps=steps,
        guidance=guidance,
        progress=progress,
    )
    det = WorldDetector()
    dets = det.detect(gen)
    real_dets = det.detect(real_a)
    inception = get_extractor("inception")
    fa, fb, fg = (inception.extract(x) for x in (real_a, real_b, gen))
    gen_flags, world_flags = mode_flags(gen, dets), mode_flags(real_a, real_dets)
    modes = {}
    for m in MODES:
        det_flags = np.array([getattr(d, m) >= 0.5 for d in dets], dtype=float)
        modes[m] = {
            **mode_report(gen_flags[m], float(world_flags[m].mean()), len(texts), seeds),
            "scorer": MODE_SCORERS[m][0],
            "detector": mode_report(
                det_flags,
                float(np.mean([getattr(d, m) >= 0.5 for d in real_dets])),
                len(texts),
                seeds,
            ),
            "world_truth": float(np.mean([bool(t[m]) for t in truth])),
            "world_rate": MODE_RATES[m],
        }
    judged = judge_all(grid_prompts, dets)
    adh = adherence_rates(judged)
    hits = np.array([bool(r["adherent"]) for r in judged])
    by_prompt = hits.reshape(len(texts), seeds).mean(axis=1)
    return {
        "n_prompts": len(texts),
        "n_seeds": seeds,
        "n_images": len(gen),
        "prompt_seed": None if prompts is not None else prompt_seed,
        "model": model or "world (bundled)",
        "scheduler": type(pipe.scheduler).__name__,
        "steps": steps,
        "guidance": guidance,
        **adh,
        "adherence_ci": list(prompt_interval(by_prompt)),
        "adherence_by_prompt": by_prompt.tolist(),
        "prompts": texts,
        "fid": fid_from_features(fg, fa),
        "fid_floor": fid_from_features(fb, fa),
        "fid_features": inception.settings(),
        "modes": modes,
        "images_per_s": ips,
        "batch_size": batch_size,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "targets": {
            "modes_at_world_rates": all(v["ratio_ok"] for v in modes.values()),
            "seed_decides_modes": all(v["seed_share_ok"] for v in modes.values()),
            "adherence": adh["adherence"] >= MIN_ADHERENCE,
        },
    }


def _num(x: float | None, spec: str) -> str:
    """x formatted by spec; '-' (as wide) for an undefined value (NaN, or null in saved JSON)."""
    if x is None or x != x:
        align, width = re.match(r"([<>^]?)(\d*)", spec).groups()  # type: ignore[union-attr]
        return format("-", f"{align}{width}")
    return format(x, spec)


def _span(ci: Sequence[float | None] | None) -> str | None:
    """'lo–hi' (percentages) of an interval; None where absent or undefined (NaN or null)."""
    lo, hi = ci or (None, None)
    if lo is None or hi is None or lo != lo or hi != hi:
        return None
    return f"{lo:.1%}–{hi:.1%}"


def _ci(r: dict[str, Any]) -> str:
    """' (95% CI lo–hi over prompts)' from a result's adherence_ci; '' where absent or undefined."""
    span = _span(r.get("adherence_ci"))
    return "" if span is None else f" (95% CI {span} over prompts)"


def format_report(r: dict[str, Any]) -> str:
    """The measurements as a short human-readable table."""
    lo, hi = MODE_RATIO_RANGE
    lines = [
        f"grid               {r['n_prompts']} prompts x {r['n_seeds']} seeds = {r['n_images']} images"
        f" ({r['scheduler']}, {r['steps']} steps, guidance {r['guidance']})",
        f"prompt adherence   {_num(r['adherence'], '.1%')}{_ci(r)} (category {_num(r['category'], '.1%')}, colour {_num(r['colour'], '.1%')};"
        f" target >= {MIN_ADHERENCE:.0%})",
        f"FID vs real scenes {r['fid']:.2f} (floor, real vs real: {r['fid_floor']:.2f};"
        f" {r['n_images']} images each, Inception pool3)",
        f"images/s           {r['images_per_s']:.2f} at batch {r['batch_size']} ({r['machine']})",
        f"mode       scorer     generated  world  ratio (target {lo}-{hi})  seed / prompt share"
        "   detector: generated  world",
    ]
    for m, v in r["modes"].items():
        share, d = v["variance_share"], v["detector"]
        ok = "ok" if v["ratio_ok"] else "OUT"
        lines.append(
            f"{m:<10} {v['scorer']:<10} {_num(v['generated'], '>9.1%')}  {_num(v['world'], '>5.1%')}"
            f"  {_num(v['ratio'], '>5.2f')} {ok:<3}                 {_num(share['seed'], '>6.1%')}"
            f" / {_num(share['prompt'], '<6.1%')}"
            f"             {_num(d['generated'], '>6.1%')}  {_num(d['world'], '>5.1%')}"
        )
    t = r["targets"]
    lines.append(
        "targets            "
        + ", ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in t.items())
        + f" (seed share >= {MIN_SEED_SHARE:.0%})"
    )
    return "\n".join(lines)


def markdown_report(r: dict[str, Any]) -> str:
    """The measurements as the README's two Markdown tables (overall figures, then modes)."""
    lo, hi = MODE_RATIO_RANGE

    def pct(x: float | None) -> str:
        return "—" if x is None or x != x else f"{x:.1%}"

    lines = [
        f"{r['n_prompts']} prompts × {r['n_seeds']} seeds = {r['n_images']} images,"
        f" {r['scheduler']} {r['steps']} steps, guidance {r['guidance']}; {r['machine']}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| prompt adherence (category and colour match) | **{pct(r['adherence'])}**{_ci(r)}"
        f" (target ≥ {MIN_ADHERENCE:.0%}) |",
        f"| category match | {pct(r['category'])} |",
        f"| colour match (where asked, non-gray images) | {pct(r['colour'])} |",
        f"| FID vs rendered scenes of the same prompts | {r['fid']:.1f} |",
        f"| FID floor: two independent rendered sets | {r['fid_floor']:.1f} |",
        f"| images/s at batch {r['batch_size']} | {r['images_per_s']:.2f} |",
        "",
        f"| mode | scorer | generated | world (same scorer) | ratio (target {lo}–{hi}) |"
        " seed / prompt share of variance | detector: generated / world |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, v in r["modes"].items():
        share, d = v["variance_share"], v["detector"]
        ratio = v["ratio"]
        mark = "" if ratio is None or ratio != ratio else (" ✓" if v["ratio_ok"] else " ✗")
        ratio_s = "—" if ratio is None or ratio != ratio else f"{ratio:.2f}×{mark}"
        lines.append(
            f"| {m} | {v['scorer']} | {pct(v['generated'])} | {pct(v['world'])} | {ratio_s} |"
            f" {pct(share['seed'])} / {pct(share['prompt'])} |"
            f" {pct(d['generated'])} / {pct(d['world'])} |"
        )
    return "\n".join(lines)


def compare_rows(runs: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per saved `world evaluate --json` output (label, result): the figures to compare."""
    rows: list[dict[str, Any]] = []
    first = runs[0][1] if runs else {}
    for label, r in runs:
        modes = r["modes"]
        rows.append(
            {
                "run": label,
                "grid": f"{r['n_prompts']}×{r['n_seeds']}",
                "sampler": f"{str(r['scheduler']).removesuffix('Scheduler')} {r['steps']}",
                "adherence": r["adherence"],
                "adherence_ci": r.get("adherence_ci"),
                "adherence_diff": _paired_diff(first, r) if rows else None,
                "fid": r["fid"],
                "fid_floor": r["fid_floor"],
                "images_per_s": r["images_per_s"],
                **{f"{m}_ratio": modes[m]["ratio"] if m in modes else None for m in MODES},
                **{
                    f"{m}_seed_share": modes[m]["variance_share"]["seed"] if m in modes else None
                    for m in MODES
                },
                "targets_met": bool(r["targets"]) and all(r["targets"].values()),
            }
        )
    return rows


def _paired_diff(base: dict[str, Any], r: dict[str, Any]) -> list[float] | None:
    """[mean, lo, hi] of r's adherence minus base's, paired by prompt; None unless same prompts."""
    a, b = base.get("adherence_by_prompt"), r.get("adherence_by_prompt")
    same_grid = base.get("prompts") == r.get("prompts") and base["n_seeds"] == r["n_seeds"]
    if a is None or b is None or base.get("prompts") is None or not same_grid:
        return None
    diff = np.asarray(b, float) - np.asarray(a, float)
    return [float(diff.mean()), *prompt_interval(diff)]


def compare_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """compare_rows as one Markdown table: adherence, FID (floor), images/s, each mode's ratio."""
    lo, hi = MODE_RATIO_RANGE

    def ratio(x: float | None) -> str:
        if x is None or x != x:
            return "—"
        return f"{x:.2f}×" + (" ✓" if lo <= x <= hi else "")

    head = (
        "| run | grid | sampler | adherence | Δ adherence vs first (paired) | FID (floor) |"
        " images/s | " + " | ".join(MODES) + " | all targets |"
    )
    lines = [head, "|" + "---|" * (8 + len(MODES))]
    for row in rows:
        adh = "—" if row["adherence"] is None else f"{row['adherence']:.1%}"
        span = _span(row["adherence_ci"])
        adh += "" if span is None else f" ({span})"
        d = row["adherence_diff"]
        diff = "—" if d is None else f"{d[0]:+.1%} ({d[1]:+.1%} to {d[2]:+.1%})"
        if row is rows[0]:
            diff = "baseline"
        lines.append(
            f"| {row['run']} | {row['grid']} | {row['sampler']} | {adh} | {diff} |"
            f" {_num(row['fid'], '.1f')} ({_num(row['fid_floor'], '.1f')}) |"
            f" {_num(row['images_per_s'], '.2f')} | "
            + " | ".join(ratio(row[f"{m}_ratio"]) for m in MODES)
            + f" | {'yes' if row['targets_met'] else 'no'} |"
        )
    lines.append(
        f"\nRatios: generated over world rate by each mode's scorer (target {lo}–{hi}, ✓ inside);"
        f" adherence target ≥ {MIN_ADHERENCE:.0%}, in brackets its 95% bootstrap interval over"
        " prompts where the run saved one; Δ: the run's adherence minus the first run's on the"
        " same prompts and seeds, with a 95% bootstrap interval over prompts (paired)."
    )
    return "\n".join(lines)


def _ratio_cell(x: float | None) -> str:
    """A ratio as '   0.81x' (9 wide), '-' when undefined."""
    return _num(x, ">8.2f") + ("x" if x is not None and x == x else " ")


def compare_text(rows: Sequence[dict[str, Any]]) -> str:
    """compare_rows as a plain aligned table for the terminal."""
    width = max([len("run"), *(len(r["run"]) for r in rows)])
    head = (
        f"{'run':<{width}}  grid    sampler        adh.   Δ adh. (95% CI, paired)  FID (floor)"
        "    img/s  " + "  ".join(f"{m:>9}" for m in MODES)
    )
    lines = [head]
    for r in rows:
        d = r["adherence_diff"]
        diff = "-" if d is None else f"{d[0]:+.1%} ({d[1]:+.1%}, {d[2]:+.1%})"
        lines.append(
            f"{r['run']:<{width}}  {r['grid']:<6}  {r['sampler']:<13}  {_num(r['adherence'], '>5.1%')}"
            f"  {diff:<23}  {_num(r['fid'], '>6.1f')} ({_num(r['fid_floor'], '>5.1f')})"
            f"  {_num(r['images_per_s'], '>5.2f')}  "
            + "  ".join(_ratio_cell(r[f"{m}_ratio"]) for m in MODES)
        )
    return "\n".join(lines)
