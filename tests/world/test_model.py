"""The shipped world model: a genuine StableDiffusionPipeline that follows its prompts."""

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.world import load_pipeline
from seedscope.world.detect import WorldDetector
from seedscope.world.evaluate import adherence, generate
from seedscope.world.model import weights_path


@pytest.fixture(scope="module")
def pipe():
    return load_pipeline()


def test_shipped_weights_are_small_and_load_as_diffusers(pipe):
    assert isinstance(pipe, StableDiffusionPipeline)
    size = sum(f.stat().st_size for f in weights_path().rglob("*") if f.is_file())
    assert size < 40e6
    assert pipe.unet.dtype == torch.float32
    assert pipe.vae_scale_factor == 2
    assert pipe.unet.config.sample_size * pipe.vae_scale_factor == 64


def test_generated_images_follow_their_prompts(pipe):
    prompts = [
        "a red circle",
        "a blue square",
        "a yellow star",
        "a green triangle",
        "a large purple heart",
        "an orange diamond",
        "a white cross",
        "a pink ring",
    ]
    images, _ = generate(pipe, prompts, list(range(len(prompts))), batch_size=8)
    assert all(im.size == (64, 64) for im in images)
    got = adherence(prompts, WorldDetector().detect(images))
    assert got["category"] >= 0.6 and got["adherence"] >= 0.6, got


def test_generated_images_follow_their_colours(pipe):
    # The colour asked for (chance is 1 in 10).
    prompts = [
        "a red circle",
        "a blue square",
        "a yellow star",
        "a green triangle",
        "a purple heart",
        "an orange diamond",
        "a white cross",
        "a pink ring",
        "a red star",
        "a blue circle",
        "a yellow square",
        "a green heart",
    ]
    images, _ = generate(pipe, prompts, list(range(len(prompts))), batch_size=12)
    got = adherence(prompts, WorldDetector().detect(images))
    assert got["colour"] >= 0.8, got


def test_same_seed_same_image(pipe):
    a, _ = generate(pipe, ["a red star"], [3], steps=4)
    b, _ = generate(pipe, ["a red star"], [3], steps=4)
    c, _ = generate(pipe, ["a red star"], [4], steps=4)
    assert np.array_equal(np.asarray(a[0]), np.asarray(b[0]))
    assert not np.array_equal(np.asarray(a[0]), np.asarray(c[0]))


def test_inpainting_through_diffusers(pipe):
    inpaint = StableDiffusionInpaintPipeline(**pipe.components)
    image = Image.new("RGB", (64, 64), (200, 200, 200))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    out = inpaint(
        "a red circle",
        image=image,
        mask_image=mask,
        num_inference_steps=8,
        generator=torch.Generator().manual_seed(0),
    ).images[0]
    arr = np.asarray(out).astype(int)
    assert out.size == (64, 64)
    # Outside the mask the image is kept (up to the VAE round trip); inside it is repainted.
    assert np.abs(arr[:8] - 200).mean() < 30
    assert np.abs(arr[24:40, 24:40] - 200).mean() > 10


def test_missing_weights_clear_error(tmp_path):
    with pytest.raises(SeedscopeError, match="missing"):
        load_pipeline(tmp_path)
