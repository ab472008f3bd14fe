"""Diverse seeds: farthest-point sampling over per-seed style or layout vectors (Xu et al. 2025, Table 2).

Each seed is represented by the mean over the selection prompts of its images' features (style:
an extractor's features such as `gram` or `world`; layout: object position and size), centred by
the mean over all images and reduced to at most `dim` principal components. For K images per
prompt the first seed is random and each next one is the seed farthest (cosine distance) from
those chosen. Diversity is the mean pairwise cosine similarity of the K images' features within a
prompt (lower is more diverse), averaged over held-out prompts.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

BY = ("style", "layout")
LAYOUT_COLUMNS = ("world.object_x", "world.object_y", "world.object_area")


@dataclass(frozen=True)
class DiverseSettings:
    """Settings of `pick diverse`; saved into the card's evidence."""

    by: str = "style"
    per_prompt: int = 4
    features: str = "world"  # the style extractor
    layout: tuple[str, ...] = LAYOUT_COLUMNS
    dim: int = 32  # principal components kept in the card's seed vectors
    set: str | None = None
    draws: int = 20  # random first seeds (and random sets) per held-out prompt in `compare`
    reps: int = 2000
    rng_seed: int = 0

    def __post_init__(self) -> None:
        if self.by not in BY:
            raise SeedscopeError(f"--by must be style or layout, not {self.by!r}.")
        if self.per_prompt < 2:
            raise SeedscopeError(f"--per-prompt must be at least 2, not {self.per_prompt}.")
        if self.dim < 1 or self.draws < 1:
            raise SeedscopeError("--dim and --draws must be at least 1.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return asdict(self)


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.asarray(x / np.where(norm > 0, norm, 1.0), np.float64)


def cosine_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1 - cosine similarity between rows of x and rows of y (zero vectors are at distance 1)."""
    return 1.0 - _unit(np.asarray(x, np.float64)) @ _unit(np.asarray(y, np.float64)).T


def farthest_point_sampling(
    vectors: np.ndarray, k: int, *, first: int = 0, metric: str = "cosine"
) -> list[int]:
    """Greedy farthest-point sampling (Gonzalez 1985): from `first`, add the point whose nearest
    chosen point is farthest, until k are chosen; ties go to the lowest index."""
    x = np.asarray(vectors, np.float64)
    n = len(x)
    if not 1 <= k <= n:
        raise SeedscopeError(f"cannot choose {k} of {n} seeds.")
    if not 0 <= first < n:
        raise SeedscopeError(f"the first seed index {first} is outside 0..{n - 1}.")

    def dist(i: int) -> np.ndarray:
        if metric == "cosine":
            return cosine_distances(x, x[i : i + 1])[:, 0]
        return np.asarray(np.linalg.norm(x - x[i], axis=1))

    chosen = [first]
    nearest = dist(first)
    nearest[first] = -np.inf
    while len(chosen) < k:
        nxt = int(np.argmax(nearest))
        chosen.append(nxt)
        nearest = np.minimum(nearest, dist(nxt))
        nearest[chosen] = -np.inf
    return chosen


def seed_vectors(
    cube: np.ndarray, dim: int, mean: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-seed vectors from a (P, S, D) feature cube: centred mean over prompts, top `dim` PCs.

    Returns (S, min(dim, D)) vectors and what was done (for the card's evidence).
    """
    c = np.asarray(cube, np.float64)
    centre = c.reshape(-1, c.shape[-1]).mean(0) if mean is None else mean
    per_seed = np.nanmean(c - centre, axis=0)  # (S, D)
    info: dict[str, Any] = {"feature_dim": int(c.shape[-1])}
    if per_seed.shape[1] > dim:
        _, sv, vt = np.linalg.svd(per_seed - per_seed.mean(0), full_matrices=False)
        kept = min(dim, len(sv))
        # Project without re-centring: cosines stay relative to the all-images mean.
        per_seed = per_seed @ vt[:kept].T
        info["pca_components"] = kept
        info["pca_variance_explained"] = float((sv[:kept] ** 2).sum() / max((sv**2).sum(), 1e-30))
    return per_seed, info


def mean_pairwise_cosine(x: np.ndarray) -> float:
    """Mean cosine similarity over all pairs of rows of x (the study's diversity; lower is more diverse)."""
    u = _unit(np.asarray(x, np.float64))
    k = len(u)
    if k < 2:
        raise SeedscopeError("diversity needs at least 2 images.")
    sim = u @ u.T
    return float((sim.sum() - np.trace(sim)) / (k * (k - 1)))


def diversity_draws(
    cube: np.ndarray,
    vectors: np.ndarray,
    k: int,
    draws: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Per prompt of a (P, S, D) cube: mean diversity of `draws` FPS sets and of `draws` random sets.

    FPS sets start from a random seed and follow `vectors` (S, d); random sets are k seeds drawn
    without replacement. Returns two (P,) arrays of mean pairwise cosine similarity.
    """
    n_p, n_s, _ = cube.shape
    fps = np.zeros(n_p)
    rand = np.zeros(n_p)
    firsts = rng.integers(0, n_s, size=(n_p, draws))
    orders = {f: farthest_point_sampling(vectors, k, first=f) for f in np.unique(firsts)}
    for p in range(n_p):
        fps[p] = np.mean([mean_pairwise_cosine(cube[p, orders[f]]) for f in firsts[p]])
        rand[p] = np.mean(
            [mean_pairwise_cosine(cube[p, rng.choice(n_s, k, replace=False)]) for _ in range(draws)]
        )
    return fps, rand


def feature_cube(
    sw: Any, settings: DiverseSettings, prompt_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prompt ids, seeds, (P, S, D) cube) of style features or z-scored layout columns.

    The grid must be complete over the chosen prompts: every seed has an image of every prompt.
    """
    from seedscope.analysis import stats as st

    if settings.by == "style":
        keys, x = sw.features(settings.features)
        pid = np.asarray(keys["prompt_id"])
        seeds = np.asarray(keys["seed"])
        x = np.asarray(x, np.float64)
    else:
        df = sw.scores(list(settings.layout)).to_pandas()
        pid = df["prompt_id"].to_numpy()
        seeds = df["seed"].to_numpy()
        x = df[list(settings.layout)].to_numpy(np.float64, na_value=np.nan)
    keep = np.isin(pid, prompt_ids)
    pid, seeds, x = pid[keep], seeds[keep], x[keep]
    if settings.by == "layout":
        sd = np.nanstd(x, axis=0)
        x = (x - np.nanmean(x, axis=0)) / np.where(sd > 0, sd, 1.0)
    up, us, flat = st.grid_index(pid, seeds)
    if len(flat) != len(up) * len(us) or np.isnan(x).any():
        raise SeedscopeError(
            f"the {settings.by} features do not cover every (prompt, seed) of the chosen prompts; "
            "score the whole sweep first."
        )
    cube = np.empty((len(up) * len(us), x.shape[1]))
    cube[flat] = x
    return up, us, cube.reshape(len(up), len(us), x.shape[1])


def pick_diverse(sweep: Any, settings: DiverseSettings) -> Any:
    """A diverse card: every seed with its style/layout vector, in farthest-point order."""
    from seedscope.pick.cards import card_from_sweep
    from seedscope.pick.golden import _prompt_table, _selection
    from seedscope.tables import open_sweep

    sw = open_sweep(sweep.path if hasattr(sweep, "path") else sweep)
    prompts = _prompt_table(sw, settings.set)
    _, seeds, cube = feature_cube(sw, settings, prompts["prompt_id"].to_numpy())
    if len(seeds) < settings.per_prompt:
        raise SeedscopeError(
            f"the sweep has {len(seeds)} seeds, fewer than --per-prompt {settings.per_prompt}."
        )
    vectors, info = seed_vectors(cube, settings.dim)
    rng = np.random.default_rng(settings.rng_seed)
    order = farthest_point_sampling(vectors, len(seeds), first=int(rng.integers(len(seeds))))
    chosen = [int(seeds[i]) for i in order]
    what = settings.features if settings.by == "style" else ",".join(settings.layout)
    evidence = {
        "method": "farthest-point sampling (cosine) over per-seed mean features, first seed random "
        "(Xu et al. 2025)",
        "by": settings.by,
        "features": what,
        "per_prompt": settings.per_prompt,
        "vectors": info,
        "settings": settings.to_dict(),
        "selection": _selection(sw, prompts, settings.set, seeds),
    }
    return card_from_sweep(
        sw,
        chosen,
        kind="diverse",
        vectors={int(seeds[i]): vectors[i] for i in order},
        metrics={s: {"fps_rank": r} for r, s in enumerate(chosen)},
        evidence=evidence,
    )


def compare_diverse(card: Any, sweep: Any, settings: Any) -> dict[str, Any]:
    """The study's Table 2 on held-out prompts: diversity of FPS seeds against random seeds."""
    from seedscope.pick.cards import check_sweep
    from seedscope.pick.golden import _prompt_table, heldout_prompts, paired_test
    from seedscope.tables import open_sweep

    sw = open_sweep(sweep.path if hasattr(sweep, "path") else sweep)
    check_sweep(card, sw)
    ev = card.evidence
    ds = DiverseSettings(
        by=str(ev.get("by", "style")),
        per_prompt=int(settings.per_prompt or ev.get("per_prompt", 4)),
        features=str(ev.get("settings", {}).get("features", "world")),
        layout=tuple(ev.get("settings", {}).get("layout", LAYOUT_COLUMNS)),
    )
    prompts, dropped = heldout_prompts(card, _prompt_table(sw, settings.set))
    if prompts.empty:
        raise SeedscopeError(
            "no held-out prompt is left: every prompt of the sweep chose the card."
        )
    _, seeds, cube = feature_cube(sw, ds, prompts["prompt_id"].to_numpy())
    pool = card.seed_list()
    col = {int(s): i for i, s in enumerate(seeds)}
    missing = [s for s in pool if s not in col]
    if missing:
        raise SeedscopeError(f"the held-out sweep has no images of the card's seed {missing[0]}.")
    # Centre by the held-out images' mean so cosines measure spread, not the shared offset.
    flat = cube.reshape(-1, cube.shape[-1])
    cube = (cube - flat.mean(0))[:, [col[s] for s in pool]]
    vectors = np.asarray([s.vector for s in card.seeds], np.float64)
    rng = np.random.default_rng(settings.rng_seed)
    fps, rand = diversity_draws(cube, vectors, ds.per_prompt, settings.draws, rng)
    result = paired_test(fps, rand, settings.reps, settings.level, rng)
    better = None
    if result["wilcoxon_p"] < 1 - settings.level:
        better = "pool" if result["diff"] < 0 else "random"
    row = {
        "metric": f"mean pairwise cosine similarity ({ds.by}: {ev.get('features')})",
        "higher_is_better": False,
        "better": better,
        **result,
    }
    return {
        "card_kind": card.kind,
        "pool_seeds": pool,
        "per_prompt": ds.per_prompt,
        "draws": settings.draws,
        "heldout_prompts": len(prompts),
        "dropped_selection_prompts": dropped,
        "set": settings.set,
        "level": settings.level,
        "test": "per prompt: mean over draws of the pairwise cosine similarity of FPS seeds "
        "(random first) minus that of random seeds; percentile bootstrap over prompts; Wilcoxon "
        "signed-rank",
        "rows": [row],
    }
