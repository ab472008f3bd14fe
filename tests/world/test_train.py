"""World training: every stage runs, checkpoints, resumes and exports a loadable pipeline."""

import dataclasses

import numpy as np
import torch

from seedscope.world.model import load_pipeline
from seedscope.world.train import TrainConfig, Trainer


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
