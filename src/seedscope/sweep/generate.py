"""Batched generation: prompts encoded once, one generator per image, explicit initial latents."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from seedscope.models.settings import denoiser, latent_shape
from seedscope.seeds import make_generators, noise_sha256

log = logging.getLogger(__name__)


@dataclass
class Embeds:
    """Text embeddings of a list of prompts (pooled ones for SDXL-style pipelines)."""

    prompt: torch.Tensor
    pooled: torch.Tensor | None = None


@dataclass
class BatchResult:
    """One batch's images (uint8, N×H×W×C) and initial-latent fingerprints."""

    pairs: list[tuple[int, int]]
    images: np.ndarray
    noise: list[str]


class BatchGenerator:
    """Run many (prompt, seed) pairs through one pipeline call, as diffusers would one by one.

    Each image gets `torch.Generator(generator_device).manual_seed(seed)`; its initial latent is
    drawn with diffusers' `randn_tensor` from that generator (exactly what `prepare_latents`
    does) and handed to the pipeline, which keeps using the same generators for step noise.
    `eta` is passed to the pipeline where given (DDIM's stochasticity).
    """

    def __init__(
        self,
        pipe: Any,
        *,
        steps: int,
        guidance: float,
        height: int,
        width: int,
        generator_device: str = "cpu",
        negative_prompt: str | None = None,
        eta: float | None = None,
    ) -> None:
        self.pipe = pipe
        self.eta = eta
        self.steps = steps
        self.guidance = guidance
        self.height = height
        self.width = width
        self.generator_device = generator_device
        self.negative_prompt = negative_prompt
        self.device = torch.device(getattr(pipe, "_execution_device", None) or pipe.device)
        self.shape = latent_shape(pipe, height, width)
        cond_dim = getattr(denoiser(pipe).config, "time_cond_proj_dim", None)
        self.cfg = guidance > 1.0 and cond_dim is None
        self.use_embeds = hasattr(pipe, "encode_prompt")
        self._uncond: Embeds | None = None
        self._prompts: dict[int, str] = {}
        self._cache: dict[int, tuple[Embeds, int]] = {}

    # Text encoding.
    def _encode(self, prompts: list[str], cfg: bool) -> tuple[Embeds, Embeds | None]:
        out = self.pipe.encode_prompt(
            prompt=prompts,
            device=self.device,
            num_images_per_prompt=1,
            do_classifier_free_guidance=cfg,
            negative_prompt=[self.negative_prompt] * len(prompts)
            if cfg and self.negative_prompt is not None
            else None,
        )
        if len(out) == 4:
            pe, ne, ppe, npe = out
            return Embeds(pe, ppe), (Embeds(ne, npe) if cfg else None)
        pe, ne = out[0], out[1]
        return Embeds(pe), (Embeds(ne) if cfg else None)

    def unconditional(self) -> Embeds | None:
        """The negative-prompt embedding, computed once per sweep (None without guidance)."""
        if self.cfg and self._uncond is None:
            _, self._uncond = self._encode([""], cfg=True)
        return self._uncond

    def encode(self, prompts: dict[int, str]) -> None:
        """Encode the shard's prompts in one text-encoder batch, reusing those already encoded.

        Shards come in prompt-block order, so a prompt is encoded once however many seed
        blocks it spans; embeddings of prompts the new shard does not use are dropped.
        """
        self._prompts = dict(prompts)
        if not self.use_embeds:
            return
        self._cache = {pid: v for pid, v in self._cache.items() if pid in prompts}
        ids = [pid for pid in prompts if pid not in self._cache]
        if not ids:
            return
        try:
            embeds, _ = self._encode([prompts[i] for i in ids], cfg=False)
        except TypeError:
            log.info(
                "%s.encode_prompt has another signature; passing prompts as text",
                type(self.pipe).__name__,
            )
            self.use_embeds = False
            return
        for row, pid in enumerate(ids):
            self._cache[pid] = (embeds, row)
        self.unconditional()

    # Generation.
    def initial_latents(
        self, generators: list[torch.Generator], dtype: torch.dtype
    ) -> torch.Tensor:
        """Draw the initial latents exactly as the pipeline's prepare_latents would."""
        from diffusers.utils.torch_utils import randn_tensor

        shape = (len(generators), *self.shape)
        return randn_tensor(shape, generator=generators, device=self.device, dtype=dtype)

    def _dtype(self) -> torch.dtype:
        if self._cache:
            return next(iter(self._cache.values()))[0].prompt.dtype
        text_encoder = getattr(self.pipe, "text_encoder", None)
        return text_encoder.dtype if text_encoder is not None else denoiser(self.pipe).dtype

    @torch.inference_mode()
    def run(
        self,
        pairs: list[tuple[int, int]],
        on_step: Callable[[int, list[torch.Generator]], None] | None = None,
    ) -> BatchResult:
        """Generate the images of `pairs` (prompt_id, seed) in one pipeline call.

        `on_step(k, generators)` is called once k denoising steps are done, from k = 0 (the
        initial latents drawn, no step taken) to k = steps; it may change the generators'
        states in place (the pipeline keeps drawing step noise from these very objects).
        """
        generators = make_generators([s for _, s in pairs], self.generator_device)
        latents = self.initial_latents(generators, self._dtype())
        noise = [noise_sha256(latents[i]) for i in range(len(pairs))]
        kwargs: dict[str, Any] = {
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance,
            "height": self.height,
            "width": self.width,
            "latents": latents,
            "generator": generators,
            "output_type": "np",
        }
        if self.eta is not None:
            kwargs["eta"] = self.eta
        if on_step is not None:
            on_step(0, generators)

            def step_end(pipe: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
                on_step(i + 1, generators)
                return tensors

            kwargs["callback_on_step_end"] = step_end
        if self.use_embeds:
            kwargs.update(self._embed_kwargs([pid for pid, _ in pairs]))
        else:
            kwargs["prompt"] = [self._prompts[pid] for pid, _ in pairs]
            if self.cfg and self.negative_prompt is not None:
                kwargs["negative_prompt"] = [self.negative_prompt] * len(pairs)
        images = np.asarray(self.pipe(**kwargs).images)
        # Same rounding as diffusers' numpy_to_pil.
        pixels = (images * 255).round().astype(np.uint8)
        return BatchResult(pairs=pairs, images=pixels, noise=noise)

    def _embed_kwargs(self, prompt_ids: list[int]) -> dict[str, Any]:
        parts = [self._cache[pid] for pid in prompt_ids]
        kwargs: dict[str, Any] = {"prompt_embeds": torch.stack([e.prompt[r] for e, r in parts])}
        if parts[0][0].pooled is not None:
            pooled = [e.pooled[r] for e, r in parts if e.pooled is not None]
            kwargs["pooled_prompt_embeds"] = torch.stack(pooled)
        uncond = self.unconditional()
        if uncond is not None:
            n = len(prompt_ids)
            kwargs["negative_prompt_embeds"] = uncond.prompt.repeat(n, 1, 1)
            if uncond.pooled is not None:
                kwargs["negative_pooled_prompt_embeds"] = uncond.pooled.repeat(n, 1)
        return kwargs
