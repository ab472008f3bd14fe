"""Reference sets for FID/KID: an image folder, another sweep, or saved statistics (.npz)."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from seedscope.errors import SeedscopeError
from seedscope.features.base import FeatureExtractor
from seedscope.metrics.functional import statistics
from seedscope.store import PLAN_FILE, atomic_write_bytes

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Reference:
    """Mean, covariance and (where known) features of a reference set, and its source."""

    mean: np.ndarray
    cov: np.ndarray
    n: int
    source: str
    features: np.ndarray | None = None


def folder_images(folder: Path) -> list[Path]:
    """Image files under a folder, recursively, sorted."""
    return sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    )


def folder_features(
    folder: Path,
    extractor: FeatureExtractor,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Features of every image in a folder (not cached)."""
    files = folder_images(folder)
    out = [np.zeros((0, extractor.dim), np.float32)]
    for i in range(0, len(files), batch_size):
        ims = []
        for f in files[i : i + batch_size]:
            try:
                with Image.open(f) as im:
                    ims.append(im.convert("RGB"))
            except OSError as err:  # PIL.UnidentifiedImageError is an OSError
                raise SeedscopeError(
                    f"cannot read the image {str(f)!r}; remove or replace it."
                ) from err
        out.append(extractor.extract(ims))
        if progress is not None:
            progress(len(ims))
    return np.concatenate(out)


def source_features(
    source: str | Path, extractor: FeatureExtractor, progress: Callable[[int], None] | None = None
) -> np.ndarray:
    """Features of an image folder or a sweep directory (cached for sweeps)."""
    p = Path(source)
    if (p / PLAN_FILE).is_file():
        from seedscope.features.cache import sweep_features

        return sweep_features(p, extractor, progress=progress)[1]
    if p.is_dir():
        return folder_features(p, extractor, progress=progress)
    raise SeedscopeError(
        f"{p} is neither an image folder, a sweep directory nor a .npz statistics file."
    )


def _read_npz(p: Path) -> tuple[np.ndarray, np.ndarray, int, np.ndarray | None, str | None]:
    """Mean, covariance, image count, (if saved) features and extractor key of an .npz file."""
    try:
        with np.load(p) as z:
            if "mu" not in z or "sigma" not in z:
                raise SeedscopeError(
                    f"{p} has no 'mu' and 'sigma' arrays; "
                    "save reference statistics with `seedscope fid-stats`."
                )
            feats = z["features"] if "features" in z.files else None
            n = int(z["n"]) if "n" in z else (len(feats) if feats is not None else 0)
            key = str(z["extractor"]) if "extractor" in z.files else None
            return z["mu"], z["sigma"], n, feats, key
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise SeedscopeError(
            f"cannot read {str(p)!r} as .npz statistics; save them with `seedscope fid-stats`."
        ) from err


def load_reference(
    source: str | Path,
    extractor: FeatureExtractor,
    *,
    allow_small: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Reference:
    """Reference statistics; stops if empty or (unless allowed) smaller than the dimension."""
    p = Path(source)
    if p.suffix == ".npz" and p.is_file():
        mu, sigma, n, feats, key = _read_npz(p)
        if key is not None and key != extractor.key:
            raise SeedscopeError(
                f"{p} holds statistics of {key} features but {extractor.key} features were asked"
                " for; make the statistics again with the same extractor and --resize."
            )
        if mu.shape != (extractor.dim,):
            raise SeedscopeError(
                f"{p} holds {mu.shape[0]}-d statistics but the {extractor.name} features "
                f"are {extractor.dim}-d."
            )
        return Reference(mu, sigma, n, str(p), feats)
    if not p.exists():
        raise SeedscopeError(f"the reference {p} does not exist.")
    feats = source_features(p, extractor, progress)
    if len(feats) == 0:
        raise SeedscopeError(f"the reference set {p} is empty; give a folder or sweep with images.")
    if len(feats) <= extractor.dim and not allow_small:
        raise SeedscopeError(
            f"the reference set {p} has {len(feats)} images, not more than the feature dimension "
            f"{extractor.dim}, so its covariance is singular; use more images "
            "(or --allow-small to compare anyway)."
        )
    mu, cov = statistics(feats)
    return Reference(mu, cov, len(feats), str(p), feats)


def save_reference(
    ref: Reference, path: str | Path, extractor: FeatureExtractor, keep_features: bool = True
) -> None:
    """Save reference statistics (and features, for KID) to an .npz file, atomically."""
    arrays = {
        "mu": ref.mean,
        "sigma": ref.cov,
        "n": np.asarray(ref.n),
        "extractor": np.asarray(extractor.key),
    }
    if keep_features and ref.features is not None:
        arrays["features"] = ref.features
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    atomic_write_bytes(buffer.getvalue(), Path(path))
