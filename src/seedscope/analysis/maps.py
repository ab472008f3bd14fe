"""Style and layout maps of seeds (the study's Sec. 4.3, Fig. 8/9) and clusters named by scores.

Style: per-image features (Gram matrices, Gatys et al. 2016) -> PCA -> t-SNE (van der Maaten &
Hinton 2008) to 2-D per image; each seed's 2-D points over the same P prompts concatenated
(N x 2P) and reduced again to one 2-D point per seed. Layout: each image's object centroid and
size, standardised, concatenated over prompts (N x 3P) and reduced to 2-D per seed the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

__all__ = [
    "MapSettings",
    "SeedMap",
    "cluster_seeds",
    "image_properties",
    "name_clusters",
    "seed_map",
    "tsne_2d",
]

BYS = ("style", "layout")


@dataclass(frozen=True)
class MapSettings:
    """Settings of a seed map; saved with its tables."""

    by: str = "style"
    pca_dim: int = 50
    perplexity: float = 30.0
    clusters: int | None = None  # None: the silhouette's choice among 2..8
    rng_seed: int = 0
    split: float | None = None
    split_seed: int = 0
    min_share: float = 0.25

    def __post_init__(self) -> None:
        if self.by not in BYS:
            raise SeedscopeError(f"--by must be style or layout, not {self.by!r}.")
        if self.clusters is not None and self.clusters < 2:
            raise SeedscopeError(f"--clusters must be at least 2, not {self.clusters}.")
        if self.pca_dim < 2:
            raise SeedscopeError(f"--pca-dim must be at least 2, not {self.pca_dim}.")
        if not self.perplexity > 0:
            raise SeedscopeError(f"--perplexity must be positive, not {self.perplexity}.")
        if not 0 < self.min_share < 1:
            raise SeedscopeError(f"min_share must be between 0 and 1, not {self.min_share}.")


@dataclass
class SeedMap:
    """One 2-D point and a cluster per seed; the per-image 2-D points for style maps."""

    seeds: np.ndarray
    xy: np.ndarray
    labels: np.ndarray
    image_xy: np.ndarray | None
    backend: str


def _perplexity(n: int, wanted: float) -> float:
    return float(max(2.0, min(wanted, (n - 1) / 3.0)))


def tsne_2d(x: np.ndarray, *, perplexity: float, rng_seed: int) -> tuple[np.ndarray, str]:
    """t-SNE to 2-D: openTSNE (FFT-accelerated, Linderman et al. 2019) or sklearn's Barnes-Hut."""
    x = np.asarray(x, np.float64)
    n = x.shape[0]
    if n < 4:
        raise SeedscopeError(f"a t-SNE map needs at least 4 points, got {n}.")
    perp = _perplexity(n, perplexity)
    try:
        from openTSNE import TSNE as OpenTSNE

        emb = OpenTSNE(
            n_components=2,
            perplexity=perp,
            random_state=rng_seed,
            n_jobs=1,
            neighbors="auto",
            negative_gradient_method="fft" if n > 1000 else "bh",
            verbose=False,
        ).fit(x)
        return np.asarray(emb, np.float64), "openTSNE"
    except ImportError:
        from sklearn.manifold import TSNE

        log.info("openTSNE is not installed; using sklearn's TSNE (slower on large maps).")
        emb = TSNE(2, perplexity=perp, random_state=rng_seed, init="pca").fit_transform(x)
        return np.asarray(emb, np.float64), "sklearn"


def _pca(x: np.ndarray, dim: int, rng_seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    k = min(dim, x.shape[0] - 1, x.shape[1])
    if k >= x.shape[1]:
        return x - x.mean(0)
    solver = "randomized" if x.shape[0] * x.shape[1] > 4_000_000 else "full"
    return np.asarray(PCA(k, svd_solver=solver, random_state=rng_seed).fit_transform(x))


def seed_map(cube: np.ndarray, seeds: np.ndarray, settings: MapSettings) -> SeedMap:
    """Map seeds from a complete (P, S, D) block of per-image features (one row per prompt).

    Style: each image's features -> PCA -> t-SNE 2-D; a seed's P points form its 2P vector.
    Layout: the standardised features themselves form its P*D vector. Either is then reduced
    to 2-D per seed by PCA and t-SNE, and clustered.
    """
    cube = np.asarray(cube, np.float32)
    if cube.ndim != 3 or np.isnan(cube).any():
        raise SeedscopeError("a seed map needs a complete prompts x seeds grid of features.")
    n_p, n_s, dim = cube.shape
    if n_s < 4:
        raise SeedscopeError(f"a seed map needs at least 4 seeds, got {n_s}.")
    image_xy = None
    backend = "none"
    if settings.by == "style":
        flat = cube.reshape(n_p * n_s, dim)
        reduced = _pca(flat.astype(np.float32), settings.pca_dim, settings.rng_seed)
        image_xy, backend = tsne_2d(
            reduced, perplexity=settings.perplexity, rng_seed=settings.rng_seed
        )
        per_image = image_xy.reshape(n_p, n_s, 2)
    else:
        sd = cube.reshape(-1, dim).std(0)
        per_image = (cube - cube.reshape(-1, dim).mean(0)) / np.where(sd > 0, sd, 1.0)
    # One vector per seed: its points over the same prompts, concatenated (N x 2P).
    vectors = per_image.transpose(1, 0, 2).reshape(n_s, -1).astype(np.float64)
    vectors = _pca(vectors, settings.pca_dim, settings.rng_seed)
    xy, backend2 = tsne_2d(vectors, perplexity=settings.perplexity, rng_seed=settings.rng_seed)
    labels = cluster_seeds(vectors, settings.clusters, settings.rng_seed)
    return SeedMap(
        np.asarray(seeds), xy, labels, image_xy, backend if backend != "none" else backend2
    )


def cluster_seeds(vectors: np.ndarray, k: int | None, rng_seed: int) -> np.ndarray:
    """KMeans clusters of the seeds' vectors; k by the best silhouette (Rousseeuw 1987) if None."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = np.asarray(vectors, np.float64)
    n = x.shape[0]
    if k is not None:
        if k >= n:
            raise SeedscopeError(f"--clusters {k} needs more than {k} seeds; the map has {n}.")
        return np.asarray(KMeans(k, n_init=10, random_state=rng_seed).fit_predict(x))
    best: tuple[float, np.ndarray] | None = None
    for kk in range(2, min(8, n - 1) + 1):
        lab = KMeans(kk, n_init=10, random_state=rng_seed).fit_predict(x)
        if len(np.unique(lab)) < 2:
            continue
        s = float(silhouette_score(x, lab))
        if best is None or s > best[0] + 1e-9:
            best = (s, lab)
    if best is None:
        return np.zeros(n, np.int64)
    return np.asarray(best[1])


def image_properties(grids: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Boolean per-image properties (P, S) from score grids: flags and where/how big the object is.

    NaN where the score is missing. Flags come from the dedicated scorers, else from the world
    detector's probabilities (> 0.5); left/right/top/bottom are the outer thirds of the image,
    large/small the top/bottom quarter of object sizes over all images.
    """
    out: dict[str, np.ndarray] = {}

    def flag(name: str, *cols: str) -> None:
        for c in cols:
            if c in grids:
                g = grids[c]
                val = g > 0.5 if c.split(".", 1)[1].startswith("p_") else g > 0
                out[name] = np.where(np.isnan(g), np.nan, val.astype(np.float64))
                return

    flag("grayscale", "grayscale.grayscale", "world.p_grayscale")
    flag("border", "border.border", "world.p_border")
    flag("sky", "sky.sky", "world.p_sky")
    flag("text", "text.has_text", "world.p_text")
    for src in ("world", "composition"):
        x, y, a = (grids.get(f"{src}.object_{k}") for k in ("x", "y", "area"))
        if x is None or y is None or a is None:
            continue
        for name, g, cond in (
            ("left", x, x < 1 / 3),
            ("right", x, x > 2 / 3),
            ("top", y, y < 1 / 3),
            ("bottom", y, y > 2 / 3),
        ):
            out[name] = np.where(np.isnan(g), np.nan, cond.astype(np.float64))
        q25, q75 = np.nanpercentile(a, [25, 75])
        out["large"] = np.where(np.isnan(a), np.nan, (a > q75).astype(np.float64))
        out["small"] = np.where(np.isnan(a), np.nan, (a < q25).astype(np.float64))
        break
    return out


def name_clusters(
    labels: np.ndarray,
    props_map: dict[str, np.ndarray],
    props_heldout: dict[str, np.ndarray],
    *,
    min_share: float = 0.25,
    reps: int = 1999,
    rng_seed: int = 0,
) -> pd.DataFrame:
    """Name each cluster by the property most over-represented in its images, then check it held out.

    On the map's prompts the property with the largest binomial z of (cluster share - overall
    share) names the cluster if its share is at least `min_share` and 1.5x the overall share.
    On the held-out prompts the same cluster's share is measured again; its p-value permutes
    seed labels (the cluster's mean per-seed rate against random seed sets of the same size).
    """
    rng = np.random.default_rng(rng_seed)
    labels = np.asarray(labels)
    rows: list[dict[str, Any]] = []
    for c in np.unique(labels):
        member = labels == c
        row: dict[str, Any] = {"cluster": int(c), "n_seeds": int(member.sum()), "property": None}
        best: tuple[float, str] | None = None
        for name, g in props_map.items():
            share, overall, n = _share(g, member)
            if n == 0 or not 0 < overall < 1:
                continue
            z = (share - overall) / np.sqrt(overall * (1 - overall) / n)
            if share >= min_share and share >= 1.5 * overall and (best is None or z > best[0]):
                best = (float(z), name)
        if best is not None:
            name = best[1]
            share, overall, n = _share(props_map[name], member)
            row.update(property=name, share=share, overall=overall, n_images=n, z=best[0])
            if name in props_heldout:
                g = props_heldout[name]
                hs, ho, hn = _share(g, member)
                rate = np.nanmean(g, axis=0)
                ok = ~np.isnan(rate)
                stat = np.nanmean(rate[member & ok])
                pool, m = rate[ok], int((member & ok).sum())
                draws = np.argsort(rng.random((reps, len(pool))), axis=1)[:, :m]
                null = pool[draws].mean(1)
                p = (1.0 + float((null >= stat - 1e-12).sum())) / (reps + 1.0)
                row.update(
                    share_heldout=hs,
                    overall_heldout=ho,
                    n_images_heldout=hn,
                    p_heldout=p,
                    holds=bool(p < 0.05 and hs > ho),
                )
        rows.append(row)
    return pd.DataFrame(rows)


def _share(g: np.ndarray, member: np.ndarray) -> tuple[float, float, int]:
    sub = g[:, member]
    n = int((~np.isnan(sub)).sum())
    share = float(np.nanmean(sub)) if n else float("nan")
    return share, float(np.nanmean(g)), n
