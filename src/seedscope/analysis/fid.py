"""FID and KID of every seed of a sweep over all its prompts (the study's per-seed FID)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from seedscope.analysis.io import write_analysis
from seedscope.features.base import FeatureExtractor
from seedscope.features.cache import sweep_features
from seedscope.metrics.functional import fid_by_group, kid_by_group
from seedscope.metrics.reference import load_reference
from seedscope.store import open_sweep


def metrics_by_seed(
    sweep: str | Path,
    ref: str | Path,
    extractor: FeatureExtractor,
    *,
    with_kid: bool = True,
    allow_small: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[pa.Table, Path]:
    """Per-seed FID (and KID) against a reference -> DIR/analysis/fid_by_seed-<identity>.parquet."""
    opened = open_sweep(sweep)
    reference = load_reference(ref, extractor, allow_small=allow_small)
    keys, feats = sweep_features(opened.path, extractor, progress=progress)
    seeds = np.asarray(keys["seed"])
    fids = fid_by_group(feats, seeds, reference.mean, reference.cov)
    kids = (
        kid_by_group(feats, seeds, reference.features)
        if with_kid and reference.features is not None
        else {}
    )
    labels, counts = np.unique(seeds, return_counts=True)
    table = pa.table(
        {
            "seed": pa.array(labels, pa.int64()),
            "n_images": pa.array(counts, pa.int64()),
            "fid": pa.array([fids[int(s)] for s in labels], pa.float64()),
            "kid": pa.array([kids.get(int(s)) for s in labels], pa.float64()),
        }
    )
    settings = {"extractor": extractor.key, "kid": bool(kids)}
    inputs = {
        "features": extractor.identity.to_dict(),
        "reference": str(Path(reference.source).resolve()),
        "reference_images": reference.n,
    }
    path = write_analysis(opened, "fid_by_seed", table, settings, inputs)
    return table, path
