"""How well the project's mode scorers read world truth, on rendered scenes and VAE round trips."""

from __future__ import annotations

from typing import Any

import numpy as np

from seedscope.world.grammar import MODES, sample_scene
from seedscope.world.render import render


def round_trip(pipe: Any, images: np.ndarray, batch: int = 128) -> np.ndarray:
    """(N, H, W, 3) uint8 images through the pipeline's autoencoder (posterior mean), as uint8."""
    import torch

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        rec = torch.cat(
            [
                pipe.vae.decode(pipe.vae.encode(x[i : i + batch]).latent_dist.mean).sample
                for i in range(0, len(x), batch)
            ]
        )
    return ((rec.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def agreement(flags: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Rate, precision and recall of 0/1 flags against 0/1 truth (NaN where undefined)."""
    tp = float((flags * truth).sum())
    return {
        "rate": float(flags.mean()),
        "precision": tp / float(flags.sum()) if flags.sum() else float("nan"),
        "recall": tp / float(truth.sum()) if truth.sum() else float("nan"),
    }


def scorer_truth(pipe: Any, n: int = 2000, seed: int = 2026) -> dict[str, Any]:
    """Each mode scorer (world evaluate's MODE_SCORERS) against the truth of n world scenes.

    The scenes are drawn as in training (modes at their world rates) and read twice: as
    rendered, and after the pipeline's autoencoder, which draws every generated image.
    """
    from PIL import Image

    from seedscope.world.detect import WorldDetector
    from seedscope.world.evaluate import mode_flags

    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng)[0] for _ in range(n)]
    originals = np.stack([render(s) for s in scenes])
    truth = {m: np.array([bool(getattr(s, m)) for s in scenes], float) for m in MODES}
    det = WorldDetector()
    out: dict[str, Any] = {
        "n": n,
        "seed": seed,
        "truth": {m: float(truth[m].mean()) for m in MODES},
    }
    for name, arr in (("rendered", originals), ("round_trip", round_trip(pipe, originals))):
        images = [Image.fromarray(a) for a in arr]
        flags = mode_flags(images, det.detect(images))
        out[name] = {m: agreement(flags[m], truth[m]) for m in MODES}
    return out
