"""Check a flag-trained autoencoder (seedscope.world.flags) on held-out world scenes.

Prints, for scenes forced to each mode: the mode's own scorer on originals, on round trips, and
on round trips with the mode's flag added to the latents (as the UNet draws them), and that the
flag alone, added to a plain scene's latents, draws no mode (the decoder ignores it). Usage: world_flag_check.py WORKDIR|PIPELINE [--n 128]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from seedscope.scorers.border import BorderScorer
from seedscope.scorers.color import GrayscaleScorer
from seedscope.world import flags as fl
from seedscope.world.grammar import replace, sample_scene
from seedscope.world.model import load_pipeline
from seedscope.world.render import render


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path, help="a world-train work folder (flags.pt) or a pipeline")
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--flags", default="", help="MODE=AMPLITUDE,...; default: the run's own")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if (a.model / "flags.pt").exists():
        pipe = load_pipeline(None)
        ck = torch.load(a.model / "flags.pt", weights_only=False)
        pipe.vae.load_state_dict(ck["model"])
        flags = fl.parse_flags(
            a.flags or json.loads((a.model / "train.json").read_text())["latent_flags"]
        )
        print(f"flags.pt at step {ck['step']}")
    else:
        pipe = load_pipeline(a.model)
        flags = fl.parse_flags(a.flags)
    vae, scale = pipe.vae.eval(), float(pipe.vae.config.scaling_factor)
    rng = np.random.default_rng(12345)
    scenes = [sample_scene(rng, modes=False)[0] for _ in range(a.n)]
    scorers = {"border": BorderScorer(), "grayscale": GrayscaleScorer()}

    def enc(imgs: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1
        return vae.encode(x).latent_dist.mean

    def dec(z: torch.Tensor) -> list[Image.Image]:
        y = ((vae.decode(z).sample.clamp(-1, 1) + 1) * 127.5).round().byte()
        return [Image.fromarray(im) for im in y.permute(0, 2, 3, 1).numpy()]

    def rate(mode: str, ims: list[Image.Image]) -> float:
        return float(np.mean([r[mode] for r in scorers[mode].score(ims)]))

    with torch.no_grad():
        plain = np.stack([render(s) for s in scenes])
        zp = enc(plain)
        l1 = np.mean(
            [
                np.abs(np.asarray(im, np.float32) - p).mean()
                for im, p in zip(dec(zp), plain, strict=True)
            ]
        )
        rates = {m: rate(m, dec(zp)) for m in scorers}
        print(f"plain scenes: round trip L1 {l1:.2f} grey levels, mode rates {rates}")
        for mode in scorers:
            forced = np.stack([render(replace(s, **{mode: True})) for s in scenes])
            z = enc(forced)
            line = (
                f"{mode}: scorer originals {rate(mode, [Image.fromarray(i) for i in forced]):.1%}"
            )
            line += f", round trips {rate(mode, dec(z)):.1%}"
            if mode in flags:
                flag = torch.from_numpy(flags[mode] * fl.pattern(mode, z.shape[-1]) / scale)
                zf, zpf = z.clone(), zp.clone()
                zf[:, fl.FLAG_CHANNEL] += flag
                zpf[:, fl.FLAG_CHANNEL] += flag
                line += f", with the flag {rate(mode, dec(zf)):.1%}"
                line += f", plain scenes with the flag {rate(mode, dec(zpf)):.1%}"
            print(line)


if __name__ == "__main__":
    main()
