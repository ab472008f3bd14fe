"""Set metrics as pure functions: FID (Heusel et al. 2017) and KID (Bińkowski et al. 2018)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

__all__ = [
    "fid_by_group",
    "fid_from_features",
    "frechet_distance",
    "kid",
    "kid_by_group",
    "polynomial_kernel",
    "sqrtm_psd",
    "statistics",
]


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of (N, D) features, in float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise SeedscopeError(
            f"need at least 2 feature vectors to estimate a covariance, "
            f"got {x.shape[0] if x.ndim == 2 else x.shape}."
        )
    return x.mean(axis=0), np.cov(x, rowvar=False)


def sqrtm_psd(cov: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix via its eigen-decomposition."""
    w, v = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet distance of two Gaussians (Dowson & Landau 1982): FID (Heusel et al. 2017)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    root = sqrtm_psd(sigma2)
    # tr sqrt(S1 S2) = sum sqrt(eig(S2^1/2 S1 S2^1/2)), a symmetric PSD product.
    eig = np.linalg.eigvalsh(root @ np.asarray(sigma1, np.float64) @ root)
    tr_covmean = np.sqrt(np.clip(eig, 0.0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def fid_from_features(features: np.ndarray, ref_features: np.ndarray) -> float:
    """FID (Heusel et al. 2017) of two sets of feature vectors."""
    _check_reference(np.asarray(ref_features))
    return frechet_distance(*statistics(features), *statistics(ref_features))


def _check_reference(ref: np.ndarray) -> None:
    if ref.ndim != 2 or ref.shape[0] == 0:
        raise SeedscopeError(
            "the reference set is empty; give a folder, sweep or stats file with images."
        )


def _warn_few(sizes: np.ndarray, dim: int) -> None:
    small = int((sizes < dim).sum())
    if small:
        log.warning(
            "%d of %d groups have fewer images (min %d) than the feature dimension %d: FID is "
            "biased upwards and only comparable between groups of equal size; use KID for an "
            "unbiased comparison.",
            small,
            len(sizes),
            int(sizes.min()),
            dim,
        )


def fid_by_group(
    features: np.ndarray,
    groups: Sequence[int] | np.ndarray,
    ref_mean: np.ndarray,
    ref_cov: np.ndarray,
    *,
    chunk: int = 64,
    device: str | torch.device = "cpu",
) -> dict[int, float]:
    """One FID (Heusel et al. 2017) per group against fixed reference statistics, batched.

    The reference covariance is factored once; for a group of n < D images
    tr sqrt(S_g S_r) equals the sum of square roots of the eigenvalues of the n x n matrix
    X_c S_r X_c^T / (n - 1) (X_c the centred group features), so each group costs an n x n
    eigen-decomposition, batched over groups (zero-padded rows add zero eigenvalues only).
    Groups with n >= D use the D x D product S_r^1/2 S_g S_r^1/2 instead.
    """
    x = np.asarray(features, dtype=np.float64)
    g = np.asarray(groups)
    if x.ndim != 2 or len(g) != x.shape[0]:
        raise SeedscopeError("features must be (N, D) with one group label per row.")
    mu_r = np.asarray(ref_mean, np.float64)
    cov_r = np.asarray(ref_cov, np.float64)
    d = x.shape[1]
    if mu_r.shape != (d,) or cov_r.shape != (d, d):
        raise SeedscopeError(
            f"reference statistics have dimension {mu_r.shape}, features have {d}."
        )
    labels, inverse, sizes = np.unique(g, return_inverse=True, return_counts=True)
    if (sizes < 2).any():
        raise SeedscopeError(
            "every group needs at least 2 images for a covariance; drop single-image groups."
        )
    _warn_few(sizes, d)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    xs = x[order]
    dev = torch.device(device)
    cov_r_t = torch.as_tensor(cov_r, device=dev)
    tr_r = float(np.trace(cov_r))
    out = np.empty(len(labels))
    small = np.flatnonzero(sizes < d)
    large = np.flatnonzero(sizes >= d)
    root_r: torch.Tensor | None = None
    if len(large):
        root_r = torch.as_tensor(sqrtm_psd(cov_r), device=dev)
    for idx, big in ((small, False), (large, True)):
        for c0 in range(0, len(idx), chunk):
            sel = idx[c0 : c0 + chunk]
            n_max = int(sizes[sel].max())
            batch = torch.zeros((len(sel), n_max, d), dtype=torch.float64, device=dev)
            for j, gi in enumerate(sel):
                batch[j, : sizes[gi]] = torch.as_tensor(xs[starts[gi] : starts[gi] + sizes[gi]])
            n = torch.as_tensor(sizes[sel], dtype=torch.float64, device=dev)
            mu = batch.sum(1) / n[:, None]
            mask = (torch.arange(n_max, device=dev)[None, :] < n[:, None]).to(batch.dtype)
            xc = (batch - mu[:, None, :]) * mask[..., None]
            scale = 1.0 / (n - 1.0)
            tr_g = (xc * xc).sum((1, 2)) * scale
            if big:
                assert root_r is not None
                a = xc @ root_r
                m = a.transpose(1, 2) @ a
            else:
                m = xc @ cov_r_t @ xc.transpose(1, 2)
            m = 0.5 * (m + m.transpose(1, 2)) * scale[:, None, None]
            eig = torch.linalg.eigvalsh(m).clamp_min(0.0)
            tr_covmean = eig.sqrt().sum(1)
            diff = mu - torch.as_tensor(mu_r, device=dev)
            fid = (diff * diff).sum(1) + tr_g + tr_r - 2.0 * tr_covmean
            out[sel] = fid.cpu().numpy()
    return {
        int(k) if np.issubdtype(labels.dtype, np.integer) else k: float(v)
        for k, v in zip(labels, out, strict=True)
    }


def polynomial_kernel(
    x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0
) -> np.ndarray:
    """Polynomial kernel (x.y / D + coef0) ** degree of KID (Bińkowski et al. 2018)."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def _mmd2_unbiased(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    m, n = kxx.shape[0], kyy.shape[0]
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def kid(
    features: np.ndarray,
    ref_features: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): unbiased MMD^2, cubic kernel; mean and std over subsets."""
    x = np.asarray(features, np.float64)
    y = np.asarray(ref_features, np.float64)
    _check_reference(y)
    size = min(subset_size, x.shape[0], y.shape[0])
    if size < 2:
        raise SeedscopeError("KID needs at least 2 images on each side.")
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(subsets):
        xs = x[rng.choice(x.shape[0], size, replace=False)]
        ys = y[rng.choice(y.shape[0], size, replace=False)]
        vals.append(
            _mmd2_unbiased(
                polynomial_kernel(xs, xs), polynomial_kernel(ys, ys), polynomial_kernel(xs, ys)
            )
        )
    arr = np.asarray(vals)
    return float(arr.mean()), float(arr.std())


def kid_by_group(
    features: np.ndarray,
    groups: Sequence[int] | np.ndarray,
    ref_features: np.ndarray,
    *,
    chunk: int = 4096,
) -> dict[int, float]:
    """One KID (Bińkowski et al. 2018) per group: unbiased MMD^2 against the whole reference."""
    x = np.asarray(features, np.float64)
    y = np.asarray(ref_features, np.float64)
    _check_reference(y)
    g = np.asarray(groups)
    labels, inverse, sizes = np.unique(g, return_inverse=True, return_counts=True)
    if (sizes < 2).any():
        raise SeedscopeError("every group needs at least 2 images for KID.")
    n = y.shape[0]
    if n < 2:
        raise SeedscopeError("KID needs at least 2 reference images.")
    # Mean off-diagonal reference kernel, once, in chunks.
    syy = 0.0
    for i in range(0, n, chunk):
        k = polynomial_kernel(y[i : i + chunk], y)
        syy += k.sum() - np.trace(k[:, i : i + chunk])
    syy /= n * (n - 1)
    kxy_row = np.concatenate(
        [polynomial_kernel(x[i : i + chunk], y).mean(1) for i in range(0, len(x), chunk)]
    )
    out = {}
    for j, lab in enumerate(labels):
        xi = x[inverse == j]
        kxx = polynomial_kernel(xi, xi)
        m = xi.shape[0]
        sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        key = int(lab) if np.issubdtype(labels.dtype, np.integer) else lab
        out[key] = float(sxx + syy - 2.0 * kxy_row[inverse == j].mean())
    return out
