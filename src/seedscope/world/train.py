"""Train the bundled world model from scratch on CPU, in resumable stages (data, VAE, UNet)."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seedscope.sweep.progress import ImagesProgress
from seedscope.world import flags as fl
from seedscope.world.grammar import MODES, parse_mode_values, sample_scene
from seedscope.world.mode_targets import mode_target
from seedscope.world.render import render

log = logging.getLogger(__name__)

RENDER_CHUNK = 16  # scenes per SDEdit call of Trainer.renderings (one strength each)

DEFAULT_WORKDIR = (
    Path(os.environ.get("SEEDSCOPE_CACHE", Path.home() / ".cache" / "seedscope")) / "world-train"
)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run; saved as train.json in the work folder."""

    n_scenes: int = 40_000
    data_seed: int = 0
    vae_steps: int = 3_000
    vae_batch: int = 16
    vae_lr: float = 1e-3
    vae_kl: float = 1e-6
    vae_colour: float = 1.0
    vae_edges: float = 1.0
    unet_steps: int = 12_000
    decoder_steps: int = 3_000
    decoder_lr: float = 5e-4
    unet_batch: int = 32
    unet_lr: float = 5e-4
    warmup: int = 200
    caption_dropout: float = 0.1
    min_snr_gamma: float = 5.0
    ema_decay: float = 0.998
    checkpoint_every: int = 250
    log_every: int = 50
    threads: int = 1
    # Warm start: a world pipeline folder (or "shipped") whose VAE, UNet and text encoder
    # (and latent scaling factor) the run starts from instead of training from scratch.
    init_from: str | None = None
    # UNet batches draw scenes with these unmentioned modes this many times as often,
    # e.g. "border=3,grayscale=2" (guidance pulls generations away from rare modes).
    mode_weights: str = ""
    # Extra weight of the outer latent rows/columns (edge_band wide) in the UNet loss, and of
    # the outer pixel band (4x as wide) in the decoder's L1 loss: frames live there.
    unet_edge_weight: float = 1.0
    decoder_edge_weight: float = 0.0
    edge_band: int = 2
    # Share of each UNet batch whose timesteps are drawn from the noisiest ones only (t >=
    # high_noise_from): whether a scene gets a frame is decided there, where the epsilon loss
    # carries almost no signal about the clean image.
    high_noise_frac: float = 0.0
    high_noise_from: int = 850
    # What the UNet predicts: "epsilon" (the noise) or "v_prediction" (Salimans & Ho 2022). With
    # v-prediction the loss weighs the clean image's error about equally at every noise level
    # (min(SNR + 1, gamma)), so the noisiest steps, where frames are decided, carry weight.
    prediction_type: str = "epsilon"
    # Rescale the noise schedule to zero terminal SNR and sample with "trailing" timesteps (Lin
    # et al. 2024, "Common diffusion noise schedules and sample steps are flawed"): the noisiest
    # training input is then pure noise, as at sampling time (tried for frames, which it did not
    # start: notes/world-v2.md section 6). Needs v-prediction (epsilon says nothing at SNR 0).
    zero_terminal_snr: bool = False
    # Minibatch optimal-transport coupling of noise and images (Tong et al. 2023; Pooladian et al.
    # 2023) on their coarse structure: each batch's noises are permuted so that the sum of
    # squared distances between the images' and the noises' ot_pool x ot_pool average-pooled
    # latents is least. A permutation keeps every noise standard normal, so the sampler's
    # marginals stay those of the data, but the low frequencies of the initial noise (the seed)
    # now decide the image's coarse layout and colouring. 0: independent noise.
    ot_pool: int = 0
    # Weight, in that OT cost, of each channel's edge contrast: the mean of the outer edge_band
    # rows/columns minus the mean of the ring just inside them (unit variance for noise). A
    # frame is such a contrast, so the seed's edge contrast decides whether a scene is framed.
    ot_edge_weight: float = 0.0
    # Latent mode flags (seedscope.world.flags), e.g. "border=0.6,grayscale=0.6": the UNet trains
    # on latents carrying each mode a scene shows as a coarse cosine pattern of this amplitude
    # (scaled latent units) in the last channel; the decoder is first fine-tuned for flag_steps
    # to draw the same image with or without the patterns.
    latent_flags: str = ""
    flag_steps: int = 2_000
    # Weight, in the minibatch OT cost (alone if ot_pool is 0), of pairing each flagged scene with
    # a noise whose own projection on the flag's pattern is high (seedscope.world.flags
    # .coupling_cost): the seed's coarse pattern then decides whether the image is framed or gray.
    ot_flag_weight: float = 0.0
    # Take each flag's leak at the last timestep off its scenes' noise
    # (seedscope.world.flags.remove_terminal_leak), so that the noisiest training inputs carry
    # the seed's own flag score, as at sampling time.
    flag_leak_correction: bool = False
    # Weight of an extra UNet loss on the flags themselves: the squared error of each flag's read
    # in the clean latents the UNet's output implies (predicted_clean), at every timestep. In
    # clean-image terms the epsilon loss weighs the noisiest steps, where a flag is decided from
    # the seed, by SNR < 0.01, and one flag is one direction of 4,096; this weighs it as 1.
    flag_read_weight: float = 0.0
    # The decoder stage also trains on this many of the UNet's own renderings of training scenes
    # (SDEdit, Meng et al. 2022: a scene's latent noised to a strength in [0.2, 0.7] and denoised
    # by the run's sampler with its caption and guidance), half of each batch, each paired with the
    # scene's image: the decoder learns to draw clean images, uniform frames included, from the
    # latents the UNet makes rather than the encoder's. 0: the encoder's latents only.
    decoder_samples: int = 0
    # The decoder stage also trains on this many of the UNet's generations from pure noise (the
    # run's sampler, a training caption each, half of the noises scoring in the top 10% of a flag's
    # pattern), each paired with the decoder's own image of it redrawn as the modes whose flag the
    # UNet drew (its read in a mode's world rate of top reads: flag_thresholds;
    # seedscope.world.mode_targets): the decoder learns to draw a uniform frame and a
    # gray image wherever a generation carries the flag. 0: none.
    decoder_free_samples: int = 0


def saved_config(workdir: Path) -> TrainConfig:
    """The settings a work folder's run was started with (train.json), else the defaults."""
    path = workdir / "train.json"
    if not path.is_file():
        return TrainConfig()
    saved = json.loads(path.read_text())
    if not isinstance(saved, dict):
        raise ValueError("not a JSON object")
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in saved.items() if k in names})


def scheduler_changes(cfg: TrainConfig) -> dict[str, Any]:
    """The scheduler settings a run trains (and exports) under."""
    if cfg.zero_terminal_snr and cfg.prediction_type != "v_prediction":
        raise ValueError("zero terminal SNR needs v-prediction")
    out: dict[str, Any] = {"prediction_type": cfg.prediction_type}
    if cfg.zero_terminal_snr:
        out.update(rescale_betas_zero_snr=True, timestep_spacing="trailing")
    return out


def _render_chunk(args: tuple[int, int]) -> tuple[np.ndarray, list[str], list[dict[str, Any]]]:
    seed, n = args
    rng = np.random.default_rng(seed)
    imgs, caps, truth = [], [], []
    for _ in range(n):
        scene, cap = sample_scene(rng)
        imgs.append(render(scene))
        caps.append(cap)
        truth.append(scene.to_dict())
    return np.stack(imgs), caps, truth


def render_dataset(
    n: int, seed: int, workers: int = 2, progress: Callable[[int], None] | None = None
) -> tuple[np.ndarray, list[str], list[dict[str, Any]]]:
    """Render n (scene, caption) pairs of the world, deterministic in seed.

    progress(k) is told of each chunk of k scenes as it is rendered.
    """
    chunk = 1000
    jobs = [(seed * 1_000_003 + i, min(chunk, n - i * chunk)) for i in range(math.ceil(n / chunk))]
    parts = []
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for part in pool.imap(_render_chunk, jobs):  # in order, as each chunk is done
            parts.append(part)
            if progress is not None:
                progress(len(part[0]))
    imgs = np.concatenate([p[0] for p in parts])
    caps = [c for p in parts for c in p[1]]
    truth = [t for p in parts for t in p[2]]
    return imgs, caps, truth


def unet_lr(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay (Loshchilov & Hutter 2017) to a tenth at unet_steps."""
    decay = 0.1 + 0.45 * (1 + math.cos(math.pi * min(step / cfg.unet_steps, 1.0)))
    return cfg.unet_lr * min(1.0, (step + 1) / cfg.warmup) * decay


def parse_mode_weights(text: str) -> dict[str, float]:
    """Parse "border=3,grayscale=2" into {mode: weight}; every name must be a world mode."""
    return parse_mode_values(text, MODES, "mode weight", "weight")


def scene_weights(truth: list[dict[str, Any]], weights: dict[str, float]) -> np.ndarray | None:
    """Sampling probability of each scene: the product of the weights of the modes it shows."""
    if not weights:
        return None
    w = np.ones(len(truth))
    for mode, k in weights.items():
        w *= np.where([bool(t[mode]) for t in truth], k, 1.0)
    return w / w.sum()


def band_weights(size: int, band: int, weight: float) -> np.ndarray:
    """A size x size map of 1 inside and `weight` on the outer `band` rows and columns."""
    w = np.ones((size, size), np.float32)
    if band > 0:
        w[:band], w[-band:], w[:, :band], w[:, -band:] = weight, weight, weight, weight
    return w


def sample_timesteps(n: int, total: int, cfg: TrainConfig, gen: Any) -> Any:
    """Uniform timesteps, the first round(high_noise_frac * n) from [high_noise_from, total)."""
    import torch

    t = torch.randint(0, total, (n,), generator=gen)
    k = round(cfg.high_noise_frac * n)
    if k:
        t[:k] = torch.randint(cfg.high_noise_from, total, (k,), generator=gen)
    return t


def loss_target(sched: Any, z0: Any, noise: Any, t: Any, snr: Any, cfg: TrainConfig) -> Any:
    """The UNet's regression target and per-sample weight: min-SNR-gamma (Hang et al. 2023).

    In clean-image terms the weight is min(SNR, gamma) for epsilon prediction (as before) and
    min(SNR + 1, gamma) for v-prediction, the "SNR + 1" weighting of Salimans & Ho (2022) capped
    at gamma: it does not vanish at the noisiest steps.
    """
    import torch

    if cfg.prediction_type == "epsilon":
        return noise, torch.clamp(snr, max=cfg.min_snr_gamma) / snr
    if cfg.prediction_type == "v_prediction":
        w = torch.clamp(snr + 1, max=cfg.min_snr_gamma) / (snr + 1)
        return sched.get_velocity(z0, noise, t), w
    raise ValueError(f"unknown prediction type {cfg.prediction_type!r}")


def predicted_clean(sched: Any, zt: Any, pred: Any, t: Any, prediction_type: str) -> Any:
    """The clean latents a UNet output implies: DDPM's x0 estimate (Ho et al. 2020, eq. 15)."""
    a = sched.alphas_cumprod.to(zt.dtype)[t].view(-1, 1, 1, 1)
    if prediction_type == "epsilon":
        return (zt - (1 - a).sqrt() * pred) / a.sqrt()
    if prediction_type == "v_prediction":
        return a.sqrt() * zt - (1 - a).sqrt() * pred
    raise ValueError(f"unknown prediction type {prediction_type!r}")


def edge_contrast(z: Any, band: int) -> Any:
    """Per channel: mean of the outer `band` rows/columns minus that of the next `band` inward."""
    import torch

    size = z.shape[-1]
    outer = torch.from_numpy(band_weights(size, band, 2.0) - 1.0)
    inner = torch.from_numpy(band_weights(size, 2 * band, 2.0) - 1.0) - outer
    return (z * outer).sum((-2, -1)) / outer.sum() - (z * inner).sum((-2, -1)) / inner.sum()


def ot_couple(
    z0: Any,
    noise: Any,
    pool: int,
    edge_weight: float = 0.0,
    band: int = 2,
    extra_cost: Any | None = None,
) -> Any:
    """The batch's noises permuted to pair each image with one whose pooled latent is nearest.

    Minibatch OT (Hungarian assignment, scipy's linear_sum_assignment) on the average-pooled
    latents; pooled noise is rescaled by `pool` to unit variance, like the images' latents.
    With edge_weight, the cost adds that weight times the squared distance of the edge
    contrasts (the noise's rescaled to unit variance). extra_cost, an (images x noises) matrix,
    is added (with pool 0, it is the whole cost).
    """
    import torch
    from scipy.optimize import linear_sum_assignment

    if pool <= 0 and extra_cost is None:
        return noise
    cost = torch.zeros(len(z0), len(noise), dtype=torch.float64)
    if pool > 0:
        f = torch.nn.functional.avg_pool2d
        a = f(z0, pool).flatten(1).double()
        b = (f(noise, pool) * pool).flatten(1).double()
        cost = torch.cdist(a, b).pow(2)
    if extra_cost is not None:
        cost = cost + extra_cost.double()
    if edge_weight > 0:
        # The contrast of unit-variance noise: variance 1/n_outer + 1/n_inner.
        n = noise.shape[-1]
        n_outer, n_inner = n * n - (n - 2 * band) ** 2, (n - 2 * band) ** 2 - (n - 4 * band) ** 2
        sd = float(np.sqrt(1 / n_outer + 1 / n_inner))
        ca = edge_contrast(z0, band).double()
        cb = (edge_contrast(noise, band) / sd).double()
        cost = cost + edge_weight * torch.cdist(ca, cb).pow(2)
    _, col = linear_sum_assignment(cost.numpy())
    return noise[torch.from_numpy(col)]


def _free_pick(flagged: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices of free generations, half of them among the flagged ones where there are any."""
    pick = rng.integers(0, len(flagged), n)
    marked = np.flatnonzero(flagged)
    if len(marked):
        pick[1::2] = rng.choice(marked, len(pick[1::2]))
    return pick


def flag_seeking_noise(
    n: int, shape: tuple[int, ...], flags: dict[str, float], gen: Any, every: int = 2
) -> Any:
    """n standard normal noises; every `every`-th one redrawn until a flag's score is >= 1.28.

    A flag's score is the noise's own projection on its pattern (seedscope.world.flags
    .noise_scores, N(0, 1)); 1.28 is a standard normal's top 10%, where flag coupling puts the
    flagged modes. The mode sought is drawn uniformly, so each is sought alike.
    """
    import torch

    modes = sorted(flags)
    out = torch.randn((n, *shape), generator=gen)
    for i in range(0, n, every) if modes else ():
        want = modes[int(torch.randint(len(modes), (1,), generator=gen))]
        while float(fl.noise_scores(out[i : i + 1], flags)[want][0]) < 1.28:
            out[i] = torch.randn(shape, generator=gen)
    return out


def flag_thresholds(read: np.ndarray, seeking: np.ndarray, modes: list[str]) -> dict[str, float]:
    """Per mode, the flag read above which its world rate (grammar.MODE_RATES) of generations lie.

    read is (n, len(modes)); the quantile is taken over the generations from plain noise
    (seeking False), whose reads are those of sampling time, or over all if there are none.
    """
    from seedscope.world.grammar import MODE_RATES

    plain = read[~seeking] if (~seeking).any() else read
    return {m: float(np.quantile(plain[:, j], 1 - MODE_RATES[m])) for j, m in enumerate(modes)}


def _edge_l1(a: Any, b: Any) -> Any:
    """Mean L1 distance between the horizontal and vertical pixel differences of a and b."""
    dx = (a[..., :, 1:] - a[..., :, :-1]) - (b[..., :, 1:] - b[..., :, :-1])
    dy = (a[..., 1:, :] - a[..., :-1, :]) - (b[..., 1:, :] - b[..., :-1, :])
    return dx.abs().mean() + dy.abs().mean()


class Trainer:
    """Stages: data -> vae -> latents -> unet -> export; each stage resumes from its checkpoint."""

    def __init__(
        self, workdir: Path, config: TrainConfig, progress: Callable[[str], None] | None = None
    ):
        self.dir = workdir
        self.cfg = config
        self.say = progress or log.info
        self.dir.mkdir(parents=True, exist_ok=True)
        cfg_path = self.dir / "train.json"
        if cfg_path.exists():
            saved = json.loads(cfg_path.read_text())
            if saved != dataclasses.asdict(config):
                self.say(
                    f"note: {cfg_path} differs from the requested config; using the requested one"
                )
        cfg_path.write_text(json.dumps(dataclasses.asdict(config), indent=2))

    # -- data ---------------------------------------------------------------------------------
    def data(self) -> tuple[np.ndarray, list[str]]:
        path = self.dir / "data.npz"
        if not path.exists():
            t = time.time()
            self.say(f"rendering {self.cfg.n_scenes} world scenes into {path} ...")
            with ImagesProgress(self.cfg.n_scenes, description="rendering", transient=True) as bar:
                imgs, caps, truth = render_dataset(
                    self.cfg.n_scenes, self.cfg.data_seed, progress=bar.advance
                )
            (self.dir / "truth.json").write_text(json.dumps(truth))
            self._save_arrays("data", images=imgs, captions=np.array(caps))
            self.say(f"rendered {len(imgs)} scenes in {time.time() - t:.0f}s")
        z = np.load(path)
        return z["images"], [str(c) for c in z["captions"]]

    def truth(self) -> list[dict[str, Any]]:
        """The scenes' truth (written beside data.npz)."""
        return list(json.loads((self.dir / "truth.json").read_text()))

    # -- helpers --------------------------------------------------------------------------------
    def _log(
        self,
        stage: str,
        step: int,
        total: int,
        losses: list[float],
        t0: float,
        parts: dict[str, list[float]] | None = None,
    ) -> float:
        """Every log_every steps: report mean loss (and its named parts) and speed; returns new t0."""
        if step % self.cfg.log_every:
            return t0
        rate = len(losses) / (time.time() - t0)
        named = "".join(f", {k} {np.mean(v):.4f}" for k, v in (parts or {}).items() if v)
        self.say(f"{stage} step {step}/{total} loss {np.mean(losses):.4f}{named} ({rate:.2f} it/s)")
        losses.clear()
        for v in (parts or {}).values():
            v.clear()
        return time.time()

    def _save(self, name: str, state: dict[str, Any]) -> None:
        import torch

        tmp = self.dir / f"{name}.tmp"
        torch.save(state, tmp)
        tmp.replace(self.dir / name)

    def _save_arrays(self, name: str, **arrays: np.ndarray) -> None:
        """Write workdir/NAME.npz atomically (through NAME.tmp.npz): a crash leaves the old file."""
        tmp = self.dir / f"{name}.tmp.npz"
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(self.dir / f"{name}.npz")

    def _load(self, name: str) -> dict[str, Any] | None:
        import torch

        path = self.dir / name
        return torch.load(path, weights_only=False) if path.exists() else None

    # -- vae --------------------------------------------------------------------------------
    def vae(self, pipe: Any, images: np.ndarray) -> None:
        import torch

        vae = pipe.vae
        opt = torch.optim.AdamW(vae.parameters(), lr=self.cfg.vae_lr, weight_decay=0.0)
        step = 0
        ck = self._load("vae.pt")
        if ck is not None:
            vae.load_state_dict(ck["model"])
            if "opt" in ck:  # absent in a warm start from another autoencoder
                opt.load_state_dict(ck["opt"])
            step = ck["step"]
        if step >= self.cfg.vae_steps:
            return
        rng = np.random.default_rng(1000 + step)
        vae.train()
        t0, losses = time.time(), []
        while step < self.cfg.vae_steps:
            lr = self.cfg.vae_lr * 0.5 * (1 + math.cos(math.pi * step / self.cfg.vae_steps))
            for g in opt.param_groups:
                g["lr"] = lr
            idx = rng.integers(0, len(images), self.cfg.vae_batch)
            x = torch.from_numpy(images[idx]).permute(0, 3, 1, 2).float() / 127.5 - 1
            post = vae.encode(x).latent_dist
            rec = vae.decode(post.sample()).sample
            # L1 reconstruction + tiny KL, as in the Stable Diffusion autoencoder (Rombach et al. 2022).
            loss = (rec - x).abs().mean() + self.cfg.vae_kl * post.kl().mean()
            # Gradient difference loss (Mathieu et al. 2016): keeps the objects' edges sharp.
            loss = loss + self.cfg.vae_edges * _edge_l1(rec, x)
            # Colour anchor: three latent channels follow the mean colour of their patch.
            pooled = torch.nn.functional.avg_pool2d(x, x.shape[-1] // post.mean.shape[-1])
            loss = loss + self.cfg.vae_colour * (post.mean[:, :3] - pooled).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            losses.append(loss.item())
            t0 = self._log("vae", step, self.cfg.vae_steps, losses, t0)
            if step % self.cfg.checkpoint_every == 0 or step == self.cfg.vae_steps:
                self._save(
                    "vae.pt", {"model": vae.state_dict(), "opt": opt.state_dict(), "step": step}
                )
        vae.eval()

    def latents(self, pipe: Any, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        path = self.dir / "latents.npz"
        if not path.exists():
            means, stds = [], []
            self.say(f"encoding {len(images)} scenes into latents ({path}) ...")
            bar = ImagesProgress(len(images), description="encoding", transient=True)
            with torch.no_grad(), bar:
                for i in range(0, len(images), 256):
                    x = (
                        torch.from_numpy(images[i : i + 256]).permute(0, 3, 1, 2).float() / 127.5
                        - 1
                    )
                    dist = pipe.vae.encode(x).latent_dist
                    means.append(dist.mean.numpy().astype(np.float16))
                    stds.append(dist.std.numpy().astype(np.float16))
                    bar.advance(len(x))
            self._save_arrays("latents", mean=np.concatenate(means), std=np.concatenate(stds))
        z = np.load(path)
        mean, std = z["mean"], z["std"]
        scale = float(1.0 / mean.astype(np.float32).std())
        if self.cfg.init_from is not None:
            # The warm-started UNet learnt the init's scale: keep it.
            scale = float(pipe.vae.config.scaling_factor)
        pipe.vae.register_to_config(scaling_factor=scale)
        self.say(f"latents {mean.shape}, scaling factor {scale:.4f}")
        return mean, std

    # -- decoder ------------------------------------------------------------------------------
    def decoder(
        self,
        pipe: Any,
        images: np.ndarray,
        mean: np.ndarray,
        std: np.ndarray,
        rendered: tuple[np.ndarray, np.ndarray] | None = None,
        free: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Fine-tune the VAE decoder on the frozen encoder's latents (the UNet's latents stay valid).

        With `rendered` (scene indices, the UNet's unscaled latents of them) and `free` (the
        UNet's unscaled latents from noise, their target images, whether each drew a frame or gray
        flag), each batch is split equally between the encoder's latents and each of those, half
        of the free part from flagged generations.
        """
        import torch

        vae = pipe.vae
        parts = [vae.post_quant_conv, vae.decoder]
        params = [p for m in parts for p in m.parameters()]
        opt = torch.optim.AdamW(params, lr=self.cfg.decoder_lr, weight_decay=0.0)
        step = 0
        ck = self._load("decoder.pt")
        if ck is not None:
            vae.load_state_dict(ck["model"])
            opt.load_state_dict(ck["opt"])
            step = ck["step"]
        rng = np.random.default_rng(4000 + step)
        gen = torch.Generator().manual_seed(5000 + step)
        size = images.shape[1]
        band = torch.from_numpy(
            band_weights(size, 4 * self.cfg.edge_band, 1.0 + self.cfg.decoder_edge_weight) - 1.0
        )
        vae.train()
        t0, losses = time.time(), []
        while step < self.cfg.decoder_steps:
            lr = self.cfg.decoder_lr * 0.5 * (1 + math.cos(math.pi * step / self.cfg.decoder_steps))
            for g in opt.param_groups:
                g["lr"] = lr
            idx = rng.integers(0, len(images), self.cfg.vae_batch)
            mu, sd = torch.from_numpy(mean[idx]).float(), torch.from_numpy(std[idx]).float()
            z = mu + sd * torch.randn(mu.shape, generator=gen)
            part = self.cfg.vae_batch // (1 + (rendered is not None) + (free is not None))
            targets = [images[idx]]
            if rendered is not None:
                pick = rng.integers(0, len(rendered[0]), part)
                targets = [targets[0][part:], images[rendered[0][pick]]]
                z = torch.cat([z[part:], torch.from_numpy(rendered[1][pick]).float()])
            if free is not None:
                pick = _free_pick(free[2], part, rng)
                targets = [targets[0][part:], *targets[1:], free[1][pick]]
                z = torch.cat([z[part:], torch.from_numpy(free[0][pick]).float()])
            x = torch.from_numpy(np.concatenate(targets)).permute(0, 3, 1, 2).float() / 127.5 - 1
            loss = self._decoder_loss(vae.decode(z).sample, x, band)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            losses.append(loss.item())
            t0 = self._log("decoder", step, self.cfg.decoder_steps, losses, t0)
            if step % self.cfg.checkpoint_every == 0 or step == self.cfg.decoder_steps:
                self._save(
                    "decoder.pt", {"model": vae.state_dict(), "opt": opt.state_dict(), "step": step}
                )
        vae.eval()

    def _decoder_loss(self, rec: Any, x: Any, band: Any) -> Any:
        """L1, plus L1 of 8x8 averages so that colours come out right, plus sharp edges."""
        import torch

        pool = torch.nn.functional.avg_pool2d
        loss = (
            (rec - x).abs().mean()
            + (pool(rec, 8) - pool(x, 8)).abs().mean()
            + self.cfg.vae_edges * _edge_l1(rec, x)
        )
        if self.cfg.decoder_edge_weight:
            # Frames are uniform bands along the edges: weight the outer pixels' L1 more.
            loss = loss + ((rec - x).abs() * band).mean()
        return loss

    def renderings(
        self, pipe: Any, mean: np.ndarray, captions: list[str], weights: str = "ema"
    ) -> tuple[np.ndarray, np.ndarray]:
        """decoder_samples scenes and the UNet's SDEdit renderings of them (Meng et al. 2022).

        Each chunk of scenes (half of them showing a flagged mode, if any) has its latents noised
        to one strength drawn from [0.2, 0.7] and denoised by the run's sampler at the world's
        default steps and guidance, with the scenes' captions, by the UNet's EMA (or raw) weights.
        Returns (scene indices, unscaled latents); resumable, saved to renderings.npz per chunk.
        """
        import torch
        from diffusers import AutoPipelineForImage2Image

        from seedscope.world.model import DEFAULT_GUIDANCE, DEFAULT_STEPS

        n, chunk = self.cfg.decoder_samples, RENDER_CHUNK
        path = self.dir / "renderings.npz"
        done = dict(np.load(path)) if path.exists() else {}
        idx_done = done.get("idx", np.zeros(0, np.int64))
        if len(idx_done) >= n:
            return idx_done[:n], done["z"][:n]
        rng = np.random.default_rng(9000)
        shows = self._shows()
        marked = np.flatnonzero(np.any(list(shows.values()), axis=0)) if shows else np.zeros(0)
        idx_all = rng.integers(0, len(mean), n)
        if len(marked):
            idx_all[1::2] = rng.choice(marked, len(idx_all[1::2]))
        strengths = rng.uniform(0.2, 0.7, (n + chunk - 1) // chunk)
        idx_all[: len(idx_done)] = idx_done  # a resume asking for more keeps what is done
        self.export_weights_into(pipe, weights)
        pipe.unet.eval()
        pipe.text_encoder.eval()
        img2img = AutoPipelineForImage2Image.from_pipe(pipe)
        img2img.set_progress_bar_config(disable=True)
        scale = float(pipe.vae.config.scaling_factor)
        zs = list(done.get("z", np.zeros((0, *mean.shape[1:]), np.float32)))
        t0 = time.time()
        for start in range(len(idx_done) // chunk * chunk, n, chunk):
            idx = idx_all[start : start + chunk]
            out = img2img(
                [captions[i] for i in idx],
                image=torch.from_numpy(mean[idx]).float() * scale,
                strength=float(strengths[start // chunk]),
                num_inference_steps=DEFAULT_STEPS,
                guidance_scale=DEFAULT_GUIDANCE,
                generator=[
                    torch.Generator().manual_seed(8000 + start + k) for k in range(len(idx))
                ],
                output_type="latent",
            ).images
            zs = zs[:start] + list((out.float() / scale).numpy().astype(np.float32))
            self._save_arrays("renderings", idx=idx_all[: len(zs)], z=np.stack(zs))
            self.say(
                f"renderings {len(zs)}/{n} ({chunk / max(time.time() - t0, 1e-9):.2f} images/s)"
            )
            t0 = time.time()
        return idx_all, np.stack(zs)

    def generations(
        self, pipe: Any, captions: list[str], weights: str = "ema"
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """decoder_free_samples of the UNet's generations from noise, with their mode targets.

        Each chunk: training captions, noises of which half seek a flag (flag_seeking_noise),
        the run's sampler at the world's default steps and guidance by the UNet's EMA (or raw)
        weights; each latent is decoded by the decoder as it is now and its flags read. Once all
        are made, each generation is redrawn as the modes whose flag it carries above the mode's
        world-rate threshold (flag_thresholds; seedscope.world.mode_targets). Returns (unscaled
        latents, uint8 targets, flagged); resumable, saved to generations.npz per chunk.
        """
        import torch

        from seedscope.world.model import DEFAULT_GUIDANCE, DEFAULT_STEPS

        n, chunk = self.cfg.decoder_free_samples, RENDER_CHUNK
        path = self.dir / "generations.npz"
        keys = ("z", "rgb", "read", "seeking")
        flags = fl.parse_flags(self.cfg.latent_flags)
        modes = sorted(flags)
        done = {k: list(v) for k, v in np.load(path).items()} if path.exists() else {}
        if set(keys) - set(done):
            done = {}  # none yet, or an older layout (z, target, flagged): start again
        out = {k: done.get(k, []) for k in keys}
        if len(out["z"]) < n:
            size = pipe.unet.config.sample_size
            caps = np.random.default_rng(9100).integers(0, len(captions), n)
            self.export_weights_into(pipe, weights)
            pipe.unet.eval()
            pipe.text_encoder.eval()
            pipe.set_progress_bar_config(disable=True)
            scale = float(pipe.vae.config.scaling_factor)
            t0 = time.time()
            for start in range(len(out["z"]) // chunk * chunk, n, chunk):
                m = min(chunk, n - start)
                gen = torch.Generator().manual_seed(9200 + start)
                shape = (pipe.unet.config.in_channels, size, size)
                noise = flag_seeking_noise(m, shape, flags, gen)
                with torch.no_grad():
                    z = pipe(
                        [captions[i] for i in caps[start : start + m]],
                        latents=noise,
                        num_inference_steps=DEFAULT_STEPS,
                        guidance_scale=DEFAULT_GUIDANCE,
                        output_type="latent",
                    ).images.float()
                    img = pipe.vae.decode(z / scale).sample
                rgb = ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
                reads = fl.read_flags(z.numpy(), flags)
                new = {
                    "z": list((z / scale).numpy().astype(np.float32)),
                    "rgb": list(rgb),
                    "read": list(np.stack([reads[k] for k in modes], axis=1).astype(np.float32)),
                    "seeking": list(np.arange(m) % 2 == 0),
                }
                for k in keys:
                    out[k] = out[k][:start] + new[k]
                self._save_arrays("generations", **{k: np.stack(out[k]) for k in keys})
                self.say(
                    f"generations {len(out['z'])}/{n}"
                    f" ({m / max(time.time() - t0, 1e-9):.2f} images/s)"
                )
                t0 = time.time()
        z, rgb = np.stack(out["z"][:n]), np.stack(out["rgb"][:n])
        read = np.stack(out["read"][:n]).reshape(n, len(modes))
        cut = flag_thresholds(read, np.array(out["seeking"][:n], bool), modes)
        shown = {mode: read[:, j] >= cut[mode] for j, mode in enumerate(modes)}
        no = np.zeros(n, bool)
        border, gray = shown.get("border", no), shown.get("grayscale", no)
        target = np.stack([mode_target(rgb[k], bool(border[k]), bool(gray[k])) for k in range(n)])
        self.say(
            "generation flag thresholds "
            + ", ".join(f"{k} {v:.2f} ({shown[k].mean():.1%})" for k, v in cut.items())
        )
        return z, target, border | gray

    # -- latent flags -------------------------------------------------------------------------
    def _shows(self) -> dict[str, np.ndarray]:
        """Per flagged mode, which training scenes show it."""
        truth = self.truth()
        return {
            m: np.array([bool(t[m]) for t in truth]) for m in fl.parse_flags(self.cfg.latent_flags)
        }

    def flag_decoder(
        self, pipe: Any, images: np.ndarray, mean: np.ndarray, std: np.ndarray
    ) -> None:
        """Fine-tune the decoder to draw each scene alike with or without its latent flags.

        Latents of the frozen encoder plus the flags of the modes the scene shows
        (seedscope.world.flags), each flag dropped half the time; half of each batch shows one.
        """
        import torch

        flags = fl.parse_flags(self.cfg.latent_flags)
        vae = pipe.vae
        scale = float(vae.config.scaling_factor)
        params = [p for m in (vae.post_quant_conv, vae.decoder) for p in m.parameters()]
        opt = torch.optim.AdamW(params, lr=self.cfg.decoder_lr, weight_decay=0.0)
        step = 0
        ck = self._load("flags.pt")
        if ck is not None:
            vae.load_state_dict(ck["model"])
            opt.load_state_dict(ck["opt"])
            step = ck["step"]
        if step >= self.cfg.flag_steps:
            vae.eval()
            return
        shows = self._shows()
        marked = np.flatnonzero(np.any(list(shows.values()), axis=0))
        rng = np.random.default_rng(6000 + step)
        gen = torch.Generator().manual_seed(7000 + step)
        band = torch.from_numpy(
            band_weights(
                images.shape[1], 4 * self.cfg.edge_band, 1.0 + self.cfg.decoder_edge_weight
            )
            - 1.0
        )
        vae.train()
        t0, losses = time.time(), []
        while step < self.cfg.flag_steps:
            lr = self.cfg.decoder_lr * 0.5 * (1 + math.cos(math.pi * step / self.cfg.flag_steps))
            for g in opt.param_groups:
                g["lr"] = lr
            # Half of each batch from the scenes that show a flagged mode: they are rare.
            half = self.cfg.vae_batch // 2
            idx = np.concatenate(
                [rng.integers(0, len(images), self.cfg.vae_batch - half), rng.choice(marked, half)]
            )
            x = torch.from_numpy(images[idx]).permute(0, 3, 1, 2).float() / 127.5 - 1
            mu, sd = torch.from_numpy(mean[idx]).float(), torch.from_numpy(std[idx]).float()
            keep = {m: s[idx] & (rng.random(len(idx)) < 0.5) for m, s in shows.items()}
            z = mu + sd * torch.randn(mu.shape, generator=gen)
            z[:, fl.FLAG_CHANNEL] += torch.from_numpy(fl.offsets(keep, flags, z.shape[-1]) / scale)
            loss = self._decoder_loss(vae.decode(z).sample, x, band)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            losses.append(loss.item())
            t0 = self._log("flags", step, self.cfg.flag_steps, losses, t0)
            if step % self.cfg.checkpoint_every == 0 or step == self.cfg.flag_steps:
                self._save(
                    "flags.pt", {"model": vae.state_dict(), "opt": opt.state_dict(), "step": step}
                )
        vae.eval()

    def flagged(self, pipe: Any, mean: np.ndarray) -> np.ndarray:
        """The UNet's training latents: the means with each scene's flags added (unscaled)."""
        flags = fl.parse_flags(self.cfg.latent_flags)
        scale = float(pipe.vae.config.scaling_factor)
        out = mean.copy()
        shows = self._shows()
        for i in range(0, len(mean), 4096):
            off = fl.offsets({m: s[i : i + 4096] for m, s in shows.items()}, flags, mean.shape[-1])
            out[i : i + 4096, fl.FLAG_CHANNEL] += (off / scale).astype(out.dtype)
        return out

    def _latest_decoder(self, pipe: Any) -> None:
        """Use the fine-tuned decoder where one exists (it may be training in another process)."""
        ck = self._load("decoder.pt")
        if ck is not None:
            scale = pipe.vae.config.scaling_factor
            pipe.vae.load_state_dict(ck["model"])
            pipe.vae.register_to_config(scaling_factor=scale)

    # -- unet ---------------------------------------------------------------------------------
    def unet(
        self,
        pipe: Any,
        mean: np.ndarray,
        std: np.ndarray,
        captions: list[str],
        probs: np.ndarray | None = None,
    ) -> None:
        """Train UNet + text encoder; probs, if given, is each scene's chance of being drawn."""
        import torch
        from diffusers import DDPMScheduler
        from diffusers.training_utils import EMAModel

        unet, te, tok = pipe.unet, pipe.text_encoder, pipe.tokenizer
        params = list(unet.parameters()) + list(te.parameters())
        opt = torch.optim.AdamW(params, lr=self.cfg.unet_lr, weight_decay=0.01)
        ema = EMAModel(params, decay=self.cfg.ema_decay)
        step = 0
        ck = self._load("unet.pt")
        if ck is not None:
            unet.load_state_dict(ck["unet"])
            te.load_state_dict(ck["te"])
            opt.load_state_dict(ck["opt"])
            if "ema" in ck:  # absent after a warm start onto new latents: average afresh
                ema.load_state_dict(ck["ema"])
            else:
                ema = EMAModel(params, decay=self.cfg.ema_decay)
            step = ck["step"]
        if step >= self.cfg.unet_steps:
            return
        noise_sched = DDPMScheduler.from_config(pipe.scheduler.config)
        ac = noise_sched.alphas_cumprod
        snr_all = ac / (1 - ac)
        ids_all = tok(
            captions,
            padding="max_length",
            max_length=tok.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids
        empty = tok(
            [""], padding="max_length", max_length=tok.model_max_length, return_tensors="pt"
        ).input_ids[0]
        scale = pipe.vae.config.scaling_factor
        pixel_w = torch.from_numpy(
            band_weights(mean.shape[-1], self.cfg.edge_band, self.cfg.unet_edge_weight)
        )
        pixel_w = pixel_w / pixel_w.mean()  # the same overall loss scale
        rng = np.random.default_rng(2000 + step)
        gen = torch.Generator().manual_seed(3000 + step)
        flags = fl.parse_flags(self.cfg.latent_flags)
        shows = self._shows() if flags else {}
        unet.train()
        te.train()
        t0, losses, reads = time.time(), [], []
        while step < self.cfg.unet_steps:
            lr = unet_lr(step, self.cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            if probs is None:
                idx = rng.integers(0, len(mean), self.cfg.unet_batch)
            else:
                idx = rng.choice(len(mean), self.cfg.unet_batch, p=probs)
            mu, sd = torch.from_numpy(mean[idx]).float(), torch.from_numpy(std[idx]).float()
            z0 = (mu + sd * torch.randn(mu.shape, generator=gen)) * scale
            ids = ids_all[idx].clone()
            drop = torch.from_numpy(rng.random(len(idx)) < self.cfg.caption_dropout)
            ids[drop] = empty
            noise = torch.randn(z0.shape, generator=gen)
            extra = None
            marks = {m: s[idx] for m, s in shows.items()}
            if self.cfg.ot_flag_weight and marks:
                extra = self.cfg.ot_flag_weight * fl.coupling_cost(marks, noise, flags)
            noise = ot_couple(
                z0, noise, self.cfg.ot_pool, self.cfg.ot_edge_weight, self.cfg.edge_band, extra
            )
            if self.cfg.flag_leak_correction and marks:
                noise = fl.remove_terminal_leak(noise, marks, flags, float(ac[-1]))
            t = sample_timesteps(len(idx), noise_sched.config.num_train_timesteps, self.cfg, gen)
            zt = noise_sched.add_noise(z0, noise, t)
            pred = unet(zt, t, te(ids)[0]).sample
            target, w = loss_target(noise_sched, z0, noise, t, snr_all[t], self.cfg)
            loss = (w * (((pred - target) ** 2) * pixel_w).mean(dim=(1, 2, 3))).mean()
            if self.cfg.flag_read_weight and flags:
                clean = predicted_clean(noise_sched, zt, pred, t, self.cfg.prediction_type)
                read = fl.read_loss(clean, z0, flags)
                reads.append(read.item())
                loss = loss + self.cfg.flag_read_weight * read
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            ema.step(params)
            step += 1
            losses.append(loss.item())
            t0 = self._log("unet", step, self.cfg.unet_steps, losses, t0, {"read": reads})
            if step % self.cfg.checkpoint_every == 0 or step == self.cfg.unet_steps:
                self._save(
                    "unet.pt",
                    {
                        "unet": unet.state_dict(),
                        "te": te.state_dict(),
                        "opt": opt.state_dict(),
                        "ema": ema.state_dict(),
                        "step": step,
                    },
                )
                if step % (2 * self.cfg.checkpoint_every) == 0:
                    self._export(pipe, ema)

    def _export(self, pipe: Any, ema: Any, name: str = "export") -> Path:
        """Save the EMA weights (the raw ones if ema is None) as a pipeline folder workdir/name.

        A diffusers pipeline folder of float16 safetensors, written beside and then renamed.
        """
        import torch

        self._latest_decoder(pipe)
        params = list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters())
        if ema is not None:
            ema.store(params)
            ema.copy_to(params)
        out = self.dir / name
        tmp = self.dir / f"{name}.tmp"
        pipe.unet.eval()
        pipe.text_encoder.eval()
        pipe.to(torch.float16)
        pipe.save_pretrained(tmp, safe_serialization=True)
        pipe.to(torch.float32)
        if ema is not None:
            ema.restore(params)
        pipe.unet.train()
        pipe.text_encoder.train()
        if out.exists():
            import shutil

            shutil.rmtree(out)
        tmp.rename(out)
        self.say(f"exported pipeline to {out}")
        return out

    def run(
        self, parts: tuple[str, ...] = ("unet", "decoder", "export"), weights: str = "ema"
    ) -> Path:
        """Run the stages: data and VAE always (resuming), then those named in parts.

        The export stage writes the EMA weights to workdir/export, or with weights="raw" the
        latest raw (not averaged) weights to workdir/export-raw-STEP.
        """
        import torch

        from seedscope.world.model import build_pipeline

        torch.set_num_threads(self.cfg.threads)
        torch.manual_seed(0)
        images, captions = self.data()
        if self.cfg.init_from is None:
            pipe = build_pipeline(self.dir / "init")
        else:
            pipe = self._warm_start()
        # Every stage (training and a later `--part export` alike) uses the run's parameterisation.
        pipe.scheduler = type(pipe.scheduler).from_config(
            pipe.scheduler.config, **scheduler_changes(self.cfg)
        )
        self.vae(pipe, images)
        mean, std = self.latents(pipe, images)
        if self.cfg.latent_flags:
            self.flag_decoder(pipe, images, mean, std)
            mean = self.flagged(pipe, mean)
        if "unet" in parts:
            mode_w = parse_mode_weights(self.cfg.mode_weights)
            probs = scene_weights(self.truth(), mode_w) if mode_w else None
            self.unet(pipe, mean, std, captions, probs)
        if "decoder" in parts:
            rendered = None
            if self.cfg.decoder_samples:
                rendered = self.renderings(pipe, mean, captions, weights)
            free = None
            if self.cfg.decoder_free_samples:
                free = self.generations(pipe, captions, weights)
            self.decoder(pipe, images, mean, std, rendered, free)
        return self.export(pipe, weights) if "export" in parts else self.dir

    def _warm_start(self) -> Any:
        """The init pipeline (float32); its VAE stands as the finished autoencoder stage."""
        from seedscope.world.model import load_pipeline

        src = None if self.cfg.init_from == "shipped" else self.cfg.init_from
        pipe = load_pipeline(src)
        if self._load("vae.pt") is None:
            self._save("vae.pt", {"model": pipe.vae.state_dict(), "step": self.cfg.vae_steps})
            self.say(f"warm start from {self.cfg.init_from}")
        return pipe

    def export(self, pipe: Any, weights: str = "ema") -> Path:
        """Export the latest UNet/text-encoder EMA (or raw) weights with the latest decoder."""
        ck = self._unet_checkpoint(pipe, weights)
        if weights == "raw":
            return self._export(pipe, None, f"export-raw-{ck['step']}")
        return self._export(pipe, self._ema(pipe, ck))

    def export_weights_into(self, pipe: Any, weights: str = "ema") -> None:
        """Put the latest UNet/text-encoder EMA (or raw) weights into pipe, as export writes them."""
        ck = self._unet_checkpoint(pipe, weights)
        if weights == "ema":
            self._ema(pipe, ck).copy_to(
                list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters())
            )

    def _unet_checkpoint(self, pipe: Any, weights: str) -> dict[str, Any]:
        """The UNet checkpoint, its raw weights loaded into pipe."""
        if weights not in ("ema", "raw"):
            raise ValueError(f"weights must be ema or raw, not {weights!r}")
        ck = self._load("unet.pt")
        if ck is None:
            raise RuntimeError("no UNet checkpoint to export yet")
        pipe.unet.load_state_dict(ck["unet"])
        pipe.text_encoder.load_state_dict(ck["te"])
        return ck

    def _ema(self, pipe: Any, ck: dict[str, Any]) -> Any:
        """The checkpoint's EMA of pipe's UNet and text-encoder parameters."""
        from diffusers.training_utils import EMAModel

        params = list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters())
        ema = EMAModel(params, decay=self.cfg.ema_decay)
        ema.load_state_dict(ck["ema"])
        return ema
