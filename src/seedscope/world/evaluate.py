"""Measure the bundled world model: prompt adherence, FID with its floor, mode rates, speed."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.world.grammar import MODES, parse_prompt, scene_for_prompt
from seedscope.world.model import DEFAULT_GUIDANCE, DEFAULT_STEPS, load_pipeline
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
    """Images for (prompt i, seed i) with one CPU generator per image; returns (images, images/s)."""
    from rich.progress import Progress

    images: list[Image.Image] = []
    t0 = time.perf_counter()
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("generating", total=len(prompts))
        for i in range(0, len(prompts), batch_size):
            gens = [torch.Generator("cpu").manual_seed(int(s)) for s in seeds[i : i + batch_size]]
            out = pipe(
                list(prompts[i : i + batch_size]),
                generator=gens,
                num_inference_steps=steps,
                guidance_scale=guidance,
            )
            images += out.images
            bar.advance(task, len(gens))
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
    from seedscope.world.adherence import judge

    rows = [judge(p, d) for p, d in zip(prompts, detections, strict=True)]
    colour = [r["colour_match"] for r in rows if r["colour_match"] is not None]
    return {
        "adherence": float(np.mean([bool(r["adherent"]) for r in rows])),
        "category": float(np.mean([bool(r["category_match"]) for r in rows])),
        "colour": float(np.mean(colour)) if colour else float("nan"),
    }


def evaluate(
    prompts: Sequence[str] | None = None,
    model: str | None = None,
    n: int = 32,
    seeds: int = 8,
    batch_size: int = 64,
    progress: bool = False,
) -> dict[str, Any]:
    """All the measurements of `seedscope world evaluate`, on a prompts x seeds grid, as a dict."""
    from seedscope.features import get_extractor
    from seedscope.metrics.functional import fid_from_features
    from seedscope.world.detect import WorldDetector
    from seedscope.world.grammar import MODE_RATES
    from seedscope.world.prompts import make_prompts

    texts = list(prompts) if prompts is not None else make_prompts(n, seed=7)["prompt"].tolist()
    if not texts:
        raise SeedscopeError("the prompt set is empty.")
    if seeds < 1:
        raise SeedscopeError("--seeds must be at least 1.")
    # Grid: prompt-major, seeds 0..seeds-1 for every prompt.
    grid_prompts = [t for t in texts for _ in range(seeds)]
    grid_seeds = [s for _ in texts for s in range(seeds)]
    pipe = load_pipeline(model)
    gen, ips = generate(pipe, grid_prompts, grid_seeds, batch_size, progress=progress)
    real_a, truth = real_scenes(texts, seed=0, per_prompt=seeds)
    real_b, _ = real_scenes(texts, seed=1, per_prompt=seeds)
    det = WorldDetector()
    dets = det.detect(gen)
    real_dets = det.detect(real_a)
    inception = get_extractor("inception")
    fa, fb, fg = (inception.extract(x) for x in (real_a, real_b, gen))
    modes = {}
    for m in MODES:
        flags = np.array([getattr(d, m) >= 0.5 for d in dets], dtype=float).reshape(
            len(texts), seeds
        )
        modes[m] = {
            "generated": float(flags.mean()),
            "world_detected": float(np.mean([getattr(d, m) >= 0.5 for d in real_dets])),
            "world_truth": float(np.mean([bool(t[m]) for t in truth])),
            "world_rate": MODE_RATES[m],
            "variance_share": seed_share(flags),
        }
    return {
        "n_prompts": len(texts),
        "n_seeds": seeds,
        "n_images": len(gen),
        "steps": DEFAULT_STEPS,
        "guidance": DEFAULT_GUIDANCE,
        **adherence(grid_prompts, dets),
        "fid": fid_from_features(fg, fa),
        "fid_floor": fid_from_features(fb, fa),
        "fid_features": inception.settings(),
        "modes": modes,
        "images_per_s": ips,
        "batch_size": batch_size,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
    }


def format_report(r: dict[str, Any]) -> str:
    """The measurements as a short human-readable table."""
    lines = [
        f"grid               {r['n_prompts']} prompts x {r['n_seeds']} seeds = {r['n_images']} images"
        f" ({r['steps']} DDIM steps, guidance {r['guidance']})",
        f"prompt adherence   {r['adherence']:.1%} (category {r['category']:.1%}, colour {r['colour']:.1%})",
        f"FID vs real scenes {r['fid']:.2f} (floor, real vs real: {r['fid_floor']:.2f};"
        f" {r['n_images']} images each, Inception pool3)",
        f"images/s           {r['images_per_s']:.2f} at batch {r['batch_size']} ({r['machine']})",
        "mode        generated  world(detected)  world(truth)  variance explained by seed / prompt",
    ]
    for m, v in r["modes"].items():
        share = v["variance_share"]
        lines.append(
            f"{m:<11} {v['generated']:>9.1%}  {v['world_detected']:>15.1%}  {v['world_truth']:>12.1%}"
            f"  {share['seed']:>6.1%} / {share['prompt']:.1%}"
        )
    return "\n".join(lines)
