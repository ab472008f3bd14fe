"""Render world scenes to 64x64 RGB images (drawn 4x supersampled with PIL, then downsampled)."""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from seedscope.world.grammar import COLOURS, Scene, SceneObject

SIZE = 64
SS = 4  # supersampling factor
BIG = SIZE * SS

_BG_COLOURS = [
    (232, 222, 200),
    (200, 200, 200),
    (170, 190, 215),
    (40, 45, 70),
    (215, 235, 215),
    (120, 110, 100),
    (250, 240, 230),
    (90, 100, 90),
    (200, 170, 140),
    (60, 60, 60),
]


def _unit_polygon(category: str) -> list[tuple[float, float]] | None:
    """Outline of a category in [-1, 1]^2 (y down); None for shapes drawn otherwise."""
    if category == "square":
        return [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)]
    if category == "triangle":
        return [(0.0, -1.0), (1.0, 0.8), (-1.0, 0.8)]
    if category == "diamond":
        return [(0.0, -1.0), (0.75, 0.0), (0.0, 1.0), (-0.75, 0.0)]
    if category == "hexagon":
        return [(math.cos(a), math.sin(a)) for a in np.linspace(0, 2 * math.pi, 7)[:-1]]
    if category == "star":
        pts = []
        for i in range(10):
            a = -math.pi / 2 + i * math.pi / 5
            r = 1.0 if i % 2 == 0 else 0.42
            pts.append((r * math.cos(a), r * math.sin(a)))
        return pts
    if category == "cross":
        w = 0.32
        return [
            (-w, -1),
            (w, -1),
            (w, -w),
            (1, -w),
            (1, w),
            (w, w),
            (w, 1),
            (-w, 1),
            (-w, w),
            (-1, w),
            (-1, -w),
            (-w, -w),
        ]
    if category == "arrow":
        return [(-1, -0.3), (0.1, -0.3), (0.1, -0.8), (1, 0), (0.1, 0.8), (0.1, 0.3), (-1, 0.3)]
    if category == "heart":
        pts = []
        for t in np.linspace(0, 2 * math.pi, 60):
            x = 16 * math.sin(t) ** 3
            y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
            pts.append((x / 17.0, -y / 17.0 + 0.1))
        return pts
    if category == "house":
        return [(-0.75, -0.1), (0.0, -1.0), (0.75, -0.1), (0.75, 0.9), (-0.75, 0.9)]
    return None


def _object_mask(obj: SceneObject) -> Image.Image:
    """The object's silhouette at supersampled resolution (mode L, 255 inside)."""
    m = Image.new("L", (BIG, BIG), 0)
    d = ImageDraw.Draw(m)
    cx, cy, r = obj.cx * SS, obj.cy * SS, obj.radius * SS
    box = (cx - r, cy - r, cx + r, cy + r)
    poly = _unit_polygon(obj.category)
    if poly is not None:
        d.polygon([(cx + x * r, cy + y * r) for x, y in poly], fill=255)
    elif obj.category == "circle":
        d.ellipse(box, fill=255)
    elif obj.category == "ring":
        d.ellipse(box, fill=255)
        q = r * 0.55
        d.ellipse((cx - q, cy - q, cx + q, cy + q), fill=0)
    elif obj.category == "moon":
        d.ellipse(box, fill=255)
        o = r * 0.55
        d.ellipse((cx - r + o, cy - r - o * 0.3, cx + r + o, cy + r - o * 0.3), fill=0)
    else:
        raise ValueError(f"unknown category {obj.category!r}")
    return m


def _fill(obj: SceneObject, mask: np.ndarray) -> np.ndarray:
    """RGB fill of an object (plain, striped or dotted) at supersampled resolution."""
    base = np.array(COLOURS[obj.colour], dtype=np.float32)
    alt = base * 0.55 if base.mean() > 90 else np.minimum(base + 110, 255)
    yy, xx = np.mgrid[0:BIG, 0:BIG]
    rgb = np.broadcast_to(base, (BIG, BIG, 3)).copy()
    if obj.texture == "striped":
        band = ((xx + yy) // (3 * SS)) % 2 == 1
        rgb[band] = alt
    elif obj.texture == "dotted":
        step = 4 * SS
        dots = ((xx % step - step / 2) ** 2 + (yy % step - step / 2) ** 2) < (1.1 * SS) ** 2
        rgb[dots] = alt
    return rgb


def _background(scene: Scene) -> np.ndarray:
    """The scene's background at supersampled resolution."""
    rng = np.random.default_rng(scene.bg_seed)
    c1 = np.array(_BG_COLOURS[rng.integers(len(_BG_COLOURS))], dtype=np.float32)
    c1 = np.clip(c1 + rng.normal(0, 12, 3), 0, 255)
    img = np.broadcast_to(c1, (BIG, BIG, 3)).copy()
    if scene.background == "gradient":
        c2 = np.array(_BG_COLOURS[rng.integers(len(_BG_COLOURS))], dtype=np.float32)
        t = np.linspace(0, 1, BIG, dtype=np.float32)[:, None, None]
        if rng.random() < 0.5:
            t = t.transpose(1, 0, 2)
        img = c1 * (1 - t) + c2 * t
        img = np.broadcast_to(img, (BIG, BIG, 3)).copy()
    elif scene.background == "ground":
        horizon = int(BIG * rng.uniform(0.55, 0.72))
        ground = np.array(
            [(70, 140, 50), (120, 85, 50), (150, 130, 90)][rng.integers(3)], np.float32
        )
        img[horizon:] = ground
    elif scene.background == "texture":
        noise = rng.normal(0, 1, (SIZE // 4, SIZE // 4)).astype(np.float32)
        noise_img = Image.fromarray(((noise * 0.5 + 0.5).clip(0, 1) * 255).astype(np.uint8))
        n = (
            np.asarray(noise_img.resize((BIG, BIG), Image.Resampling.BICUBIC), np.float32) / 255.0
            - 0.5
        )
        img = img + n[:, :, None] * 70
    return img


def _sky(img: np.ndarray, scene: Scene) -> None:
    """Paint a blue sky with a cloud over the top of the image (in place)."""
    rng = np.random.default_rng(scene.bg_seed + 1)
    h = int(BIG * rng.uniform(0.3, 0.42))
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    top, low = np.array([70, 130, 220], np.float32), np.array([165, 205, 245], np.float32)
    img[:h] = top * (1 - t) + low * t
    cloud = Image.new("L", (BIG, BIG), 0)
    d = ImageDraw.Draw(cloud)
    cx, cy = rng.uniform(0.15, 0.85) * BIG, h * rng.uniform(0.35, 0.6)
    for dx in (-1.0, 0.0, 1.0):
        r = BIG * 0.06 * (1.3 if dx == 0 else 1.0)
        d.ellipse((cx + dx * r * 1.2 - r, cy - r, cx + dx * r * 1.2 + r, cy + r), fill=255)
    a = np.asarray(cloud, np.float32)[:, :, None] / 255.0
    img[:] = img * (1 - a) + 250 * a


@functools.lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _text(pil: Image.Image, scene: Scene) -> None:
    """Paint the scene's word in large letters, in a band at the top or bottom (in place)."""
    assert scene.text is not None
    rng = np.random.default_rng(scene.bg_seed + 2)
    d = ImageDraw.Draw(pil)
    font = _font(int(BIG * 0.2))
    x0, y0, x1, y1 = d.textbbox((0, 0), scene.text, font=font)
    w, h = x1 - x0, y1 - y0
    scale = min(1.0, BIG * 0.9 / max(w, 1))
    if scale < 1.0:
        font = _font(int(BIG * 0.2 * scale))
        x0, y0, x1, y1 = d.textbbox((0, 0), scene.text, font=font)
        w, h = x1 - x0, y1 - y0
    x = (BIG - w) / 2 + rng.uniform(-0.04, 0.04) * BIG - x0
    y = (BIG * 0.06 if rng.random() < 0.5 else BIG * 0.94 - h) - y0
    light = rng.random() < 0.5
    fill = (250, 250, 250) if light else (15, 15, 15)
    stroke = (15, 15, 15) if light else (250, 250, 250)
    d.text((x, y), scene.text, font=font, fill=fill, stroke_width=SS, stroke_fill=stroke)


FRAME_COLOURS = [(20, 20, 20), (245, 245, 245), (120, 70, 30), (200, 160, 40)]


def _border(pil: Image.Image, scene: Scene) -> None:
    """Draw a frame around the image (in place)."""
    rng = np.random.default_rng(scene.bg_seed + 3)
    colour = FRAME_COLOURS[rng.integers(len(FRAME_COLOURS))]
    width = int(SS * rng.uniform(3, 5))
    ImageDraw.Draw(pil).rectangle((0, 0, BIG - 1, BIG - 1), outline=colour, width=width)


def render_with_mask(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Render a scene: (64x64x3 uint8 RGB image, 64x64 bool mask of the main object)."""
    img = _background(scene)
    if scene.sky:
        _sky(img, scene)
    objects = [scene.obj] + ([scene.second] if scene.second else [])
    main_mask = None
    for obj in objects:
        m = np.asarray(_object_mask(obj), np.float32) / 255.0
        if main_mask is None:
            main_mask = m
        rgb = _fill(obj, m)
        img = img * (1 - m[:, :, None]) + rgb * m[:, :, None]
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    if scene.text:
        _text(pil, scene)
    if scene.border:
        _border(pil, scene)
    small = pil.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    if scene.grayscale:
        small = small.convert("L").convert("RGB")
    assert main_mask is not None
    mask_img = Image.fromarray((main_mask * 255).astype(np.uint8)).resize(
        (SIZE, SIZE), Image.Resampling.BOX
    )
    mask = np.asarray(mask_img) >= 128
    if scene.second is not None:
        # The main object is what stays visible of it.
        m2 = (
            np.asarray(_object_mask(scene.second).resize((SIZE, SIZE), Image.Resampling.BOX)) >= 128
        )
        mask &= ~m2
    return np.asarray(small), mask


def render(scene: Scene) -> np.ndarray:
    """Render a scene to a 64x64x3 uint8 RGB array."""
    return render_with_mask(scene)[0]
