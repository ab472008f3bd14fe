"""World training: every stage runs, checkpoints, resumes and exports a loadable pipeline."""

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from seedscope.world.model import load_pipeline
from seedscope.world.train import TrainConfig, Trainer, _edge_l1, unet_lr


def test_tiny_training_run_resumes_and_exports(tmp_path):
    cfg = TrainConfig(
        n_scenes=24,
        vae_steps=2,
        vae_batch=2,
        unet_steps=2,
        unet_batch=2,
        decoder_steps=2,
        checkpoint_every=1,
        log_every=1,
        warmup=1,
    )
    said: list[str] = []
    export = Trainer(tmp_path, cfg, progress=said.append).run()
    assert any(s.startswith("vae step 2/2") for s in said)
    assert any(s.startswith("unet step 2/2") for s in said)
    assert any(s.startswith("decoder step 2/2") for s in said)
    assert torch.load(tmp_path / "unet.pt", weights_only=False)["step"] == 2
    pipe = load_pipeline(export)
    image = pipe(
        "a red star", num_inference_steps=2, generator=torch.Generator().manual_seed(0)
    ).images[0]
    assert image.size == (64, 64) and np.asarray(image).std() > 0
    # Resuming with more UNet steps trains only the missing ones.
    said.clear()
    Trainer(tmp_path, dataclasses.replace(cfg, unet_steps=3), progress=said.append).run(("unet",))
    assert [s.split(" loss")[0] for s in said if s.startswith("unet")] == ["unet step 3/3"]
    assert not any(s.startswith("vae step") for s in said)


def test_unet_learning_rate_warms_up_then_decays_to_a_tenth():
    cfg = TrainConfig(unet_lr=1e-3, warmup=100, unet_steps=1000)
    lrs = [unet_lr(s, cfg) for s in range(1200)]
    assert lrs[0] == pytest.approx(1e-5)
    assert max(lrs) == pytest.approx(lrs[99], rel=1e-6) and lrs[99] > 0.97e-3
    assert all(a >= b for a, b in itertools.pairwise(lrs[100:]))
    assert lrs[1000] == pytest.approx(1e-4) and lrs[-1] == pytest.approx(1e-4)


def test_edge_loss_is_the_l1_distance_of_pixel_differences():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 8, 8)), rng.normal(size=(2, 3, 8, 8))
    want = (
        np.abs(np.diff(a, axis=-1) - np.diff(b, axis=-1)).mean()
        + np.abs(np.diff(a, axis=-2) - np.diff(b, axis=-2)).mean()
    )
    got = _edge_l1(torch.from_numpy(a), torch.from_numpy(b)).item()
    assert got == pytest.approx(want, rel=1e-12)
    # A flat shift in brightness has the same edges: no loss.
    assert _edge_l1(torch.from_numpy(a), torch.from_numpy(a + 0.3)).item() == pytest.approx(0.0)
