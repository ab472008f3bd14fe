"""The seed classifier (Xu et al. 2025, finding 1): name an image's seed from prompts it never saw.

An N-way classifier (a small CNN in plain PyTorch) is trained on the images of some prompts
and tested on the images of other prompts, so that what it learns is the seed's fingerprint,
not the prompt. A validation split carved from the training prompts picks the epoch; a linear
probe on downsampled pixels (logistic regression) is the baseline beside it; a learning curve
says how many images per seed it takes. Pure functions over arrays and tables, a frozen
`ClassifySpec`, and `run_classify(sweep, spec)` that writes ``DIR/analysis/classify_*``.

`input_mode="latent"` is not the study's setting: the images are first encoded with the
sweep's own model's VAE, and the network (the same CNN, plus a linear layer on the latent
itself) can start from each seed's initial noise as a matched filter (`init_from_noise`). It
uses knowledge of the generator; the pixel CNN and the probe are still trained beside it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from torch import nn

from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

INPUT_MODES = ("pixels", "latent")
PRODUCER = "classify"
VERSION = "1"
Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): called as images load and as each network trains."""


@dataclass(frozen=True)
class ClassifySpec:
    """Settings of the seed classifier; saved into every table it writes."""

    train_set: str | None = None
    """Prompt set (the prompts' `set` column) to train on; with `test_set`, replaces `split`."""
    test_set: str | None = None
    split: float = 0.5
    """Without sets: the fraction of prompts (drawn with `split_seed`) to train on."""
    split_seed: int = 0
    val_fraction: float = 0.1
    """Fraction of the training prompts held out for validation (picks the epoch); 0 for none."""
    size: int = 16
    """Images are resized (box filter) to size × size before the network sees them."""
    width: int = 64
    """Channels of the first convolution (doubling per level up to 4×)."""
    epochs: int = 8
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 5e-4
    dropout: float = 0.2
    seed: int = 0
    """Seed of the weights' initialisation and of the batch order."""
    curve: tuple[int, ...] = (4, 8, 16, 32)
    """Training images per seed for the learning curve (all of them is always a point)."""
    probe_size: int = 16
    """The linear probe sees pixels averaged down to probe_size × probe_size × 3."""
    probe_c: float = 0.1
    """Inverse L2 strength of the probe's logistic regression."""
    top_pairs: int = 10
    n_boot: int = 1000
    """Bootstrap resamples of the test prompts for the accuracy intervals."""
    input_mode: str = "pixels"
    """What the network sees: "pixels" (the study's setting) or "latent" (the VAE encoding)."""
    init_from_noise: bool = False
    """Latent input only: start the linear layer on the latent as each seed's initial noise."""

    def __post_init__(self) -> None:
        if (self.train_set is None) != (self.test_set is None):
            raise SeedscopeError("give both --train-set and --test-set, or neither (then --split).")
        if self.train_set is not None and self.train_set == self.test_set:
            raise SeedscopeError(
                f"--train-set and --test-set are both {self.train_set!r}; "
                "the classifier must be tested on prompts it never saw."
            )
        if not 0.0 < self.split < 1.0:
            raise SeedscopeError(f"--split must lie strictly between 0 and 1, not {self.split}.")
        if not 0.0 <= self.val_fraction < 1.0:
            raise SeedscopeError(f"--val-fraction must lie in [0, 1), not {self.val_fraction}.")
        for name in ("size", "width", "epochs", "batch_size", "probe_size"):
            if int(getattr(self, name)) < 1:
                raise SeedscopeError(f"--{name.replace('_', '-')} must be at least 1.")
        if self.size < 4:
            raise SeedscopeError(f"--size must be at least 4 pixels, not {self.size}.")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise SeedscopeError(f"--lr must be a positive number, not {self.lr}.")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise SeedscopeError(f"the weight decay must be at least 0, not {self.weight_decay}.")
        if not 0.0 <= self.dropout < 1.0:
            raise SeedscopeError(f"the dropout must lie in [0, 1), not {self.dropout}.")
        if self.input_mode not in INPUT_MODES:
            raise SeedscopeError(
                f"unknown --input {self.input_mode!r}; use {' or '.join(INPUT_MODES)}."
            )
        if self.init_from_noise and self.input_mode != "latent":
            raise SeedscopeError("--init-from-noise needs --input latent (the noise is a latent).")
        if any(n < 1 for n in self.curve):
            raise SeedscopeError("the learning-curve points must be at least 1 image per seed.")
        object.__setattr__(self, "curve", tuple(sorted({int(n) for n in self.curve})))

    def settings(self) -> dict[str, Any]:
        """The settings as a JSON-friendly dict (what the outputs record)."""
        out = asdict(self)
        out["curve"] = list(self.curve)
        return out


# --- Splits -----------------------------------------------------------------------------------


def split_prompts(prompts: pd.DataFrame, spec: ClassifySpec) -> dict[str, np.ndarray]:
    """Prompt ids of the train, val and test sides: by the `set` column, or a seeded split.

    `prompts` has one row per prompt (`prompt_id`, and `set` where the sweep has sets). The
    validation prompts are drawn from the training side; no prompt is on two sides.
    """
    ids = np.sort(prompts["prompt_id"].to_numpy(np.int64))
    if spec.train_set is not None:
        sets = prompts["set"] if "set" in prompts else pd.Series([None] * len(prompts))
        names = sorted({str(s) for s in sets.dropna()})
        for name in (spec.train_set, spec.test_set):
            if name not in names:
                have = f"its sets are {', '.join(names)}" if names else "its prompts have no set"
                raise SeedscopeError(f"the sweep has no prompt set {name!r} ({have}).")
        by_set = prompts.set_index("prompt_id")["set"]
        train = np.sort(by_set.index[by_set == spec.train_set].to_numpy(np.int64))
        test = np.sort(by_set.index[by_set == spec.test_set].to_numpy(np.int64))
        how = f"sets {spec.train_set!r}/{spec.test_set!r}"
    else:
        perm = np.random.default_rng(spec.split_seed).permutation(ids)
        n_train = round(spec.split * len(ids))
        train, test = np.sort(perm[:n_train]), np.sort(perm[n_train:])
        how = f"--split {spec.split}"
    n_val = max(1, round(spec.val_fraction * len(train))) if spec.val_fraction > 0 else 0
    perm = np.random.default_rng([spec.split_seed, 1]).permutation(train)
    val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    if len(train) < 1 or len(test) < 1:
        raise SeedscopeError(
            f"too few prompts to split: {len(ids)} prompts give {len(train)} training, "
            f"{len(val)} validation and {len(test)} test prompts with {how}; each side needs "
            "at least one (sweep more prompts or change the split)."
        )
    return {"train": train, "val": val, "test": test}


# --- Images -----------------------------------------------------------------------------------


def _iter_images(sweep: Any) -> Any:
    """(prompt_id, seed, PIL image) for every image of a sweep, in storage order."""
    from seedscope.store import decode_png

    for batch in sweep.iter_batches(["prompt_id", "seed", "png"], batch_size=256):
        pids = batch.column("prompt_id").to_pylist()
        seeds = batch.column("seed").to_pylist()
        for pid, seed, png in zip(pids, seeds, batch.column("png").to_pylist(), strict=True):
            yield int(pid), int(seed), decode_png(png)


def _box(image: Any, size: int) -> np.ndarray:
    from PIL import Image

    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BOX)
    return np.asarray(image)


def _sorted_keys(keys: list[tuple[int, int]], sweep: Any) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.DataFrame(keys, columns=["prompt_id", "seed"])
    order = np.lexsort((frame["seed"].to_numpy(), frame["prompt_id"].to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    frame["set"] = frame["prompt_id"].map(_prompt_sets(sweep))
    return frame, order


def load_pixels(
    sweep: Any, size: int, progress: Progress | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Every image of a sweep as uint8 (N, size, size, 3), sorted by (prompt_id, seed).

    Returns the keys (prompt_id, seed, set) and the pixels; images of another size are
    resized with a box filter.
    """
    total = int(sweep.keys().num_rows)
    keys: list[tuple[int, int]] = []
    pixels = np.empty((total, size, size, 3), np.uint8)
    for i, (pid, seed, image) in enumerate(_iter_images(sweep)):
        pixels[i] = _box(image, size)
        keys.append((pid, seed))
        if progress and (i + 1) % 256 == 0:
            progress("images", i + 1, total)
    if progress:
        progress("images", len(keys), total)
    frame, order = _sorted_keys(keys, sweep)
    return frame, pixels[: len(keys)][order]


def load_latents(
    sweep: Any,
    encode: Callable[[np.ndarray], torch.Tensor],
    size: int,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Every image's VAE latent (float32 N×h×w×C, channels last) and its size × size pixels.

    `encode` maps uint8 (B, H, W, 3) images at the sweep's own size to latents (B, C, h, w);
    sorted by (prompt_id, seed) like `load_pixels`, whose pixels these are.
    """
    total = int(sweep.keys().num_rows)
    keys: list[tuple[int, int]] = []
    pixels = np.empty((total, size, size, 3), np.uint8)
    latents: list[np.ndarray] = []
    pending: list[np.ndarray] = []

    def flush() -> None:
        z = encode(np.stack(pending)).detach().to("cpu", torch.float32)
        latents.append(z.permute(0, 2, 3, 1).contiguous().numpy())
        pending.clear()
        if progress:
            progress("encode", len(keys), total)

    for i, (pid, seed, image) in enumerate(_iter_images(sweep)):
        pending.append(np.asarray(image.convert("RGB")))
        pixels[i] = _box(image, size)
        keys.append((pid, seed))
        if len(pending) == batch_size:
            flush()
    if pending:
        flush()
    frame, order = _sorted_keys(keys, sweep)
    return frame, pixels[: len(keys)][order], np.concatenate(latents)[order]


def _prompt_sets(sweep: Any) -> dict[int, str | None]:
    """prompt_id -> set name (None where the sweep has no sets)."""
    try:
        table = sweep.prompts()
    except (OSError, FileNotFoundError):
        return {}
    if "set" not in table.column_names:
        return {}
    ids = table.column("prompt_id").to_pylist()
    return dict(zip(ids, table.column("set").to_pylist(), strict=True))


def downsample(pixels: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, H, W, 3) averaged down to float32 (N, size·size·3) in [0, 1] (area pooling)."""
    out = []
    for k in range(0, len(pixels), 1024):
        x = torch.from_numpy(pixels[k : k + 1024]).permute(0, 3, 1, 2).float() / 255.0
        x = nn.functional.adaptive_avg_pool2d(x, size)
        out.append(x.permute(0, 2, 3, 1).reshape(len(x), -1).numpy())
    return np.concatenate(out) if out else np.zeros((0, size * size * 3), np.float32)


# --- The network ------------------------------------------------------------------------------


class SeedNet(nn.Module):
    """A small CNN: stride-2 conv-BN-ReLU levels down to 4×4, then dropout and a linear layer.

    No global pooling: where a pattern sits in the image is part of a seed's fingerprint.
    Inputs are NCHW floats (pixels in 0..255, or latents); the training set's channel mean and
    std are buffers. With `skip` (latent input) a second linear layer sees the raw flattened
    input itself, times the buffer `skip_scale`: where the seed's initial noise still lies.
    """

    mean: torch.Tensor
    std: torch.Tensor
    skip_scale: torch.Tensor

    def __init__(
        self,
        n_classes: int,
        size: int | tuple[int, int] = 16,
        width: int = 64,
        dropout: float = 0.2,
        in_channels: int = 3,
        skip: bool = False,
    ):
        super().__init__()
        self.n_classes = n_classes
        self.in_channels = in_channels
        h, w = (size, size) if isinstance(size, int) else size
        self.register_buffer("mean", torch.zeros(1, in_channels, 1, 1))
        self.register_buffer("std", torch.ones(1, in_channels, 1, 1))
        layers: list[nn.Module] = []
        c_in, c_out, side_h, side_w = in_channels, width, h, w
        while max(side_h, side_w) > 4:
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in, c_out = c_out, min(2 * c_out, 4 * width)
            side_h, side_w = (side_h + 1) // 2, (side_w + 1) // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in * side_h * side_w, n_classes)
        )
        self.skip = nn.Linear(in_channels * h * w, n_classes) if skip else None
        self.register_buffer("skip_scale", torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of (N, C, H, W) inputs (pixels in 0..255, or latents)."""
        out = self.head(self.features((x - self.mean) / self.std))
        if self.skip is not None:
            out = out + self.skip(x.flatten(1) * self.skip_scale)
        return out

    def init_matched_filter(self, noise: torch.Tensor) -> None:
        """Start as a matched filter: skip rows = each class's unit noise, the CNN head at zero.

        The logits are then cos(x, noise_k) · ‖x‖ · skip_scale, which with skip_scale =
        √d / ‖x‖ (typical) is each seed's correlation in standard-normal units.
        """
        if self.skip is None:
            raise ValueError("init_matched_filter needs a network built with skip=True")
        unit = noise.reshape(noise.shape[0], -1).float()
        unit = unit / unit.norm(dim=1, keepdim=True).clamp_min(1e-12)
        with torch.no_grad():
            self.skip.weight.copy_(unit)
            self.skip.bias.zero_()
            last = self.head[-1]
            assert isinstance(last, nn.Linear)
            last.weight.zero_()
            last.bias.zero_()


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _batch(pixels: np.ndarray, idx: np.ndarray | slice, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(pixels[idx]).to(device).permute(0, 3, 1, 2).float()


@torch.inference_mode()
def predict_logits(
    model: nn.Module, pixels: np.ndarray, device: str | torch.device = "cpu", batch_size: int = 256
) -> np.ndarray:
    """The network's logits for uint8 (N, H, W, 3) pixels, float32 (N, n_classes)."""
    device = torch.device(device)
    model.eval()
    out = [
        model(_batch(pixels, slice(k, k + batch_size), device)).float().cpu().numpy()
        for k in range(0, len(pixels), batch_size)
    ]
    n_classes = int(getattr(model, "n_classes", 0))
    return np.concatenate(out) if out else np.zeros((0, n_classes), np.float32)


def _accuracy(model: nn.Module, data: tuple[np.ndarray, np.ndarray], device: torch.device) -> float:
    x, y = data
    if len(y) == 0:
        return float("nan")
    return float(np.mean(predict_logits(model, x, device).argmax(1) == y))


def train_seed_net(
    x_train: np.ndarray,
    y_train: np.ndarray,
    n_classes: int,
    spec: ClassifySpec,
    device: str | torch.device = "cpu",
    val: tuple[np.ndarray, np.ndarray] | None = None,
    test: tuple[np.ndarray, np.ndarray] | None = None,
    steps: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    init_noise: torch.Tensor | None = None,
) -> tuple[SeedNet, pd.DataFrame]:
    """Train SeedNet (AdamW, one-cycle learning rate, cross-entropy); keep the best-val epoch.

    `x_train` is channels-last: uint8 pixels (N, H, W, 3) or float latents (N, h, w, C); with
    `spec.input_mode == "latent"` the network has the linear skip layer on its input, and
    `init_noise` (n_classes × C·h·w, each class's initial noise) starts it as a matched filter,
    measured before any step as epoch 0. `steps` (default: `spec.epochs` passes over `x_train`)
    is split into `spec.epochs` equal "epochs" at whose ends val/test accuracy is measured; the
    weights of the epoch with the best validation accuracy (the last epoch without `val`; on a
    tie the later one, or with `init_noise` the earlier one) are returned with the history.
    """
    device = torch.device(device)
    torch.manual_seed(spec.seed)
    rng = np.random.default_rng(spec.seed)
    channels = int(x_train.shape[-1])
    side = (int(x_train.shape[1]), int(x_train.shape[2]))
    skip = spec.input_mode == "latent"
    model = SeedNet(n_classes, side, spec.width, spec.dropout, channels, skip).to(device)
    sample = x_train[rng.choice(len(x_train), min(len(x_train), 4096), replace=False)]
    flat = sample.reshape(-1, channels).astype(np.float64)
    floor = 1.0 if x_train.dtype == np.uint8 else 1e-6
    view = (1, channels, 1, 1)
    model.mean.copy_(torch.tensor(flat.mean(0), dtype=torch.float32).view(view))
    model.std.copy_(torch.tensor(flat.std(0) + floor, dtype=torch.float32).view(view))
    if skip:
        norms = np.linalg.norm(sample.reshape(len(sample), -1).astype(np.float64), axis=1)
        typical = float(np.median(norms)) or 1.0
        model.skip_scale.fill_(math.sqrt(flat.size / len(sample)) / typical)
    if init_noise is not None:
        model.init_matched_filter(init_noise.to(device))

    bs = min(spec.batch_size, len(x_train))
    total = steps or spec.epochs * math.ceil(len(x_train) / bs)
    ends = {max(1, round(total * (e + 1) / spec.epochs)): e + 1 for e in range(spec.epochs)}
    groups: list[dict[str, Any]] = [{"params": [], "lr": spec.lr}]
    for name, param in model.named_parameters():
        if not name.startswith("skip."):
            groups[0]["params"].append(param)
    if model.skip is not None:
        # Adam steps every weight by about lr: scaled to the skip layer's own weights, whose
        # rows are unit vectors of d entries (about 1/√d each), so that fine-tuning moves the
        # matched filter by the same relative amount as the convolutions.
        skip_lr = spec.lr / math.sqrt(model.skip.in_features)
        groups.append({"params": list(model.skip.parameters()), "lr": skip_lr})
    opt = torch.optim.AdamW(groups, lr=spec.lr, weight_decay=spec.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[g["lr"] for g in groups], total_steps=total
    )
    y_all = torch.from_numpy(y_train.astype(np.int64))
    order, pos = rng.permutation(len(x_train)), 0
    rows: list[dict[str, Any]] = []
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    seen = correct = 0
    loss_sum = 0.0
    start = time.perf_counter()
    if init_noise is not None:
        # Epoch 0: the matched filter itself, before any training step.
        rows.append(
            {
                "epoch": 0,
                "step": 0,
                "train_loss": float("nan"),
                "train_accuracy": _accuracy(model, (x_train, y_train), device),
                "val_accuracy": _accuracy(model, val, device) if val else float("nan"),
                "test_accuracy": _accuracy(model, test, device) if test else float("nan"),
                "seconds": 0.0,
            }
        )
        if val and len(val[1]):
            best = (rows[0]["val_accuracy"], _state(model))
    model.train()
    for step in range(1, total + 1):
        if pos + bs > len(order):
            order, pos = rng.permutation(len(x_train)), 0
        idx = np.sort(order[pos : pos + bs])
        pos += bs
        x, y = _batch(x_train, idx, device), y_all[idx].to(device)
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        seen += len(idx)
        correct += int((logits.argmax(1) == y).sum())
        loss_sum += float(loss.detach()) * len(idx)
        if progress:
            progress(step, total)
        if step in ends:
            row = {
                "epoch": ends[step],
                "step": step,
                "train_loss": loss_sum / seen,
                "train_accuracy": correct / seen,
                "val_accuracy": _accuracy(model, val, device) if val else float("nan"),
                "test_accuracy": _accuracy(model, test, device) if test else float("nan"),
                "seconds": time.perf_counter() - start,
            }
            rows.append(row)
            log.info("epoch %d: %s", row["epoch"], row)
            score = row["val_accuracy"] if val and len(val[1]) else float(step)
            # Ties: the later epoch, but with the noise start the earlier (nearer the filter).
            if best is None or score > best[0] or (score == best[0] and init_noise is None):
                best = (score, _state(model))
            seen = correct = 0
            loss_sum = 0.0
            model.train()
    history = pd.DataFrame(rows)
    assert best is not None
    model.load_state_dict(best[1])
    model.eval()
    chosen = history["val_accuracy"] if val and len(val[1]) else history["step"]
    history["selected"] = False
    pick = chosen.idxmax() if init_noise is not None else chosen[::-1].idxmax()
    history.loc[int(pick), "selected"] = True
    return model, history


# --- The linear probe -------------------------------------------------------------------------


def linear_probe(
    f_train: np.ndarray, y_train: np.ndarray, f_test: np.ndarray, c: float = 0.1
) -> np.ndarray:
    """Predicted labels of multinomial logistic regression on standardised features (sklearn)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    probe.fit(f_train, y_train)
    return np.asarray(probe.predict(f_test))


# --- Summaries of predictions -----------------------------------------------------------------


def wilson_interval(
    k: np.ndarray, n: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of binomial proportions k / n (Wilson 1927)."""
    from scipy.stats import norm

    k = np.asarray(k, np.float64)
    n = np.asarray(n, np.float64)
    z = float(norm.ppf(0.5 + level / 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def per_seed_accuracy(
    seed_true: np.ndarray, seed_pred: np.ndarray, seeds: Sequence[int]
) -> pd.DataFrame:
    """Per true seed: images, correct, accuracy and its 95% Wilson interval."""
    seed_true = np.asarray(seed_true)
    hit = np.asarray(seed_pred) == seed_true
    frame = pd.DataFrame({"seed": np.asarray(seeds, np.int64)})
    frame["n"] = [int(np.sum(seed_true == s)) for s in frame["seed"]]
    frame["correct"] = [int(np.sum(hit[seed_true == s])) for s in frame["seed"]]
    frame["accuracy"] = frame["correct"] / frame["n"].where(frame["n"] > 0)
    lo, hi = wilson_interval(frame["correct"].to_numpy(), frame["n"].to_numpy())
    frame["ci_low"], frame["ci_high"] = lo, hi
    return frame


def confused_pairs(seed_true: np.ndarray, seed_pred: np.ndarray, top: int = 10) -> pd.DataFrame:
    """The unordered seed pairs most often mistaken for each other (both directions counted)."""
    seed_true = np.asarray(seed_true, np.int64)
    seed_pred = np.asarray(seed_pred, np.int64)
    wrong = seed_true != seed_pred
    counts: dict[tuple[int, int], list[int]] = {}
    for t, p in zip(seed_true[wrong], seed_pred[wrong], strict=True):
        a, b = (int(t), int(p)) if t < p else (int(p), int(t))
        counts.setdefault((a, b), [0, 0])[0 if t == a else 1] += 1
    n_of = pd.Series(seed_true).value_counts()
    rows = [
        {
            "seed_a": a,
            "seed_b": b,
            "a_as_b": ab,
            "b_as_a": ba,
            "errors": ab + ba,
            "rate": (ab + ba) / int(n_of.get(a, 0) + n_of.get(b, 0)),
        }
        for (a, b), (ab, ba) in counts.items()
    ]
    columns = ["seed_a", "seed_b", "a_as_b", "b_as_a", "errors", "rate"]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sort_values(["errors", "seed_a", "seed_b"], ascending=[False, True, True])
    return frame.head(top).reset_index(drop=True).astype({c: "int64" for c in columns[:5]})


def prompt_bootstrap_ci(
    correct: np.ndarray,
    prompt_ids: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of accuracy, resampling prompts (the unit that varies) with replacement."""
    pids, inverse = np.unique(np.asarray(prompt_ids), return_inverse=True)
    if len(pids) == 0 or n_boot < 1:
        return float("nan"), float("nan")
    hits = np.bincount(inverse, weights=np.asarray(correct, np.float64), minlength=len(pids))
    sizes = np.bincount(inverse, minlength=len(pids)).astype(np.float64)
    draws = np.random.default_rng(seed).integers(0, len(pids), (n_boot, len(pids)))
    acc = hits[draws].sum(1) / sizes[draws].sum(1)
    lo, hi = np.quantile(acc, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


# --- The whole analysis -----------------------------------------------------------------------


@dataclass
class ClassifyResult:
    """What `classify` found: accuracies with intervals, the tables, the network."""

    spec: ClassifySpec
    seeds: list[int]
    prompts: dict[str, list[int]]
    test_accuracy: float
    test_ci: tuple[float, float]
    probe_accuracy: float
    probe_ci: tuple[float, float]
    best_epoch: int
    per_seed: pd.DataFrame
    pairs: pd.DataFrame
    curve: pd.DataFrame
    history: pd.DataFrame
    predictions: pd.DataFrame
    model: SeedNet
    seconds: dict[str, float]
    images: dict[str, int] = field(default_factory=dict)
    device: str = "cpu"
    paths: dict[str, str] = field(default_factory=dict)
    pixel_accuracy: float = float("nan")
    """The pixel CNN's test accuracy (the same as test_accuracy with pixel input)."""
    pixel_ci: tuple[float, float] = (float("nan"), float("nan"))
    latent_shape: tuple[int, ...] | None = None
    """(C, h, w) of the latents the network saw (latent input), else None."""
    vae_model: str | None = None
    """The model whose VAE encoded the images (latent input), else None."""

    @property
    def chance(self) -> float:
        """Accuracy of guessing: 1 / number of seeds."""
        return 1.0 / len(self.seeds)

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary (what `--json` prints)."""
        return {
            "input": self.spec.input_mode,
            "init_from_noise": self.spec.init_from_noise,
            "n_seeds": len(self.seeds),
            "chance": self.chance,
            "prompts": {k: len(v) for k, v in self.prompts.items()},
            "images": self.images,
            "test_accuracy": self.test_accuracy,
            "test_ci": list(self.test_ci),
            "probe_accuracy": self.probe_accuracy,
            "probe_ci": list(self.probe_ci),
            "pixel_cnn_accuracy": self.pixel_accuracy,
            "pixel_cnn_ci": list(self.pixel_ci),
            "latent_shape": list(self.latent_shape) if self.latent_shape else None,
            "vae_model": self.vae_model,
            "best_epoch": self.best_epoch,
            "history": _records(self.history),
            "curve": _records(self.curve),
            "confused_pairs": _records(self.pairs),
            "worst_seeds": _records(self.per_seed.nsmallest(5, "accuracy")),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "device": self.device,
            "settings": self.spec.settings(),
            "paths": self.paths,
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def _check_seeds(n: int) -> None:
    if n < 2:
        raise SeedscopeError(
            f"the sweep has {n} seed{'s' if n != 1 else ''}; "
            "a seed classifier needs at least two (sweep more seeds)."
        )


def check_device(device: str) -> torch.device:
    """The torch device named `device`, or a SeedscopeError if it is unknown or absent here."""
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise SeedscopeError(f"unknown --device {device!r}; use cpu, cuda, cuda:N or mps.") from err
    present = {
        "cpu": lambda: True,
        "cuda": torch.cuda.is_available,
        "mps": lambda: torch.backends.mps.is_available(),
    }.get(dev.type, lambda: True)
    if not present():
        raise SeedscopeError(f"--device {device!r} is not available on this machine; use cpu.")
    return dev


def classify(
    keys: pd.DataFrame,
    pixels: np.ndarray,
    spec: ClassifySpec,
    device: str = "cpu",
    progress: Progress | None = None,
    latents: np.ndarray | None = None,
    noise: Callable[[Sequence[int], tuple[int, ...]], torch.Tensor] | None = None,
) -> ClassifyResult:
    """Train and test the seed classifier on images keyed (prompt_id, seed[, set]).

    Train/val/test sides are disjoint in prompts (`split_prompts`); test accuracy has a
    bootstrap interval over test prompts; the linear probe and learning curve use the same
    sides. With `spec.input_mode == "latent"` the network sees `latents` (N, h, w, C, in the
    order of `keys`) and, with `spec.init_from_noise`, starts from `noise(seeds, (C, h, w))`
    (each seed's initial noise, flattened); the pixel CNN is then trained beside it on
    `pixels`. Pure over its inputs: nothing is written.
    """
    dev = check_device(device)
    latent = spec.input_mode == "latent"
    if latent and (latents is None or len(latents) != len(pixels)):
        raise SeedscopeError("latent input needs one latent per image (encode the images first).")
    if spec.init_from_noise and noise is None:
        raise SeedscopeError("--init-from-noise needs the seeds' initial noise.")
    seeds = sorted({int(s) for s in keys["seed"]})
    _check_seeds(len(seeds))
    prompts = keys.drop_duplicates("prompt_id")[["prompt_id", *(["set"] if "set" in keys else [])]]
    sides = split_prompts(prompts, spec)
    label = {s: i for i, s in enumerate(seeds)}
    y = keys["seed"].map(label).to_numpy(np.int64)
    pid = keys["prompt_id"].to_numpy(np.int64)
    masks = {k: np.isin(pid, v) for k, v in sides.items()}
    data = {k: (pixels[m], y[m]) for k, m in masks.items()}
    seconds: dict[str, float] = {}
    log.info(
        "classify: %d seeds, prompts train %d / val %d / test %d, images %s",
        len(seeds),
        *(len(sides[k]) for k in ("train", "val", "test")),
        {k: int(m.sum()) for k, m in masks.items()},
    )

    def bar(stage: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: progress(stage, done, total)) if progress else None

    # What the network sees: pixels, or latents (channels last, like the pixels).
    inputs = latents if latent and latents is not None else pixels
    x = {k: inputs[m] for k, m in masks.items()}
    shape = (int(inputs.shape[3]), int(inputs.shape[1]), int(inputs.shape[2]))
    init = noise(seeds, shape) if spec.init_from_noise and noise is not None else None

    # The network on all training prompts.
    t0 = time.perf_counter()
    model, history = train_seed_net(
        x["train"],
        data["train"][1],
        len(seeds),
        spec,
        dev,
        val=(x["val"], data["val"][1]) if len(data["val"][1]) else None,
        test=(x["test"], data["test"][1]),
        progress=bar("train"),
        init_noise=init,
    )
    seconds["train"] = time.perf_counter() - t0
    steps = int(history["step"].iloc[-1])
    history["chance"] = 1.0 / len(seeds)
    best_epoch = int(history.loc[history["selected"], "epoch"].iloc[0])
    logits = predict_logits(model, x["test"], dev)
    pred = logits.argmax(1)
    prob = torch.softmax(torch.from_numpy(logits), 1).numpy()
    pixel_pred = pred
    if latent:
        # The study's pixel CNN beside it, with the same settings.
        t0 = time.perf_counter()
        pixel_spec = replace(spec, input_mode="pixels", init_from_noise=False)
        pixel_model, _ = train_seed_net(
            *data["train"],
            len(seeds),
            pixel_spec,
            dev,
            val=data["val"] if len(data["val"][1]) else None,
            progress=bar("pixel CNN"),
        )
        pixel_pred = predict_logits(pixel_model, data["test"][0], dev).argmax(1)
        seconds["pixel_cnn"] = time.perf_counter() - t0

    # The linear probe on downsampled pixels.
    t0 = time.perf_counter()
    f_train = downsample(data["train"][0], spec.probe_size)
    f_test = downsample(data["test"][0], spec.probe_size)
    probe_pred = linear_probe(f_train, data["train"][1], f_test, spec.probe_c)
    seconds["probe"] = time.perf_counter() - t0

    seed_arr = np.asarray(seeds, np.int64)
    y_test, pid_test = data["test"][1], pid[masks["test"]]
    hit, probe_hit = pred == y_test, probe_pred == y_test
    test_acc, probe_acc = float(hit.mean()), float(probe_hit.mean())
    test_ci = prompt_bootstrap_ci(hit, pid_test, spec.n_boot, spec.seed)
    probe_ci = prompt_bootstrap_ci(probe_hit, pid_test, spec.n_boot, spec.seed)
    pixel_hit = pixel_pred == y_test
    pixel_ci = prompt_bootstrap_ci(pixel_hit, pid_test, spec.n_boot, spec.seed)

    # Learning curve: n training prompts (= images per seed), the same number of steps.
    t0 = time.perf_counter()
    n_all = len(sides["train"])
    order = np.random.default_rng([spec.split_seed, 2]).permutation(sides["train"])
    rows = []
    for n in [n for n in spec.curve if n < n_all]:
        m = np.isin(pid, order[:n])
        sub_y = y[m]
        sub_model, _ = train_seed_net(
            inputs[m],
            sub_y,
            len(seeds),
            spec,
            dev,
            val=(x["val"], data["val"][1]) if len(data["val"][1]) else None,
            steps=steps,
            progress=bar(f"curve {n}/seed"),
            init_noise=init,
        )
        c_hit = predict_logits(sub_model, x["test"], dev).argmax(1) == y_test
        p_hit = linear_probe(downsample(pixels[m], spec.probe_size), sub_y, f_test, spec.probe_c)
        rows.append(_curve_row(n, int(m.sum()), c_hit, p_hit == y_test, pid_test, spec))
    rows.append(_curve_row(n_all, int(masks["train"].sum()), hit, probe_hit, pid_test, spec))
    curve = pd.DataFrame(rows)
    curve["chance"] = 1.0 / len(seeds)
    seconds["curve"] = time.perf_counter() - t0

    per_seed = per_seed_accuracy(seed_arr[y_test], seed_arr[pred], seeds)
    per_seed["probe_accuracy"] = per_seed_accuracy(seed_arr[y_test], seed_arr[probe_pred], seeds)[
        "accuracy"
    ]
    if latent:
        per_seed["pixel_cnn_accuracy"] = per_seed_accuracy(
            seed_arr[y_test], seed_arr[pixel_pred], seeds
        )["accuracy"]
    predictions = keys.loc[masks["test"], ["prompt_id", "seed"]].reset_index(drop=True)
    predictions["role"] = "test"
    predictions["predicted"] = seed_arr[pred]
    predictions["probability"] = prob[np.arange(len(pred)), pred].astype(np.float32)
    predictions["probe_predicted"] = seed_arr[probe_pred]
    if latent:
        predictions["pixel_cnn_predicted"] = seed_arr[pixel_pred]
    return ClassifyResult(
        spec=spec,
        seeds=seeds,
        prompts={k: [int(p) for p in v] for k, v in sides.items()},
        test_accuracy=test_acc,
        test_ci=test_ci,
        probe_accuracy=probe_acc,
        probe_ci=probe_ci,
        best_epoch=best_epoch,
        per_seed=per_seed,
        pairs=confused_pairs(seed_arr[y_test], seed_arr[pred], spec.top_pairs),
        curve=curve,
        history=history,
        predictions=predictions,
        model=model,
        seconds=seconds,
        images={k: int(m.sum()) for k, m in masks.items()},
        device=str(dev),
        pixel_accuracy=float(pixel_hit.mean()),
        pixel_ci=pixel_ci,
        latent_shape=shape if latent else None,
    )


def _curve_row(
    n: int,
    n_images: int,
    hit: np.ndarray,
    probe_hit: np.ndarray,
    pid_test: np.ndarray,
    spec: ClassifySpec,
) -> dict[str, Any]:
    lo, hi = prompt_bootstrap_ci(hit, pid_test, spec.n_boot, spec.seed)
    plo, phi = prompt_bootstrap_ci(probe_hit, pid_test, spec.n_boot, spec.seed)
    return {
        "images_per_seed": n,
        "train_images": n_images,
        "accuracy": float(hit.mean()),
        "ci_low": lo,
        "ci_high": hi,
        "probe_accuracy": float(probe_hit.mean()),
        "probe_ci_low": plo,
        "probe_ci_high": phi,
    }


# --- Writing it into the sweep ----------------------------------------------------------------


def _inputs(sweep: Any, n_images: int) -> dict[str, Any]:
    """The input identity: the sweep's plan (hashed) and how many images it had."""
    plan = json.dumps(sweep.plan, sort_keys=True, default=str)
    return {"sweep_plan_sha256": hashlib.sha256(plan.encode()).hexdigest(), "images": n_images}


def save_seed_net(result: ClassifyResult, path: Path, identity: str) -> Path:
    """The network's weights as safetensors, with its seeds and settings in the metadata."""
    from safetensors.torch import save

    from seedscope.store import atomic_write_bytes

    state = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
    model = result.model
    meta = {
        "seedscope.identity": identity,
        "seeds": json.dumps(result.seeds),
        "size": str(result.spec.size),
        "width": str(result.spec.width),
        "dropout": str(result.spec.dropout),
        "input": result.spec.input_mode,
        "in_channels": str(model.in_channels),
        "skip": str(model.skip is not None),
    }
    if result.latent_shape is not None:
        meta["latent_shape"] = json.dumps(list(result.latent_shape))
    atomic_write_bytes(save(state, metadata=meta), path)
    return path


def load_seed_net(path: str | Path) -> tuple[SeedNet, list[int]]:
    """A network saved by `save_seed_net` and the seeds its outputs stand for."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), "pt") as handle:
            meta = handle.metadata() or {}
        seeds = [int(s) for s in json.loads(meta["seeds"])]
        side: int | tuple[int, int] = int(meta["size"])
        if "latent_shape" in meta:
            _, h, w = (int(n) for n in json.loads(meta["latent_shape"]))
            side = (h, w)
        model = SeedNet(
            len(seeds),
            side,
            int(meta["width"]),
            float(meta["dropout"]),
            int(meta.get("in_channels", 3)),
            meta.get("skip") == "True",
        )
        model.load_state_dict(load_file(str(path)))
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        raise SeedscopeError(
            f"{str(path)!r} is not a seed classifier saved by seedscope: {err}."
        ) from err
    return model.eval(), seeds


def plot_result(result: ClassifyResult, stem: Path) -> list[Path]:
    """Learning curve and per-epoch accuracy plots as PNG and SVG (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seedscope.store import atomic_write_bytes

    paths: list[Path] = []
    chance = result.chance
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    c = result.curve
    ax = axes[0]
    ax.errorbar(
        c["images_per_seed"],
        c["accuracy"],
        yerr=[c["accuracy"] - c["ci_low"], c["ci_high"] - c["accuracy"]],
        marker="o",
        capsize=3,
        label=f"CNN ({result.spec.input_mode}{', noise init' if result.spec.init_from_noise else ''})",
    )
    ax.plot(c["images_per_seed"], c["probe_accuracy"], marker="s", label="linear probe")
    ax.axhline(chance, color="gray", linestyle="--", label=f"chance (1/{len(result.seeds)})")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(c["images_per_seed"]), [str(n) for n in c["images_per_seed"]])
    ax.minorticks_off()
    ax.set_xlabel("training images per seed")
    ax.set_ylabel("test accuracy (unseen prompts)")
    ax.set_ylim(0, 1.02)
    ax.set_title("learning curve")
    ax.legend(loc="lower right")
    h = result.history
    ax = axes[1]
    for col, name in (
        ("train_accuracy", "train"),
        ("val_accuracy", "val"),
        ("test_accuracy", "test"),
    ):
        ax.plot(h["epoch"], h[col], marker="o", label=name)
    ax.axhline(chance, color="gray", linestyle="--", label="chance")
    ax.axvline(result.best_epoch, color="black", linestyle=":", label="selected (best val)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{len(result.seeds)}-way seed classifier")
    ax.legend(loc="lower right")
    fig.tight_layout()
    import io

    for ext in ("png", "svg"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=ext, dpi=120)
        path = stem.with_suffix(f".{ext}")
        atomic_write_bytes(buffer.getvalue(), path)
        paths.append(path)
    plt.close(fig)
    return paths


def sweep_model(plan: dict[str, Any]) -> str:
    """The model a sweep was made with, as `resolve_model` takes it (what identify uses)."""
    if plan.get("model_kind") == "world":
        return "world"
    return str(plan.get("model_path") or plan["model"])


def _latent_tools(
    sweep: Any, device: str, need_noise: bool
) -> tuple[
    Callable[[np.ndarray], torch.Tensor],
    Callable[[Sequence[int], tuple[int, ...]], torch.Tensor],
    str,
]:
    """The sweep's own model's VAE encoder, its seeds' initial noise, and the model's name."""
    from seedscope.analysis.identify import candidate_noise
    from seedscope.analysis.inversion import encode_latents, pixels_to_tensor
    from seedscope.models import load_pipeline, parse_dtype, resolve_model

    plan = sweep.plan
    model = sweep_model(plan)
    gen_device = str(plan.get("generator_device") or "cpu")
    gen_dtype = parse_dtype(str(plan.get("dtype") or "float32"))
    if need_noise:
        try:
            check_device(gen_device)
        except SeedscopeError as err:
            raise SeedscopeError(
                f"the sweep drew its noise on {gen_device!r}, which this machine lacks; "
                "--init-from-noise cannot redraw it here."
            ) from err
    ref = resolve_model(model)
    recorded = plan.get("model_hash")
    if recorded and ref.content_hash and recorded != ref.content_hash:
        raise SeedscopeError(
            f"the model {model!r} found here is not the one the sweep was made with "
            "(its content hash differs); --input latent needs the sweep's own VAE."
        )
    pipe = load_pipeline(ref, torch.float32, str(check_device(device)))

    @torch.inference_mode()
    def encode(images: np.ndarray) -> torch.Tensor:
        return encode_latents(pipe, pixels_to_tensor(list(images)))

    def noise(seeds: Sequence[int], shape: tuple[int, ...]) -> torch.Tensor:
        return candidate_noise(seeds, shape, gen_device, gen_dtype)

    return encode, noise, model


def run_classify(
    sweep: Any,
    spec: ClassifySpec = ClassifySpec(),
    device: str = "cpu",
    progress: Progress | None = None,
    plots: bool = True,
) -> ClassifyResult:
    """Classify the seeds of a sweep's images; writes DIR/analysis/classify_* (tables, weights, plots)."""
    from seedscope.analysis.io import analysis_identity, write_analysis
    from seedscope.store import Sweep, open_sweep

    sw = sweep if isinstance(sweep, Sweep) else open_sweep(sweep)
    t0 = time.perf_counter()
    check_device(device)
    # Refuse bad input before decoding any image.
    index = sw.keys().to_pandas()
    if len(index) == 0:
        raise SeedscopeError(
            f"the sweep {str(sw.path)!r} has no images yet; run `seedscope sweep`."
        )
    _check_seeds(index["seed"].nunique())
    prompts = pd.DataFrame({"prompt_id": np.unique(index["prompt_id"])})
    prompts["set"] = prompts["prompt_id"].map(_prompt_sets(sw))
    split_prompts(prompts, spec)
    first = sw.image(int(index["prompt_id"].iloc[0]), int(index["seed"].iloc[0]))
    side = min(first.size)
    if spec.size > side:
        raise SeedscopeError(
            f"--size {spec.size} is larger than the sweep's {first.size[0]}x{first.size[1]} "
            f"images; use at most {side}."
        )
    if spec.input_mode == "latent":
        encode, noise, vae_model = _latent_tools(sw, device, spec.init_from_noise)
        keys, pixels, latents = load_latents(sw, encode, spec.size, progress=progress)
    else:
        keys, pixels = load_pixels(sw, spec.size, progress)
        latents, noise, vae_model = None, None, None
    load_s = time.perf_counter() - t0
    result = classify(keys, pixels, spec, device, progress, latents=latents, noise=noise)
    result.vae_model = vae_model
    result.seconds = {"load": load_s, **result.seconds}
    settings, inputs = spec.settings(), _inputs(sw, len(keys))
    if vae_model is not None:
        inputs["vae_model"] = vae_model
    tables = {
        "classify_seeds": result.per_seed,
        "classify_pairs": result.pairs,
        "classify_curve": result.curve,
        "classify_history": result.history,
        "classify_predictions": result.predictions,
    }
    paths = {
        name: str(
            write_analysis(
                sw, name, pa.Table.from_pandas(frame, preserve_index=False), settings, inputs
            )
        )
        for name, frame in tables.items()
    }
    model_id = analysis_identity("classify_model", settings, inputs)
    stem = sw.path / "analysis" / f"classify_model-{model_id.digest[:12]}"
    paths["weights"] = str(
        save_seed_net(result, stem.with_suffix(".safetensors"), model_id.to_json())
    )
    if plots:
        try:
            plot_id = analysis_identity("classify_plot", settings, inputs)
            for p in plot_result(result, stem.with_name(f"classify_plot-{plot_id.digest[:12]}")):
                paths[f"plot_{p.suffix[1:]}"] = str(p)
        except ImportError:
            log.warning("matplotlib is not installed; no plots (pip install 'seedscope[plots]').")
    result.seconds["total"] = time.perf_counter() - t0
    result.paths = paths
    return result
