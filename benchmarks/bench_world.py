"""Images/s (and prompt adherence) of world-model settings, old against new, in one run.

Each setting is `model=...,scheduler=...,steps=...,guidance=...` (model: `shipped` or a world
pipeline folder; scheduler: a `--scheduler` name or `default` for the folder's own). Every
setting generates the same grid (prompts of make_prompts(N, seed=PROMPT_SEED), a prompt seed
other than evaluation's 7, seeds 0..S-1) through the sweep's BatchGenerator; settings take
turns for --repeats rounds so that load from other processes falls on all of them alike, and
the table reports the median images/s and its ratio to the first setting (the baseline).

Run: python benchmarks/bench_world.py \\
    --setting model=shipped,scheduler=default,steps=20,guidance=6 \\
    --setting model=shipped,scheduler=dpm++,steps=10,guidance=6
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch

from seedscope.models.settings import set_scheduler
from seedscope.world.detect import WorldDetector
from seedscope.world.evaluate import adherence, generate
from seedscope.world.model import DEFAULT_GUIDANCE, DEFAULT_STEPS, load_pipeline
from seedscope.world.prompts import make_prompts


def parse_setting(text: str) -> dict[str, str]:
    """`model=shipped,steps=10` -> dict, with defaults for what is left out."""
    out = {
        "model": "shipped",
        "scheduler": "default",
        "steps": str(DEFAULT_STEPS),
        "guidance": str(DEFAULT_GUIDANCE),
    }
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key.strip() not in out:
            raise SystemExit(f"unknown key {key!r} in setting {text!r}")
        out[key.strip()] = value.strip()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setting", action="append", required=True, help="first one is the baseline")
    ap.add_argument("--n", type=int, default=16, help="prompts")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--prompt-seed", type=int, default=11)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = [parse_setting(s) for s in args.setting]
    texts = make_prompts(args.n, seed=args.prompt_seed)["prompt"].tolist()
    prompts = [t for t in texts for _ in range(args.seeds)]
    seeds = [s for _ in texts for s in range(args.seeds)]
    pipes = []
    for s in settings:
        pipe = load_pipeline(None if s["model"] == "shipped" else s["model"])
        pipes.append(set_scheduler(pipe, None if s["scheduler"] == "default" else s["scheduler"]))
    det = WorldDetector()
    speeds: list[list[float]] = [[] for _ in settings]
    adh: list[float] = [0.0] * len(settings)
    # Warm-up (first calls allocate), then rounds in turn.
    for pipe, s in zip(pipes, settings, strict=True):
        generate(pipe, prompts[:8], seeds[:8], 8, int(s["steps"]), float(s["guidance"]))
    for r in range(args.repeats):
        for i, (pipe, s) in enumerate(zip(pipes, settings, strict=True)):
            images, ips = generate(
                pipe, prompts, seeds, args.batch_size, int(s["steps"]), float(s["guidance"])
            )
            speeds[i].append(ips)
            if r == 0:
                adh[i] = adherence(prompts, det.detect(images))["adherence"]
    base = statistics.median(speeds[0])
    print(
        f"{len(prompts)} images per round ({args.n} prompts x {args.seeds} seeds, prompt seed"
        f" {args.prompt_seed}), batch {args.batch_size}, {args.repeats} rounds,"
        f" {platform.machine()}, {args.threads} torch thread(s)"
    )
    print("| model | scheduler | steps | guidance | images/s (median) | ratio | adherence |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for i, s in enumerate(settings):
        med = statistics.median(speeds[i])
        sched = type(pipes[i].scheduler).__name__
        print(
            f"| {s['model']} | {sched} | {s['steps']} | {s['guidance']} | {med:.2f} |"
            f" {med / base:.2f}x | {adh[i]:.1%} |"
        )


if __name__ == "__main__":
    main()
