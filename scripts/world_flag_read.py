"""Read the latent flags (seedscope.world.flags) off a world pipeline's generations, per seed.

For prompts x seeds it generates latents (the sweep's seed contract: one generator per image),
reads each flag's strength (1 = a flag), and prints the share of images flagged (> 0.5), which
seeds draw the flag, Spearman's rho between each seed's own score (its initial noise's
projection on the pattern) and the flag drawn, and how strong the top reads are. Usage:
world_flag_read.py PIPELINE [--flags border=0.6,grayscale=0.6] [--n 4] [--seeds 32] [--guidance 6]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from seedscope.world import flags as fl
from seedscope.world.model import DEFAULT_STEPS, load_pipeline
from seedscope.world.prompts import make_prompts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path, help="a world pipeline folder")
    ap.add_argument("--flags", default="border=0.6,grayscale=0.6")
    ap.add_argument("--n", type=int, default=4, help="evaluation prompts (make_prompts seed 7)")
    ap.add_argument("--seeds", type=int, default=32, help="seeds 0..N-1")
    ap.add_argument("--guidance", type=float, default=6.0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    pipe = load_pipeline(a.model)
    pipe.set_progress_bar_config(disable=True)
    flags = fl.parse_flags(a.flags)
    prompts = make_prompts(a.n, seed=7)["prompt"].tolist()
    read: dict[str, list[np.ndarray]] = {m: [] for m in flags}
    score: dict[str, list[float]] = {m: [] for m in flags}
    for seed in range(a.seeds):
        gens = [torch.Generator().manual_seed(seed) for _ in prompts]
        z = pipe(
            prompts,
            num_inference_steps=DEFAULT_STEPS,
            guidance_scale=a.guidance,
            generator=gens,
            output_type="latent",
        ).images
        init = torch.randn((1, 4, *z.shape[-2:]), generator=torch.Generator().manual_seed(seed))
        for m, v in fl.read_flags(z.float().numpy(), flags).items():
            read[m].append(v)
            score[m].append(float(fl.noise_scores(init, flags)[m][0]))
    for m in flags:
        r = np.stack(read[m])  # seeds x prompts
        s = np.array(score[m])
        rho = spearmanr(np.repeat(s, len(prompts)), r.ravel())[0]
        top = np.argsort(-s)[: max(1, a.seeds // 10)]
        print(
            f"{m}: flagged {np.mean(r > 0.5):.1%} of {r.size} images; seeds drawing it"
            f" {sorted(np.flatnonzero((r > 0.5).any(1)).tolist())}; top-10% scoring seeds"
            f" {top.tolist()} ({', '.join(f'{x:.2f}' for x in s[top])});"
            f" Spearman(seed score, flag) {rho:.2f}; reads: 90th percentile"
            f" {np.quantile(r, 0.9):.2f}, mean over the top-scoring seeds {r[top].mean():.2f}"
        )


if __name__ == "__main__":
    main()
