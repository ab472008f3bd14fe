"""Where the seed puts the object, and what the seed decides (the study's Sec. 5, Fig. 10).

Per seed: the distribution of the object's centroid, size (and depth) over prompts. Over the
full prompts x seeds grid: a two-way decomposition of every composition column and every flag
score into seed, prompt and interaction/residual shares, with bootstrap intervals over prompts.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from seedscope.analysis import stats as st
from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

__all__ = [
    "FLAG_COLUMNS",
    "CompositionSettings",
    "composition_columns",
    "decided_columns",
    "largest_complete_block",
    "seed_composition",
    "what_the_seed_decides",
]

FLAG_COLUMNS = (
    "grayscale.grayscale",
    "border.border",
    "sky.sky",
    "text.has_text",
    "world.p_grayscale",
    "world.p_border",
    "world.p_sky",
    "world.p_text",
    "world.adherent",
)
"""Per-image flags (or their probabilities) decomposed by `what_the_seed_decides`."""


SOURCES = ("world", "composition")
"""The scorers whose object centroid and size `composition` can read."""


@dataclass(frozen=True)
class CompositionSettings:
    """Settings of the composition analysis; saved with its tables."""

    reps: int = 1000
    level: float = 0.95
    rng_seed: int = 0
    source: str | None = None  # "world" or "composition"; None: world where it ran

    def __post_init__(self) -> None:
        if self.reps < 10:
            raise SeedscopeError(f"--reps must be at least 10, not {self.reps}.")
        if not 0.5 < self.level < 1.0:
            raise SeedscopeError(f"--level must be between 0.5 and 1, not {self.level}.")
        if self.source not in (None, *SOURCES):
            raise SeedscopeError(f"--source must be {' or '.join(SOURCES)}, not {self.source!r}.")


def composition_columns(columns: list[str], source: str | None = None) -> dict[str, str]:
    """Map x, y, area (and depth) to score columns: the world scorer's where it ran."""
    order = [source] if source else ["world", "composition"]
    for src in order:
        found = {k: f"{src}.object_{k}" for k in ("x", "y", "area")}
        if all(c in columns for c in found.values()):
            if f"{src}.object_depth" in columns:
                found["depth"] = f"{src}.object_depth"
            return found
    raise SeedscopeError(
        "no object centroid and size among the scores; run "
        "`seedscope score DIR --scorers world` (bundled model) or `--scorers composition`."
    )


def decided_columns(columns: list[str], source: str | None = None) -> list[str]:
    """Columns for the 'what the seed decides' table: composition, then flags present."""
    out: list[str] = []
    with contextlib.suppress(SeedscopeError):
        out += list(composition_columns(columns, source).values())
    out += [c for c in FLAG_COLUMNS if c in columns]
    return out


def largest_complete_block(ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a large all-true block of a (P, S) mask, greedily maximising P*S.

    Repeatedly drops the prompt or seed with the most missing cells (whichever keeps the
    larger block); exact when the holes are whole rows or columns.
    """
    ok = np.asarray(ok, bool)
    rows = np.ones(ok.shape[0], bool)
    cols = np.ones(ok.shape[1], bool)
    while rows.any() and cols.any():
        sub = ok[np.ix_(rows, cols)]
        if sub.all():
            break
        miss_r = (~sub).sum(1)
        miss_c = (~sub).sum(0)
        r, c = int(miss_r.argmax()), int(miss_c.argmax())
        n_r, n_c = int(rows.sum()), int(cols.sum())
        # Dropping a row keeps (n_r-1)*n_c cells, a column n_r*(n_c-1); weigh by holes removed.
        if miss_r[r] * n_r >= miss_c[c] * n_c:
            rows[np.flatnonzero(rows)[r]] = False
        else:
            cols[np.flatnonzero(cols)[c]] = False
    return np.flatnonzero(rows), np.flatnonzero(cols)


def seed_composition(
    grids: dict[str, np.ndarray], seeds: np.ndarray, settings: CompositionSettings
) -> pd.DataFrame:
    """Per seed: mean, sd and quartiles of each composition column, the mean with its interval."""
    rng = np.random.default_rng(settings.rng_seed)
    out = pd.DataFrame({"seed": seeds})
    for name, g in grids.items():
        out[f"{name}_mean"] = st.seed_means(g)
        lo, hi = st.percentile_ci(st.bootstrap_seed_means(g, settings.reps, rng), settings.level)
        out[f"{name}_lo"], out[f"{name}_hi"] = lo, hi
        with np.errstate(invalid="ignore"):
            out[f"{name}_sd"] = np.nanstd(g, axis=0, ddof=1)
            q = np.nanpercentile(g, [25, 50, 75], axis=0)
        out[f"{name}_q25"], out[f"{name}_median"], out[f"{name}_q75"] = q
    return out


def what_the_seed_decides(
    grids: dict[str, np.ndarray], settings: CompositionSettings
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Seed / prompt / residual shares of every column on its largest complete grid, with CIs.

    Shares of the sum of squares (eta squared) and of the random-effects variance components,
    each with a normal interval from the bootstrap SE over prompts; the residual holds the prompt x seed interaction (one image per cell cannot separate them).
    """
    rng = np.random.default_rng(settings.rng_seed)
    rows = []
    blocks: dict[str, Any] = {}
    for name, g in grids.items():
        r, c = largest_complete_block(~np.isnan(g))
        if len(r) < 2 or len(c) < 2:
            log.warning("%s: fewer than 2 complete prompts or seeds; skipped.", name)
            continue
        sub = g[np.ix_(r, c)]
        blocks[name] = {"prompts": len(r), "seeds": len(c), "of": list(g.shape)}
        if np.nanvar(sub) == 0:
            log.warning("%s is constant on its grid; skipped.", name)
            continue
        point = st.variance_decomposition(sub)
        boot = st.variance_decomposition_bootstrap(sub, settings.reps, rng)
        row: dict[str, Any] = {"column": name, "prompts": len(r), "seeds": len(c)}
        row["mean"] = float(sub.mean())
        for k, v in point.items():
            # Resampled prompts repeat, so resampled shares are biased: use only their spread.
            lo, hi = st.normal_interval(v, boot[k], settings.level)
            row[k], row[f"{k}_lo"], row[f"{k}_hi"] = v, float(lo), float(hi)
        rows.append(row)
    if not rows:
        raise SeedscopeError("no score column has a complete grid of at least 2 prompts x 2 seeds.")
    return pd.DataFrame(rows), {"blocks": blocks, "settings": asdict(settings)}
