"""Detectors that read a world scene: a small multi-task CNN trained on rendered scenes."""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from seedscope.world.grammar import CATEGORIES, COLOURS, MODES, sample_scene
from seedscope.world.render import render_with_mask

log = logging.getLogger(__name__)

DETECTOR_PATH = Path(__file__).parent / "weights" / "detector.safetensors"
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)
FEATURE_DIM = 128


@dataclass(frozen=True)
class Detection:
    """What the detector reads off one image (the main object and the unmentioned modes)."""

    category: str
    category_p: float
    colour: str
    colour_p: float
    mask: np.ndarray  # 64x64 bool
    centroid_x: float  # in [0, 1], left to right
    centroid_y: float  # in [0, 1], top to bottom
    area: float  # fraction of the image
    grayscale: float  # probabilities of the modes
    border: float
    sky: float
    text: float

    def flags(self, threshold: float = 0.5) -> dict[str, bool]:
        """The modes as booleans."""
        return {m: bool(getattr(self, m) >= threshold) for m in MODES}


def _block(cin: int, cout: int, convs: int = 2) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [
            nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


class DetectorNet(nn.Module):
    """Small U-Net-like CNN: category, colour and mode heads on pooled features, a mask head."""

    def __init__(self) -> None:
        super().__init__()
        self.e1, self.e2 = _block(3, 16, convs=1), _block(16, 32, convs=1)
        self.e3, self.e4 = _block(32, 64), _block(64, 128)
        self.d3, self.d2 = _block(128 + 64, 64, convs=1), _block(64 + 32, 32, convs=1)
        self.mask_head = nn.Conv2d(32 + 16, 1, 3, padding=1)
        self.proj = nn.Linear(128 * 2, FEATURE_DIM)
        self.heads = nn.Linear(FEATURE_DIM, len(CATEGORIES) + len(COLOURS) + len(MODES))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (B,3,64,64) in [-1,1] -> (logits, mask logits (B,1,64,64), features)."""
        f1 = self.e1(x)  # 64
        f2 = self.e2(F.max_pool2d(f1, 2))  # 32
        f3 = self.e3(F.max_pool2d(f2, 2))  # 16
        f4 = self.e4(F.max_pool2d(f3, 2))  # 8
        pooled = torch.cat([f4.mean((2, 3)), f4.amax((2, 3))], 1)
        feats = F.relu(self.proj(pooled))
        u3 = self.d3(torch.cat([F.interpolate(f4, scale_factor=2.0), f3], 1))  # 16
        u2 = self.d2(torch.cat([F.interpolate(u3, scale_factor=2.0), f2], 1))  # 32
        m = self.mask_head(torch.cat([F.interpolate(u2, scale_factor=2.0), f1], 1))  # 64
        return self.heads(feats), m, feats


def to_tensor(images: Sequence[Image.Image | np.ndarray]) -> torch.Tensor:
    """Images (any size) -> (B,3,64,64) float tensor in [-1, 1]."""
    arrs = []
    for im in images:
        pil = im if isinstance(im, Image.Image) else Image.fromarray(np.asarray(im))
        pil = pil.convert("RGB")
        if pil.size != (64, 64):
            pil = pil.resize((64, 64), Image.Resampling.BICUBIC)
        arrs.append(np.asarray(pil))
    return torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).float() / 127.5 - 1


class WorldDetector:
    """Reads category, colour, mask, centroid, area and the grayscale/border/sky/text modes."""

    def __init__(self, path: Path | None = None, net: DetectorNet | None = None):
        if net is None:
            from safetensors.torch import load_file

            p = path or DETECTOR_PATH
            if not p.is_file():
                from seedscope.errors import SeedscopeError

                raise SeedscopeError(
                    f"the world detector weights are missing at {p}; run `seedscope world train --part detector`."
                )
            net = DetectorNet()
            net.load_state_dict(load_file(str(p)))
        self.net = net.eval()

    @torch.no_grad()
    def _run(self, images: Sequence[Image.Image | np.ndarray]) -> tuple[torch.Tensor, ...]:
        outs = [self.net(to_tensor(images[i : i + 256])) for i in range(0, len(images), 256)]
        return tuple(torch.cat([o[k] for o in outs]) for k in range(3))

    def features(self, images: Sequence[Image.Image | np.ndarray]) -> np.ndarray:
        """Penultimate-layer features (B, 128): the fast extractor suited to the world."""
        return self._run(images)[2].numpy()

    def detect(self, images: Sequence[Image.Image | np.ndarray]) -> list[Detection]:
        """One Detection per image."""
        if len(images) == 0:
            return []
        logits, mask_logits, _ = self._run(images)
        nc, nk = len(CATEGORIES), len(COLOURS)
        pc = logits[:, :nc].softmax(1)
        pk = logits[:, nc : nc + nk].softmax(1)
        pm = logits[:, nc + nk :].sigmoid()
        masks = (mask_logits[:, 0] > 0).numpy()
        ys, xs = np.mgrid[0:64, 0:64]
        out = []
        for i in range(len(images)):
            m = masks[i]
            area = float(m.mean())
            cx = float((xs[m].mean() + 0.5) / 64) if m.any() else math.nan
            cy = float((ys[m].mean() + 0.5) / 64) if m.any() else math.nan
            out.append(
                Detection(
                    category=CATEGORIES[int(pc[i].argmax())],
                    category_p=float(pc[i].max()),
                    colour=COLOUR_NAMES[int(pk[i].argmax())],
                    colour_p=float(pk[i].max()),
                    mask=m,
                    centroid_x=cx,
                    centroid_y=cy,
                    area=area,
                    **{mode: float(pm[i, j]) for j, mode in enumerate(MODES)},
                )
            )
        return out


def render_labelled(n: int, seed: int) -> dict[str, np.ndarray]:
    """Render n labelled scenes: images, masks, category, colour and mode targets."""
    rng = np.random.default_rng(seed)
    imgs, masks, cats, cols, modes = [], [], [], [], []
    for _ in range(n):
        scene, _cap = sample_scene(rng)
        img, m = render_with_mask(scene)
        imgs.append(img)
        masks.append(m)
        cats.append(CATEGORIES.index(scene.obj.category))
        cols.append(COLOUR_NAMES.index(scene.obj.colour))
        modes.append(list(scene.modes().values()))
    return {
        "images": np.stack(imgs),
        "masks": np.stack(masks),
        "category": np.array(cats),
        "colour": np.array(cols),
        "modes": np.array(modes, dtype=np.float32),
    }


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Blur and noise so the detector also reads the softer images a diffusion model makes."""
    b = x.shape[0]
    k = torch.tensor([1.0, 2.0, 1.0]) / 4
    kernel = (k[:, None] * k[None, :]).expand(3, 1, 3, 3)
    blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
    amount = torch.rand(b, 1, 1, 1, generator=gen)
    x = x * (1 - amount) + blurred * amount
    return x + torch.randn(x.shape, generator=gen) * 0.04 * torch.rand(b, 1, 1, 1, generator=gen)


def train_detector(
    out: Path,
    n_train: int = 12_000,
    steps: int = 4_000,
    batch: int = 32,
    seed: int = 0,
    say: Callable[[str], None] | None = None,
) -> DetectorNet:
    """Train the detector on rendered scenes (cached beside out) and save it as safetensors."""
    from safetensors.torch import save_file

    say = say or log.info
    cache = out.with_name(f"detector-data-{n_train}-{seed}.npz")
    if cache.exists():
        data = dict(np.load(cache))
    else:
        t0 = time.time()
        data = render_labelled(n_train, seed)
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **data)  # type: ignore[arg-type]
        say(f"rendered {n_train} labelled scenes in {time.time() - t0:.0f}s")
    x_all = torch.from_numpy(data["images"]).permute(0, 3, 1, 2)
    m_all = torch.from_numpy(data["masks"]).float()[:, None]
    cat_all, col_all = torch.from_numpy(data["category"]), torch.from_numpy(data["colour"])
    mode_all = torch.from_numpy(data["modes"])
    # Painted words are rare (8%) and small: draw text scenes 3x as often, or it learns "no text".
    weights = 1.0 + 2.0 * mode_all[:, MODES.index("text")]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = DetectorNet()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    nc, nk = len(CATEGORIES), len(COLOURS)
    net.train()
    losses: list[float] = []
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
        idx = torch.multinomial(weights, batch, replacement=True, generator=gen)
        x = _augment(x_all[idx].float() / 127.5 - 1, gen)
        logits, mlog, _ = net(x)
        gray = mode_all[idx, 0] > 0.5
        col_loss = F.cross_entropy(logits[:, nc : nc + nk], col_all[idx], reduction="none")
        loss = (
            F.cross_entropy(logits[:, :nc], cat_all[idx])
            # Colour is unknowable in a grayscale scene.
            + (col_loss * (~gray).float()).mean()
            + F.binary_cross_entropy_with_logits(logits[:, nc + nk :], mode_all[idx])
            + F.binary_cross_entropy_with_logits(mlog, m_all[idx])
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if (step + 1) % 250 == 0:
            say(f"detector step {step + 1}/{steps} loss {np.mean(losses):.4f}")
            losses = []
    net.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out))
    return net


def accuracy(detector: WorldDetector, n: int = 500, seed: int = 12345) -> dict[str, Any]:
    """Measured accuracy of the detector on freshly rendered scenes (truth known)."""
    data = render_labelled(n, seed)
    dets = detector.detect(list(data["images"]))
    gray = data["modes"][:, 0] > 0.5
    cat = np.mean(
        [CATEGORIES[c] == d.category for c, d in zip(data["category"], dets, strict=True)]
    )
    col = np.mean(
        [
            COLOUR_NAMES[c] == d.colour
            for c, d, g in zip(data["colour"], dets, gray, strict=True)
            if not g
        ]
    )
    ious = []
    for m, d in zip(data["masks"], dets, strict=True):
        inter, union = (m & d.mask).sum(), (m | d.mask).sum()
        ious.append(inter / union if union else 1.0)
    res: dict[str, Any] = {
        "n": n,
        "category": float(cat),
        "colour": float(col),
        "mask_iou": float(np.mean(ious)),
    }
    for j, mode in enumerate(MODES):
        truth = data["modes"][:, j] > 0.5
        pred = np.array([getattr(d, mode) >= 0.5 for d in dets])
        res[mode] = float((truth == pred).mean())
        # Recall and precision too: a rare mode's accuracy rewards saying "no" every time.
        res[f"{mode}_recall"] = float(pred[truth].mean()) if truth.any() else float("nan")
        res[f"{mode}_precision"] = float(truth[pred].mean()) if pred.any() else float("nan")
    return res


def weights_digest(path: Path | None = None) -> str:
    """Short sha256 (16 hex digits) of the detector weights file: part of every world identity.

    Hashed once per file version (path, size, modification time), so it costs one read.
    """
    p = Path(path or DETECTOR_PATH).resolve()
    try:
        st = p.stat()
    except OSError as err:
        from seedscope.errors import SeedscopeError

        raise SeedscopeError(
            f"the world detector weights are missing at {p}; run `seedscope world train --part detector`."
        ) from err
    return _digest(str(p), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def shared_detector() -> WorldDetector:
    """The bundled detector, loaded once per process (shared by the world scorer and features)."""
    return WorldDetector()
