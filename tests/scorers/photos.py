"""Images with known truth for scorer accuracy tests: scikit-image photos, altered or not."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

NAMES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "motorcycle_left",
    "cat",
    "colorwheel",
)


def photos() -> list[np.ndarray]:
    """The bundled colour photos as uint8 RGB arrays."""
    from skimage import data

    out = []
    for n in NAMES:
        f = getattr(data, n, None)
        if f is None:
            continue
        a = f()
        if isinstance(a, tuple):
            a = a[0]
        if a.ndim == 3 and a.shape[2] == 3:
            out.append(np.asarray(a, np.uint8))
    return out


def crops(n: int, size: int = 128, seed: int = 0) -> list[Image.Image]:
    """`n` random square crops of the photos, resized to `size`."""
    rng = np.random.default_rng(seed)
    ph = photos()
    out = []
    for i in range(n):
        a = ph[i % len(ph)]
        h, w = a.shape[:2]
        s = int(rng.uniform(0.4, 1.0) * min(h, w))
        y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
        out.append(
            Image.fromarray(a[y : y + s, x : x + s]).resize((size, size), Image.Resampling.BICUBIC)
        )
    return out


def add_border(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Draw a uniform frame of random colour and width (3-10% of the size)."""
    im = im.copy()
    w = max(2, int(rng.uniform(0.03, 0.10) * im.size[0]))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    ImageDraw.Draw(im).rectangle((0, 0, im.size[0] - 1, im.size[1] - 1), outline=colour, width=w)
    return im


def to_gray(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Gray version, sometimes with a faint tint and noise as generated gray images have."""
    g = np.asarray(im.convert("L"), np.float64)[..., None].repeat(3, -1)
    g = g + rng.normal(0, 2.0, g.shape) + rng.uniform(-3, 3, 3)
    return Image.fromarray(np.clip(g, 0, 255).astype(np.uint8))


def add_sky(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Replace the top 35-55% by a blue or overcast sky gradient with slight noise."""
    a = np.asarray(im, np.float64).copy()
    h, w = a.shape[:2]
    k = int(rng.uniform(0.35, 0.55) * h)
    t = np.linspace(0, 1, k)[:, None, None]
    if rng.random() < 0.7:
        top, bottom = np.array([60, 110, 200]), np.array([150, 190, 235])
    else:
        top, bottom = np.array([170, 175, 185]), np.array([215, 218, 222])
    top = top + rng.uniform(-15, 15, 3)
    sky = top * (1 - t) + bottom * t + rng.normal(0, 1.5, (k, w, 3))
    a[:k] = sky
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled scalable font."""
    return ImageFont.load_default(size=size)


WORDS = ("HELLO", "OPEN", "SALE", "COFFEE", "STOP", "NEWS", "PARIS", "MUSIC", "HOTEL", "BOOKS")


def add_text(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, np.ndarray, str]:
    """Draw a word on a contrasting box; returns the image, the box mask and the word."""
    im = im.copy()
    word = str(rng.choice(WORDS))
    size = int(rng.uniform(0.10, 0.16) * im.size[1])
    f = font(size)
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = d.textbbox((0, 0), word, font=f)
    x = int(rng.uniform(0, max(1, im.size[0] - (x1 - x0) - 4)))
    y = int(rng.uniform(0, max(1, im.size[1] - (y1 - y0) - 4)))
    bg, fg = ((255, 255, 255), (0, 0, 0)) if rng.random() < 0.5 else ((20, 20, 20), (250, 250, 250))
    d.rectangle((x + x0 - 2, y + y0 - 2, x + x1 + 2, y + y1 + 2), fill=bg)
    d.text((x, y), word, fill=fg, font=f)
    mask = np.zeros((im.size[1], im.size[0]), bool)
    mask[y + y0 : y + y1, x + x0 : x + x1] = True
    return im, mask, word
