"""Stateful metric wrappers (torchmetrics style): `update()` accumulates, `compute()` reduces."""

from __future__ import annotations

import numpy as np

from seedscope.errors import SeedscopeError
from seedscope.metrics import functional as F


class _Accumulator:
    """Running sum, sum of outer products and count of feature vectors, in float64."""

    def __init__(self) -> None:
        self.n = 0
        self.s: np.ndarray | None = None
        self.ss: np.ndarray | None = None

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        if x.ndim != 2:
            raise SeedscopeError(f"features must be a 2-D array (N, D), got shape {x.shape}.")
        if self.s is None:
            self.s = np.zeros(x.shape[1])
            self.ss = np.zeros((x.shape[1], x.shape[1]))
        assert self.ss is not None
        self.n += x.shape[0]
        self.s += x.sum(0)
        self.ss += x.T @ x

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        if self.s is None or self.ss is None or self.n < 2:
            raise SeedscopeError("need at least 2 images on each side to compute FID.")
        mu = self.s / self.n
        cov = (self.ss - self.n * np.outer(mu, mu)) / (self.n - 1)
        return mu, cov


class FID:
    """Fréchet Inception Distance (Heusel et al. 2017) over features fed by `update()`."""

    def __init__(
        self, ref_mean: np.ndarray | None = None, ref_cov: np.ndarray | None = None
    ) -> None:
        self._fake = _Accumulator()
        self._real = _Accumulator()
        self._ref = None if ref_mean is None else (np.asarray(ref_mean), np.asarray(ref_cov))

    def update(self, features: np.ndarray, real: bool = False) -> None:
        """Add (N, D) features to the generated (or, with real=True, the reference) set."""
        (self._real if real else self._fake).add(features)

    def reset(self) -> None:
        """Forget the generated features (the reference statistics stay)."""
        self._fake = _Accumulator()

    def compute(self) -> float:
        """The FID of everything added so far."""
        ref = self._ref if self._ref is not None else self._real.stats()
        return F.frechet_distance(*self._fake.stats(), *ref)


class KID:
    """Kernel Inception Distance (Bińkowski et al. 2018) over features fed by `update()`."""

    def __init__(self, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> None:
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed
        self._fake: list[np.ndarray] = []
        self._real: list[np.ndarray] = []

    def update(self, features: np.ndarray, real: bool = False) -> None:
        """Add a batch of (N, D) features to the generated (or reference) set."""
        (self._real if real else self._fake).append(np.asarray(features, np.float64))

    def reset(self) -> None:
        """Forget the generated features."""
        self._fake = []

    def compute(self) -> tuple[float, float]:
        """Mean and standard deviation of KID over random subsets."""
        if not self._fake or not self._real:
            raise SeedscopeError(
                "KID needs generated and reference features; call update() on both."
            )
        return F.kid(
            np.concatenate(self._fake),
            np.concatenate(self._real),
            subsets=self.subsets,
            subset_size=self.subset_size,
            seed=self.seed,
        )
