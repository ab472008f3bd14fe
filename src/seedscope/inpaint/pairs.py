"""Image/mask pairs for the inpainting audit: a folder, a CSV, or `seedscope world pairs`.

A pairs folder holds ``pairs.csv`` (columns ``image``, ``mask`` and optionally ``object`` and
``pair_id``; paths relative to the CSV) and the PNGs. A plain folder of ``NAME.png`` with
``NAME_mask.png`` beside it (or ``images/NAME.png`` with ``masks/NAME.png``) works too; the
object name then comes from ``NAME`` up to its first underscore, if it is not a number.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from seedscope.errors import SeedscopeError

PAIRS_CSV = "pairs.csv"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class Pair:
    """One image with the mask of one object (True where the inpainting repaints)."""

    pair_id: int
    name: str
    image: Image.Image
    mask: np.ndarray
    object: str | None

    def mask_image(self) -> Image.Image:
        """The mask as diffusers takes it: white (255) where the pipeline repaints."""
        return Image.fromarray((self.mask * 255).astype(np.uint8), mode="L")


def _open_image(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, ValueError) as err:
        raise SeedscopeError(f"cannot read the image {str(path)!r} ({err}).") from err


def _open_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    try:
        with Image.open(path) as im:
            mask = np.asarray(im.convert("L")) >= 128
    except (OSError, ValueError) as err:
        raise SeedscopeError(f"cannot read the mask {str(path)!r} ({err}).") from err
    if mask.shape != (size[1], size[0]):
        raise SeedscopeError(
            f"the mask {str(path)!r} is {mask.shape[1]}x{mask.shape[0]}, its image {size[0]}x{size[1]}."
        )
    if not mask.any():
        raise SeedscopeError(f"the mask {str(path)!r} is empty (no pixel >= 128).")
    return mask


def _from_csv(path: Path) -> list[Pair]:
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError) as err:
        raise SeedscopeError(f"cannot read the pairs file {str(path)!r} ({err}).") from err
    if not rows or not {"image", "mask"} <= set(rows[0]):
        raise SeedscopeError(f"the pairs file {str(path)!r} needs columns image and mask.")
    pairs = []
    for i, row in enumerate(rows):
        image = _open_image(path.parent / row["image"])
        pid = int(row["pair_id"]) if row.get("pair_id") not in (None, "") else i
        pairs.append(
            Pair(
                pair_id=pid,
                name=Path(row["image"]).stem,
                image=image,
                mask=_open_mask(path.parent / row["mask"], image.size),
                object=(row.get("object") or "").strip() or None,
            )
        )
    ids = [p.pair_id for p in pairs]
    if len(set(ids)) != len(ids):
        raise SeedscopeError(f"the pairs file {str(path)!r} repeats a pair_id.")
    return pairs


def _object_of(name: str) -> str | None:
    head = name.split("_", 1)[0]
    return None if not head or head.isdigit() else head


def _from_folder(folder: Path) -> list[Pair]:
    found: list[tuple[Path, Path]] = []
    images, masks = folder / "images", folder / "masks"
    if images.is_dir() and masks.is_dir():
        for p in sorted(images.iterdir()):
            if p.suffix.lower() in IMAGE_SUFFIXES:
                m = next(
                    (
                        masks / (p.stem + s)
                        for s in IMAGE_SUFFIXES
                        if (masks / (p.stem + s)).is_file()
                    ),
                    None,
                )
                if m is None:
                    raise SeedscopeError(f"the image {str(p)!r} has no mask in {str(masks)!r}.")
                found.append((p, m))
    else:
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.stem.endswith("_mask"):
                m = p.with_name(p.stem + "_mask.png")
                if not m.is_file():
                    raise SeedscopeError(f"the image {str(p)!r} has no mask {m.name!r} beside it.")
                found.append((p, m))
    if not found:
        raise SeedscopeError(
            f"{str(folder)!r} holds no image/mask pairs: give pairs.csv, NAME.png with "
            "NAME_mask.png, or images/ and masks/ folders."
        )
    pairs = []
    for i, (p, m) in enumerate(found):
        image = _open_image(p)
        pairs.append(Pair(i, p.stem, image, _open_mask(m, image.size), _object_of(p.stem)))
    return pairs


def load_pairs(path: str | Path) -> list[Pair]:
    """Image/mask pairs from a pairs.csv, a CSV file, or a folder of images and masks."""
    p = Path(path)
    if not p.exists():
        raise SeedscopeError(f"the pairs path {str(p)!r} does not exist.")
    if p.is_file():
        if p.suffix.lower() != ".csv":
            raise SeedscopeError(f"{str(p)!r} is not a CSV; give a pairs CSV or a folder.")
        return _from_csv(p)
    if (p / PAIRS_CSV).is_file():
        return _from_csv(p / PAIRS_CSV)
    return _from_folder(p)


def pairs_hash(pairs: list[Pair]) -> str:
    """sha256 over every pair's id, object, image and mask pixels (the audit's input identity)."""
    digest = hashlib.sha256()
    for pair in sorted(pairs, key=lambda q: q.pair_id):
        digest.update(f"{pair.pair_id}\0{pair.object}\0".encode())
        digest.update(np.asarray(pair.image).tobytes())
        digest.update(np.packbits(pair.mask).tobytes())
    return digest.hexdigest()


def write_pairs(pairs: list[tuple[np.ndarray, np.ndarray, str | None]], out: Path) -> Path:
    """Write (image, mask, object) triples as a pairs folder (PNGs and pairs.csv); returns it."""
    from seedscope.store import atomic_write_bytes

    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    lines = ["pair_id,image,mask,object"]
    for i, (image, mask, obj) in enumerate(pairs):
        name = f"{i:06d}.png"
        for sub, arr in (("images", image), ("masks", (mask * 255).astype(np.uint8))):
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, format="PNG")
            atomic_write_bytes(buf.getvalue(), out / sub / name)
        lines.append(f"{i},images/{name},masks/{name},{obj or ''}")
    atomic_write_bytes(("\n".join(lines) + "\n").encode(), out / PAIRS_CSV)
    return out
