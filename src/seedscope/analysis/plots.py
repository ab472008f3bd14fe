"""Figures of the analyses as PNG + SVG (matplotlib, Agg backend): the study's Fig. 6/7, 8/9, 10."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise SeedscopeError(
            "plots need matplotlib; pip install 'seedscope[plots]' (or pass --no-plots)."
        ) from err
    return plt


def _save(fig: Any, stem: Path) -> list[Path]:
    out = []
    for ext in ("png", "svg"):
        p = stem.with_suffix(f".{ext}")
        tmp = p.with_name(f".tmp-{p.name}")
        fig.savefig(tmp, dpi=150, bbox_inches="tight", format=ext)
        tmp.replace(p)
        out.append(p)
    return out


def consistency_plot(
    mean_a: np.ndarray,
    mean_b: np.ndarray,
    *,
    metric: str,
    names: tuple[str, str],
    higher_is_better: bool,
    rho: float,
    stem: Path,
) -> list[Path]:
    """The study's Fig. 6/7: per-seed metric on two prompt sets, seeds ordered by the first."""
    plt = _pyplot()
    key = np.where(np.isnan(mean_a), np.inf, -mean_a if higher_is_better else mean_a)
    order = np.argsort(key, kind="stable")
    x = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(x, mean_b[order], ".", ms=4, alpha=0.7, label=f"prompt set {names[1]}")
    ax.plot(x, mean_a[order], "-", lw=1.5, label=f"prompt set {names[0]} (orders the seeds)")
    ax.set_xlabel(f"seeds, ordered by {metric} on {names[0]} (best first)")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per seed on two disjoint prompt sets (Spearman ρ = {rho:.2f})")
    ax.legend(fontsize=8)
    paths = _save(fig, stem)
    plt.close(fig)
    return paths


def map_plot(
    xy: np.ndarray,
    labels: np.ndarray,
    names: dict[int, str],
    thumb: Callable[[int], Any] | None,
    *,
    title: str,
    stem: Path,
    zoom: float | None = None,
) -> list[Path]:
    """A seed map with each seed drawn as a thumbnail of one of its images, framed by cluster."""
    plt = _pyplot()
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    n = len(xy)
    fig, ax = plt.subplots(figsize=(9, 9))
    colours = plt.get_cmap("tab10")
    for c in np.unique(labels):
        m = labels == c
        ax.scatter(
            xy[m, 0], xy[m, 1], s=8, color=colours(int(c) % 10), label=names.get(int(c), str(c))
        )
    if thumb is not None:
        z = zoom or float(np.clip(0.6 / np.sqrt(max(n, 1) / 16), 0.08, 0.6))
        for i in range(n):
            img = np.asarray(thumb(i))
            box = AnnotationBbox(
                OffsetImage(img, zoom=z),
                (xy[i, 0], xy[i, 1]),
                frameon=True,
                pad=0.05,
                bboxprops={"edgecolor": colours(int(labels[i]) % 10), "linewidth": 1.5},
            )
            ax.add_artist(box)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8, loc="best", markerscale=2)
    paths = _save(fig, stem)
    plt.close(fig)
    return paths


def composition_plots(
    xs: np.ndarray,
    ys: np.ndarray,
    areas: np.ndarray,
    seeds: np.ndarray,
    *,
    category: str,
    stem: Path,
    max_seeds: int = 8,
) -> list[Path]:
    """The study's Fig. 10: object centroids of one category across seeds; size against seed.

    xs, ys, areas are (P, S) grids over the category's prompts (left panel) and the seeds
    ordered by median size (right panel).
    """
    plt = _pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    med = np.nanmedian(areas, axis=0)
    order = np.argsort(np.where(np.isnan(med), np.inf, med))
    pick = order[np.linspace(0, len(order) - 1, min(max_seeds, len(order))).astype(int)]
    colours = plt.get_cmap("tab10")
    for j, s in enumerate(pick):
        a1.scatter(xs[:, s], ys[:, s], s=12, color=colours(j % 10), label=f"seed {seeds[s]}")
    a1.set_xlim(0, 1)
    a1.set_ylim(1, 0)
    a1.set_aspect("equal")
    a1.set_title(f"object centroid, prompts with '{category}'")
    a1.legend(fontsize=7, ncol=2)
    a2.boxplot(
        [areas[:, s][~np.isnan(areas[:, s])] for s in order],
        positions=np.arange(len(order)),
        widths=0.6,
        showfliers=False,
    )
    step = max(1, len(order) // 16)
    a2.set_xticks(np.arange(0, len(order), step), [str(seeds[s]) for s in order[::step]])
    a2.set_xlabel("seed (ordered by median object size)")
    a2.set_ylabel("object area (fraction of the image)")
    a2.set_title("object size against seed, all prompts")
    paths = _save(fig, stem)
    plt.close(fig)
    return paths
