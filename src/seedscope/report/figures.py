"""Pictures of the atlas: compressed thumbnails and image grids as data URIs, matplotlib charts."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

ImageFn = Callable[[int, int], Image.Image | None]
"""(prompt_id, seed) -> the sweep's image, or None where it has none."""


def data_uri(data: bytes, mime: str) -> str:
    """A `data:` URI of bytes."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def encode(img: Image.Image, quality: int = 70) -> str:
    """An image as a small WebP data URI (lossy; PNG where Pillow has no WebP)."""
    buffer = io.BytesIO()
    rgb = img.convert("RGB")
    try:
        rgb.save(buffer, format="WEBP", quality=quality, method=4)
        mime = "image/webp"
    except (OSError, KeyError):  # Pillow built without libwebp
        buffer = io.BytesIO()
        rgb.save(buffer, format="PNG", optimize=True)
        mime = "image/png"
    return data_uri(buffer.getvalue(), mime)


def file_uri(path: Path) -> str:
    """A PNG/SVG/JPEG/WebP file as a data URI (the atlas refers to no file outside itself)."""
    mime = {
        ".png": "image/png",
        ".svg": "image/svg+xml",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".webp": "image/webp",
    }[path.suffix.lower()]
    return data_uri(path.read_bytes(), mime)


def shrink_png(path: Path, max_width: int = 900) -> str:
    """A figure PNG re-encoded at most `max_width` wide as a WebP data URI (smaller to mail)."""
    img: Image.Image = Image.open(path)
    if img.width > max_width:
        size = (max_width, round(img.height * max_width / img.width))
        img = img.resize(size, Image.Resampling.LANCZOS)
    background = Image.new("RGB", img.size, "white")
    rgba = img.convert("RGBA")
    background.paste(rgba, mask=rgba.getchannel("A"))
    return encode(background, quality=85)


def thumbnail(img: Image.Image, size: int) -> Image.Image:
    """The image resized to `size` pixels on its longer side (never enlarged)."""
    img = img.convert("RGB")
    scale = size / max(img.size)
    if scale < 1:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))))
    return img


def montage(cells: Sequence[Sequence[Image.Image | None]], size: int, gap: int = 2) -> Image.Image:
    """Rows x columns of images (None: a grey cell) at `size` px, on a white background."""
    rows = len(cells)
    cols = max((len(r) for r in cells), default=0)
    out = Image.new("RGB", (cols * (size + gap) + gap, rows * (size + gap) + gap), "white")
    for i, row in enumerate(cells):
        for j, img in enumerate(row):
            x, y = gap + j * (size + gap), gap + i * (size + gap)
            if img is None:
                out.paste((200, 200, 200), (x, y, x + size, y + size))
                continue
            t = thumbnail(img, size)
            out.paste(t, (x + (size - t.width) // 2, y + (size - t.height) // 2))
    return out


def seed_grid(image: ImageFn, prompts: Sequence[int], seeds: Sequence[int], size: int) -> str:
    """The study's grid: one prompt per row, one seed per column, as a data URI."""
    cells = [[image(int(p), int(s)) for s in seeds] for p in prompts]
    return encode(montage(cells, size))


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure_uri(fig: Any) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    img = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return encode(img, quality=85)


def interval_chart(
    labels: Sequence[str],
    value: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    title: str,
    xlabel: str,
    highlight: dict[str, str] | None = None,
) -> str:
    """Point estimates with their intervals, one row per label (best first), as a data URI."""
    plt = _pyplot()
    n = len(labels)
    fig, ax = plt.subplots(figsize=(7, max(2.0, 0.16 * n + 0.8)))
    y = np.arange(n)
    colours = [(highlight or {}).get(lab, "#4a6fa5") for lab in labels]
    ax.errorbar(
        value,
        y,
        xerr=[np.maximum(value - lo, 0), np.maximum(hi - value, 0)],
        fmt="none",
        ecolor="#999999",
        elinewidth=1,
    )
    ax.scatter(value, y, c=colours, s=14, zorder=3)
    ax.set_yticks(y, list(labels), fontsize=max(4, min(8, 400 // max(n, 1))))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _figure_uri(fig)


def noise_picture(digest: str, size: int = 48) -> str:
    """A picture of a noise fingerprint (its hex digest as a 8x8 colour pattern), as a data URI."""
    raw = bytes.fromhex(digest[:64].ljust(64, "0"))
    cells = np.frombuffer(raw * 6, np.uint8)[: 8 * 8 * 3].reshape(8, 8, 3)
    return encode(Image.fromarray(cells).resize((size, size), Image.Resampling.NEAREST), quality=90)
