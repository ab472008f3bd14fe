"""DDIM inversion (Song et al. 2021; Mokady et al. 2023): an image back to its initial latent.

The image is encoded with the pipeline's VAE (the posterior mean, scaled like the pipeline
scales latents) and the deterministic DDIM update is run backwards over the sampler's own
timesteps: from the clean latent up to the noisiest step, each step using the noise predicted
at the current (less noisy) point, as null-text inversion does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from seedscope.errors import SeedscopeError
from seedscope.models.settings import denoiser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InversionSettings:
    """How to invert: denoising steps (the sampler's timesteps) and guidance during inversion."""

    steps: int = 20
    guidance: float = 1.0
    negative_prompt: str | None = None
    batch_size: int = 16


def pixels_to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 H×W×3 images as one float tensor in [-1, 1], N×3×H×W."""
    stack = np.stack([np.asarray(im, dtype=np.uint8) for im in images])
    return torch.from_numpy(stack).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def encode_latents(pipe: Any, pixels: torch.Tensor) -> torch.Tensor:
    """The VAE posterior mean of each image, scaled (and shifted) as the pipeline's latents are."""
    vae = pipe.vae
    dtype = vae.dtype
    device = vae.device
    posterior = vae.encode(pixels.to(device, dtype)).latent_dist
    latents = posterior.mean
    shift = getattr(vae.config, "shift_factor", None)
    if shift is not None:
        latents = latents - shift
    return latents * vae.config.scaling_factor


class _Conditioner:
    """Text conditioning for the denoiser: SD-style cross-attention, plus SDXL's added kwargs."""

    def __init__(self, pipe: Any, prompts: list[str], settings: InversionSettings) -> None:
        self.pipe = pipe
        self.net = denoiser(pipe)
        if getattr(self.net.config, "in_channels", None) is None:
            raise SeedscopeError(f"{type(pipe).__name__} is not a UNet pipeline; cannot invert.")
        self.guidance = settings.guidance
        cond_dim = getattr(self.net.config, "time_cond_proj_dim", None)
        self.cfg = settings.guidance > 1.0 and cond_dim is None
        device = getattr(pipe, "_execution_device", None) or pipe.device
        negative = [settings.negative_prompt or ""] * len(prompts)
        out = pipe.encode_prompt(
            prompt=prompts,
            device=device,
            num_images_per_prompt=1,
            do_classifier_free_guidance=self.cfg,
            negative_prompt=negative if self.cfg else None,
        )
        self.pooled: torch.Tensor | None = None
        self.neg_pooled: torch.Tensor | None = None
        if len(out) == 4:
            self.embeds, self.neg, self.pooled, self.neg_pooled = out
        else:
            self.embeds, self.neg = out[0], out[1]
        self.time_ids: torch.Tensor | None = None
        if self.pooled is not None:
            self.time_ids = self._sdxl_time_ids(len(prompts))

    def _sdxl_time_ids(self, n: int) -> torch.Tensor:
        pipe = self.pipe
        factor = int(getattr(pipe, "vae_scale_factor", 8))
        size = int(self.net.config.sample_size) * factor
        encoder_2 = getattr(pipe, "text_encoder_2", None)
        proj = int(encoder_2.config.projection_dim) if encoder_2 is not None else None
        ids = pipe._get_add_time_ids(
            (size, size),
            (0, 0),
            (size, size),
            dtype=self.embeds.dtype,
            text_encoder_projection_dim=proj,
        )
        return ids.to(self.embeds.device).repeat(n, 1)

    def set_size(self, height: int, width: int) -> None:
        """SDXL conditions on the image size: use the images' own."""
        if self.pooled is None:
            return
        encoder_2 = getattr(self.pipe, "text_encoder_2", None)
        proj = int(encoder_2.config.projection_dim) if encoder_2 is not None else None
        ids = self.pipe._get_add_time_ids(
            (height, width),
            (0, 0),
            (height, width),
            dtype=self.embeds.dtype,
            text_encoder_projection_dim=proj,
        )
        self.time_ids = ids.to(self.embeds.device).repeat(self.embeds.shape[0], 1)

    def eps(self, x: torch.Tensor, t: torch.Tensor, scheduler: Any) -> torch.Tensor:
        """The (guided) noise prediction at x, timestep t, as an epsilon."""
        inp = torch.cat([x, x]) if self.cfg else x
        hidden = torch.cat([self.neg, self.embeds]) if self.cfg else self.embeds
        kwargs: dict[str, Any] = {}
        if self.pooled is not None and self.time_ids is not None:
            pooled = torch.cat([self.neg_pooled, self.pooled]) if self.cfg else self.pooled
            ids = torch.cat([self.time_ids, self.time_ids]) if self.cfg else self.time_ids
            kwargs["added_cond_kwargs"] = {"text_embeds": pooled, "time_ids": ids}
        inp = scheduler.scale_model_input(inp, t)
        out = self.net(inp, t, encoder_hidden_states=hidden, **kwargs).sample
        if self.cfg:
            uncond, cond = out.chunk(2)
            out = uncond + self.guidance * (cond - uncond)
        kind = scheduler.config.prediction_type
        if kind == "v_prediction":
            alpha = scheduler.alphas_cumprod[int(t)].to(x.dtype)
            out = alpha.sqrt() * out + (1 - alpha).sqrt() * x
        elif kind != "epsilon":
            raise SeedscopeError(f"DDIM inversion supports epsilon and v prediction, not {kind!r}.")
        return out


def inversion_scheduler(pipe: Any, steps: int) -> Any:
    """A DDIM scheduler with the pipeline's training schedule, set to `steps` timesteps."""
    from diffusers import DDIMScheduler

    config = dict(pipe.scheduler.config)
    try:
        scheduler = DDIMScheduler.from_config(config)
    except Exception as err:  # flow-matching and other schedules DDIM cannot express
        raise SeedscopeError(
            f"{type(pipe.scheduler).__name__} has no DDPM noise schedule to invert with DDIM."
        ) from err
    if not hasattr(scheduler, "alphas_cumprod"):
        raise SeedscopeError(f"{type(pipe.scheduler).__name__} cannot be inverted with DDIM.")
    scheduler.set_timesteps(steps)
    return scheduler


@torch.no_grad()
def ddim_invert(
    pipe: Any, latents: torch.Tensor, prompts: list[str], settings: InversionSettings
) -> torch.Tensor:
    """Run DDIM backwards from clean latents to the initial latent (Mokady et al. 2023, eq. 2)."""
    scheduler = inversion_scheduler(pipe, settings.steps)
    cond = _Conditioner(pipe, prompts, settings)
    factor = int(getattr(pipe, "vae_scale_factor", 8))
    cond.set_size(latents.shape[-2] * factor, latents.shape[-1] * factor)
    alphas = scheduler.alphas_cumprod.to(torch.float64)
    alpha_prev = torch.as_tensor(scheduler.final_alpha_cumprod, dtype=torch.float64)
    x = latents.to(torch.float64)
    dtype = denoiser(pipe).dtype
    for t in scheduler.timesteps.flip(0):
        alpha = alphas[int(t)]
        eps = cond.eps(x.to(dtype), t, scheduler).to(torch.float64)
        # DDIM step run backwards: predicted clean latent, then re-noised to the next level.
        x0 = (x - (1 - alpha_prev).sqrt() * eps) / alpha_prev.sqrt()
        x = alpha.sqrt() * x0 + (1 - alpha).sqrt() * eps
        alpha_prev = alpha
    # In the variance-preserving space x_T is comparable to the drawn noise for any sampler.
    return x.to(torch.float32)


def invert_images(
    pipe: Any,
    images: Sequence[np.ndarray],
    prompts: Sequence[str],
    settings: InversionSettings,
) -> torch.Tensor:
    """Initial latents (N×C×h×w, float32) of uint8 images, in batches of `settings.batch_size`."""
    out = []
    for start in range(0, len(images), settings.batch_size):
        chunk = images[start : start + settings.batch_size]
        with torch.no_grad():
            latents = encode_latents(pipe, pixels_to_tensor(chunk))
        out.append(ddim_invert(pipe, latents, list(prompts[start : start + len(chunk)]), settings))
    return torch.cat(out) if out else torch.zeros(0)
