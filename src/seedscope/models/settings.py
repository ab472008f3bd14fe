"""Pipeline settings: scheduler by name, dtype, latent shape and image-size validation."""

from __future__ import annotations

from typing import Any

from seedscope.errors import SeedscopeError

SCHEDULERS: dict[str, str] = {
    "ddim": "DDIMScheduler",
    "ddpm": "DDPMScheduler",
    "pndm": "PNDMScheduler",
    "lms": "LMSDiscreteScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler-ancestral": "EulerAncestralDiscreteScheduler",
    "heun": "HeunDiscreteScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
    "dpm-sde": "DPMSolverSDEScheduler",
    "unipc": "UniPCMultistepScheduler",
    "lcm": "LCMScheduler",
}
"""Short scheduler names accepted by `--scheduler` (a diffusers class name works too)."""

DTYPES = ("float32", "float16", "bfloat16")


def parse_dtype(name: str) -> Any:
    """Map 'float32' | 'float16' | 'bfloat16' (or fp32/fp16/bf16) to a torch dtype."""
    import torch

    aliases = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "half": "float16"}
    key = aliases.get(name, name)
    if key not in DTYPES:
        raise SeedscopeError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}.")
    return getattr(torch, key)


def set_scheduler(pipe: Any, name: str | None) -> Any:
    """Swap the pipeline's scheduler for `name`, built from the current scheduler's config."""
    if not name or name == "default":
        return pipe
    pipe.scheduler = scheduler_class(name).from_config(pipe.scheduler.config)
    return pipe


def scheduler_class(name: str) -> Any:
    """The diffusers scheduler class a short name (SCHEDULERS) or a class name stands for."""
    import diffusers

    cls_name = SCHEDULERS.get(name.lower(), name)
    cls = getattr(diffusers, cls_name, None)
    if cls is None or not cls_name.endswith("Scheduler"):
        choices = ", ".join(SCHEDULERS)
        raise SeedscopeError(
            f"unknown scheduler {name!r}; use one of {choices} or a diffusers class name."
        )
    return cls


def denoiser(pipe: Any) -> Any:
    """The pipeline's denoising network (UNet or transformer)."""
    net = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    if net is None:
        raise SeedscopeError(f"{type(pipe).__name__} has neither a unet nor a transformer.")
    return net


def vae_scale_factor(pipe: Any) -> int:
    """How many pixels one latent cell covers along each side."""
    factor = getattr(pipe, "vae_scale_factor", None)
    if factor is None:
        vae = pipe.vae
        factor = 2 ** (len(vae.config.block_out_channels) - 1)
    return int(factor)


def default_size(pipe: Any) -> tuple[int, int]:
    """The pipeline's native (height, width): the denoiser's sample size × VAE scale factor."""
    sample = denoiser(pipe).config.sample_size
    if isinstance(sample, (list, tuple)):
        h, w = int(sample[0]), int(sample[1])
    else:
        h = w = int(sample)
    factor = vae_scale_factor(pipe)
    return h * factor, w * factor


def check_size(pipe: Any, height: int, width: int) -> None:
    """Refuse a height or width the model cannot take (not a multiple of its downsampling)."""
    factor = vae_scale_factor(pipe)
    # UNets halve the latent once per down block after the first.
    net = denoiser(pipe)
    blocks = len(getattr(net.config, "down_block_types", ()) or ()) or 1
    multiple = factor * 2 ** (blocks - 1)
    for name, value in (("height", height), ("width", width)):
        if value <= 0 or value % multiple:
            raise SeedscopeError(
                f"{name} {value} does not fit this model: use a positive multiple of {multiple}."
            )


def latent_shape(pipe: Any, height: int, width: int) -> tuple[int, int, int]:
    """Shape (channels, h, w) of one initial latent, as the pipeline's prepare_latents draws it."""
    net = denoiser(pipe)
    channels = int(getattr(net.config, "in_channels", 4))
    factor = vae_scale_factor(pipe)
    return channels, height // factor, width // factor
