"""Set metrics (FID, KID) with a functional core and stateful wrappers."""

from seedscope.metrics.functional import (
    fid_by_group,
    fid_from_features,
    frechet_distance,
    kid,
    kid_by_group,
    statistics,
)
from seedscope.metrics.stateful import FID, KID

__all__ = [
    "FID",
    "KID",
    "fid_by_group",
    "fid_from_features",
    "frechet_distance",
    "kid",
    "kid_by_group",
    "statistics",
]
