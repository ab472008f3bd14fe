"""A seed means what it means in diffusers: sweep images equal plain pipeline calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline
from diffusers.utils.torch_utils import randn_tensor

from conftest import TINY_SIZE, make_sweep_dir
from seedscope import open_sweep
from seedscope.models import set_scheduler
from seedscope.seeds import noise_sha256

PROMPTS = ("a photo of a cat", "a red car", "the blue sky")
SEEDS = [0, 7, 12345]

CASES = {
    # name: (model fixture, sweep options)
    "sd-ddim-cfg": ("tiny_sd_dir", {"steps": 3, "guidance": 7.5}),
    "sd-negative-prompt": (
        "tiny_sd_dir",
        {"steps": 2, "guidance": 5.0, "negative_prompt": "a dog"},
    ),
    "sd-euler-ancestral": (
        "tiny_sd_dir",
        {"steps": 3, "guidance": 7.5, "scheduler": "euler-ancestral"},
    ),
    "sdxl-ddim-cfg": ("tiny_sdxl_dir", {"steps": 2, "guidance": 6.0}),
    "sdxl-turbo-style": (
        "tiny_sdxl_dir",
        {"steps": 1, "guidance": 0.0, "scheduler": "euler-ancestral"},
    ),
}
SLOW_CASES = {"sd-negative-prompt", "sd-euler-ancestral", "sdxl-ddim-cfg"}


def _plain(pipe: Any, prompt: str, seed: int, opts: dict[str, Any]) -> np.ndarray:
    kwargs: dict[str, Any] = {
        "num_inference_steps": opts["steps"],
        "guidance_scale": opts["guidance"],
        "height": TINY_SIZE,
        "width": TINY_SIZE,
        "generator": torch.Generator("cpu").manual_seed(seed),
    }
    if opts.get("negative_prompt"):
        kwargs["negative_prompt"] = opts["negative_prompt"]
    return np.asarray(pipe(prompt, **kwargs).images[0])


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_CASES else c for c in CASES]
)
def test_sweep_equals_plain_calls(
    case: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fixture, opts = CASES[case]
    model_dir = request.getfixturevalue(fixture)
    # Batch size 4 over 3 prompts × 3 seeds: batches mix prompts and seeds.
    out = make_sweep_dir(
        tmp_path / "sweep", model_dir, prompts=PROMPTS, seeds="0,7,12345", batch_size=4, **opts
    )
    sweep = open_sweep(out)
    pipe = DiffusionPipeline.from_pretrained(model_dir)
    set_scheduler(pipe, opts.get("scheduler"))
    pipe.set_progress_bar_config(disable=True)
    rows = {(r["prompt_id"], r["seed"]): r for r in sweep.images().to_pylist()}
    assert len(rows) == len(PROMPTS) * len(SEEDS)
    for pid, prompt in enumerate(PROMPTS):
        for seed in SEEDS:
            row = rows[(pid, seed)]
            # Initial latent: bit-identical to what prepare_latents draws from the same seed.
            drawn = (
                pipe.prepare_latents(
                    1,
                    4,
                    TINY_SIZE,
                    TINY_SIZE,
                    torch.float32,
                    torch.device("cpu"),
                    torch.Generator("cpu").manual_seed(seed),
                )
                / pipe.scheduler.init_noise_sigma
            )
            reference = randn_tensor(
                (1, 4, 16, 16), generator=torch.Generator("cpu").manual_seed(seed)
            )
            assert row["noise_sha256"] == noise_sha256(reference[0])
            if pipe.scheduler.init_noise_sigma == 1.0:
                assert row["noise_sha256"] == noise_sha256(drawn[0])
            # Image: equal to the plain call within floating-point batch effects.
            image = np.asarray(sweep.image(pid, seed))
            plain = _plain(pipe, prompt, seed, opts)
            diff = np.abs(image.astype(int) - plain.astype(int))
            assert diff.max() <= 2, f"{case} ({pid}, {seed}) differs by {diff.max()}"


@pytest.mark.slow
def test_batch_size_does_not_change_images(tiny_sd_dir: Path, tmp_path: Path) -> None:
    a = make_sweep_dir(tmp_path / "a", tiny_sd_dir, prompts=PROMPTS, seeds="0-3", batch_size=1)
    b = make_sweep_dir(tmp_path / "b", tiny_sd_dir, prompts=PROMPTS, seeds="0-3", batch_size=12)
    ta = open_sweep(a).to_pandas().sort_values(["prompt_id", "seed"]).reset_index(drop=True)
    tb = open_sweep(b).to_pandas().sort_values(["prompt_id", "seed"]).reset_index(drop=True)
    assert ta.noise_sha256.tolist() == tb.noise_sha256.tolist()
    for pid, seed in zip(ta.prompt_id, ta.seed, strict=True):
        ia = np.asarray(open_sweep(a).image(pid, seed)).astype(int)
        ib = np.asarray(open_sweep(b).image(pid, seed)).astype(int)
        assert np.abs(ia - ib).max() <= 2
