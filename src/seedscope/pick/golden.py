"""Golden-seed pools (Xu et al. 2025, Sec. 5 and Table 1): seeds in the top N of a quality metric
and of a preference metric, and the pool against random seeds on held-out prompts."""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seedscope.analysis import stats as st
from seedscope.errors import SeedscopeError
from seedscope.pick.cards import SeedCard, card_from_sweep, check_sweep

log = logging.getLogger(__name__)

SET_METRICS = ("fid", "kid")
"""Quality metrics with one value per seed (from `seedscope fid-seeds`), lower is better."""


@dataclass(frozen=True)
class GoldenSettings:
    """Settings of `pick golden`; saved into the card's evidence."""

    top: int = 16
    quality: str = "fid"
    preference: str = "world.adherent"
    quality_higher_is_better: bool | None = None
    preference_higher_is_better: bool | None = None
    set: str | None = None
    reps: int = 2000
    level: float = 0.95
    rng_seed: int = 0
    # Which `fid_by_seed` result FID/KID come from where the sweep has several (as `rank`).
    fid_extractor: str | None = None

    def __post_init__(self) -> None:
        if self.top < 1:
            raise SeedscopeError(f"--top must be at least 1, not {self.top}.")
        if self.reps < 10:
            raise SeedscopeError(f"--reps must be at least 10, not {self.reps}.")
        if not 0.5 < self.level < 1.0:
            raise SeedscopeError(f"--level must be between 0.5 and 1, not {self.level}.")


@dataclass(frozen=True)
class CompareSettings:
    """Settings of `pick compare` (Table 1 / Table 2 on held-out prompts)."""

    set: str | None = None
    metrics: tuple[str, ...] = ()
    baseline: str = "all"  # "all" seeds of the held-out sweep, or the "others" (not in the pool)
    reps: int = 2000
    level: float = 0.95
    rng_seed: int = 0
    draws: int = 20
    per_prompt: int | None = None
    fid_extractor: str | None = None

    def __post_init__(self) -> None:
        if self.baseline not in ("all", "others"):
            raise SeedscopeError(f"--baseline must be all or others, not {self.baseline!r}.")
        if self.reps < 10:
            raise SeedscopeError(f"--reps must be at least 10, not {self.reps}.")


def _direction(metric: str, override: bool | None, prefix: str) -> bool:
    from seedscope.analysis.rank import metric_direction

    return metric_direction(metric, override, prefix)


def top_n(
    values: np.ndarray, n: int, higher_is_better: bool, tiebreak: np.ndarray | None = None
) -> np.ndarray:
    """Indices of the n best values (NaN never counts as good); ties go to the better `tiebreak`
    (given as a lower-is-better key), then to the lower index."""
    v = np.asarray(values, np.float64)
    key = np.where(np.isnan(v), np.inf, -v if higher_is_better else v)
    second = np.zeros(len(v)) if tiebreak is None else np.asarray(tiebreak, np.float64)
    return np.lexsort((np.arange(len(v)), second, key))[: min(n, len(v))]


def golden_pool(
    quality: np.ndarray,
    preference: np.ndarray,
    top: int,
    *,
    quality_higher_is_better: bool,
    preference_higher_is_better: bool,
) -> np.ndarray:
    """Indices of the seeds in the top `top` of both metrics, best mean rank first (the study's pool)."""
    rq = st.rank_rows(
        np.where(np.isnan(quality), np.inf, -quality if quality_higher_is_better else quality)
    )
    rp = st.rank_rows(
        np.where(
            np.isnan(preference), np.inf, -preference if preference_higher_is_better else preference
        )
    )
    # Ties in one metric (e.g. many seeds at 100% adherence) are broken by the other.
    q = set(top_n(quality, top, quality_higher_is_better, tiebreak=rp).tolist())
    p = set(top_n(preference, top, preference_higher_is_better, tiebreak=rq).tolist())
    both = np.array(sorted(q & p), np.int64)
    if not len(both):
        return both
    score = rq[both] + rp[both]
    return both[np.argsort(score, kind="stable")]


def prompt_digest(prompt: str) -> str:
    """The first 16 hex digits of a prompt's sha256 (cards list them to spot held-out overlap)."""
    return hashlib.sha256(prompt.encode()).hexdigest()[:16]


def _grid(df: pd.DataFrame, column: str) -> st.Grid:
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    return st.to_grid(df["prompt_id"].to_numpy(), df["seed"].to_numpy(), values)


def _prompt_table(sw: Any, set_name: str | None) -> pd.DataFrame:
    """The prompts that have images (of one set, if asked)."""
    prompts = sw.prompts().to_pandas()
    prompts = prompts[prompts["prompt_id"].isin(sw.keys()["prompt_id"].to_numpy())]
    if "set" not in prompts.columns:
        prompts["set"] = None
    if set_name is not None:
        known = sorted({str(s) for s in prompts["set"].dropna()})
        if set_name not in known:
            raise SeedscopeError(
                f"the sweep has no prompt set {set_name!r}; its sets are: {', '.join(known) or 'none'}."
            )
        prompts = prompts[prompts["set"] == set_name]
    return prompts


def score_metric(
    sw: Any, column: str, set_name: str | None, reps: int, level: float, rng: np.random.Generator
) -> pd.DataFrame:
    """Per-seed mean of a per-image score with a percentile-bootstrap interval over prompts."""
    df = sw.scores([column], set=set_name).to_pandas()
    if column not in df.columns:
        raise SeedscopeError(f"the sweep has no score column {column!r}.")
    g = _grid(df, column)
    means = st.seed_means(g.values)
    lo, hi = st.percentile_ci(st.bootstrap_seed_means(g.values, reps, rng), level)
    n = (~np.isnan(g.values)).sum(0)
    return pd.DataFrame(
        {"seed": g.seeds, "value": means, "lo": lo, "hi": hi, "n_prompts": n, "n_images": n}
    )


def fid_result(sw: Any, extractor: str | None = None) -> tuple[Any, Any]:
    """(path, identity) of the sweep's `fid_by_seed` result: the only one, or `extractor`'s."""
    from seedscope.analysis.io import choose_fid_by_seed

    found = choose_fid_by_seed(sw, extractor)
    if found is None:
        raise SeedscopeError(
            f"{sw.path} has no fid_by_seed result; run `seedscope fid-seeds {sw.path} --ref REF`."
        )
    return found


def fid_metric(
    sw: Any, name: str, set_name: str | None, level: float, extractor: str | None = None
) -> pd.DataFrame:
    """Per-seed FID or KID over the chosen prompts, with a jackknife interval over prompt blocks.

    Uses the extractor and reference of the sweep's `fid_by_seed` result (`extractor`'s where
    there are several); without the reference or features, and only over all prompts, the
    stored values without intervals.
    """
    path, _ = fid_result(sw, extractor)
    prompts = _prompt_table(sw, set_name)
    try:
        from seedscope.analysis.fid_interval import fid_kid_intervals

        pid, seeds, x, ref = fid_inputs(sw, name, extractor)
        keep = np.isin(pid, prompts["prompt_id"].to_numpy())
        out = fid_kid_intervals(
            pid[keep], seeds[keep], x[keep], ref.mean, ref.cov, ref.features, level=level
        )
        _, counts = np.unique(seeds[keep], return_counts=True)
        return pd.DataFrame(
            {
                "seed": out["seed"],
                "value": out[name],
                "lo": out[f"{name}_lo"],
                "hi": out[f"{name}_hi"],
                "n_prompts": counts,
                "n_images": counts,
            }
        )
    except (SeedscopeError, KeyError, OSError, ValueError, TypeError) as err:
        if set_name is not None:
            raise SeedscopeError(
                f"per-seed {name.upper()} on prompt set {set_name!r} needs the features and "
                f"reference that made {path.name} ({err})."
            ) from err
        log.warning("no interval for %s: %s", name, err)
        import pyarrow.parquet as pq

        t = pq.read_table(path).to_pandas()
        if name not in t.columns or t[name].isna().all():
            raise SeedscopeError(f"{path.name} has no {name} values.") from err
        return pd.DataFrame(
            {
                "seed": t["seed"],
                "value": t[name],
                "lo": np.nan,
                "hi": np.nan,
                "n_prompts": t["n_images"],
                "n_images": t["n_images"],
            }
        )


def fid_inputs(
    sw: Any, name: str, extractor: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    """(prompt ids, seeds, features, reference) behind the sweep's `fid_by_seed` result: the
    extractor's cached features and the reference that `seedscope fid-seeds` used."""
    from seedscope.features import extractor_options, get_extractor
    from seedscope.metrics.reference import load_reference

    _, ident = fid_result(sw, extractor)
    info = ident.to_dict()
    feat_id = info["inputs"]["features"]
    kw = extractor_options(feat_id["settings"])
    ext = get_extractor(feat_id["producer"], **kw)
    ref = load_reference(info["inputs"]["reference"], ext, allow_small=True)
    keys, x = sw.features(feat_id["producer"], **kw)
    if name == "kid" and ref.features is None:
        raise SeedscopeError("the reference has no features for KID.")
    return np.asarray(keys["prompt_id"]), np.asarray(keys["seed"]), np.asarray(x), ref


def seed_metric(
    sw: Any, metric: str, set_name: str | None, settings: GoldenSettings, rng: np.random.Generator
) -> pd.DataFrame:
    """Per-seed value with interval of a set metric (fid, kid) or a per-image score column."""
    if metric in SET_METRICS:
        return fid_metric(sw, metric, set_name, settings.level, settings.fid_extractor)
    return score_metric(sw, metric, set_name, settings.reps, settings.level, rng)


def pick_golden(sweep: Any, settings: GoldenSettings) -> SeedCard:
    """The study's golden pool of a sweep as a seed card (seeds in the top N of both metrics)."""
    from seedscope.tables import open_sweep

    sw = open_sweep(sweep.path if hasattr(sweep, "path") else sweep)
    rng = np.random.default_rng(settings.rng_seed)
    q_hib = _direction(settings.quality, settings.quality_higher_is_better, "quality-")
    p_hib = _direction(settings.preference, settings.preference_higher_is_better, "preference-")
    q = seed_metric(sw, settings.quality, settings.set, settings, rng)
    p = seed_metric(sw, settings.preference, settings.set, settings, rng)
    table = q.merge(p, on="seed", suffixes=("_q", "_p"))
    if table.empty:
        raise SeedscopeError("the two metrics share no seeds.")
    idx = golden_pool(
        table["value_q"].to_numpy(),
        table["value_p"].to_numpy(),
        settings.top,
        quality_higher_is_better=q_hib,
        preference_higher_is_better=p_hib,
    )
    if not len(idx):
        raise SeedscopeError(
            f"no seed is in the top {settings.top} of both {settings.quality} and "
            f"{settings.preference}; raise --top."
        )
    seeds = [int(s) for s in table["seed"].to_numpy()[idx]]
    metrics = {}
    for i in idx:
        row = table.iloc[int(i)]
        metrics[int(row["seed"])] = {
            settings.quality: _interval(row, "_q"),
            settings.preference: _interval(row, "_p"),
        }
    prompts = _prompt_table(sw, settings.set)
    n_seeds = len(table)
    evidence = {
        "method": "seeds in the top N of both metrics (Xu et al. 2025), best mean rank first",
        "settings": asdict(settings),
        "metrics": {
            settings.quality: {
                "higher_is_better": q_hib,
                "interval": "jackknife over 10 prompt blocks"
                if settings.quality in SET_METRICS
                else "percentile bootstrap over prompts",
            },
            settings.preference: {
                "higher_is_better": p_hib,
                "interval": "jackknife over 10 prompt blocks"
                if settings.preference in SET_METRICS
                else "percentile bootstrap over prompts",
            },
        },
        "level": settings.level,
        "seeds_ranked": n_seeds,
        "pool_size": len(seeds),
        "pool_size_by_chance": settings.top * settings.top / n_seeds,
        "selection": _selection(sw, prompts, settings.set, q),
    }
    return card_from_sweep(sw, seeds, kind="golden", metrics=metrics, evidence=evidence)


def _interval(row: pd.Series, suffix: str) -> dict[str, Any]:
    def num(key: str) -> float | None:
        v = row[key + suffix]
        return None if pd.isna(v) else float(v)

    return {
        "value": num("value"),
        "lo": num("lo"),
        "hi": num("hi"),
        "n_images": int(row["n_images" + suffix]),
    }


def _selection(sw: Any, prompts: pd.DataFrame, set_name: str | None, seeds: Any) -> dict[str, Any]:
    texts = prompts["prompt"].astype(str).tolist()
    return {
        "sweep": str(Path(sw.path).resolve()),
        "prompts_hash": sw.plan.get("prompts_hash"),
        "set": set_name,
        "n_prompts": len(texts),
        "n_images": int(len(texts) * len(seeds)),
        "prompt_digests": sorted(prompt_digest(t) for t in texts),
    }


# Held-out comparison.


def heldout_prompts(card: SeedCard, prompts: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The prompts that did not choose the card (by prompt digest) and how many were dropped."""
    chosen = set((card.evidence.get("selection") or {}).get("prompt_digests") or [])
    if not chosen:
        log.warning("the card lists no selection prompts; cannot check that prompts are held out")
        return prompts, 0
    used = prompts["prompt"].astype(str).map(prompt_digest).isin(chosen)
    return prompts[~used], int(used.sum())


def paired_test(
    pool: np.ndarray, base: np.ndarray, reps: int, level: float, rng: np.random.Generator
) -> dict[str, Any]:
    """Per-prompt paired comparison: means of both arms and of their difference with percentile
    bootstrap intervals over prompts, and the Wilcoxon signed-rank test of the difference."""
    from scipy import stats as sps

    ok = ~(np.isnan(pool) | np.isnan(base))
    a, b = pool[ok], base[ok]
    if len(a) < 2:
        raise SeedscopeError("the comparison needs at least 2 held-out prompts with both arms.")
    d = a - b
    boot = st.bootstrap_seed_means(np.stack([a, b, d], 1), reps, rng)
    lo, hi = st.percentile_ci(boot, level)
    p = 1.0 if np.allclose(d, 0) else float(sps.wilcoxon(d, zero_method="wilcox").pvalue)
    return {
        "n_prompts": len(d),
        "pool": float(a.mean()),
        "pool_lo": float(lo[0]),
        "pool_hi": float(hi[0]),
        "random": float(b.mean()),
        "random_lo": float(lo[1]),
        "random_hi": float(hi[1]),
        "diff": float(d.mean()),
        "diff_lo": float(lo[2]),
        "diff_hi": float(hi[2]),
        "wilcoxon_p": p,
    }


def significant(result: dict[str, Any], level: float) -> bool:
    """Both the Wilcoxon test and the bootstrap interval of the difference reject no difference."""
    excludes_zero = result["diff_lo"] > 0 or result["diff_hi"] < 0
    p = result.get("p", result.get("wilcoxon_p"))
    return bool(p is not None and p < 1 - level and excludes_zero)


def compare_golden(card: SeedCard, sweep: Any, settings: CompareSettings) -> dict[str, Any]:
    """The study's Table 1: pool seeds against random seeds on held-out prompts, paired by prompt
    (per-image scores) or by prompt block (FID and KID, from `seedscope fid-seeds`)."""
    from seedscope.analysis.rank import DIRECTIONS, score_columns
    from seedscope.tables import open_sweep

    sw = open_sweep(sweep.path if hasattr(sweep, "path") else sweep)
    check_sweep(card, sw)
    prompts, dropped = heldout_prompts(card, _prompt_table(sw, settings.set))
    keys = sw.keys().to_pandas()
    keys = keys[keys["prompt_id"].isin(prompts["prompt_id"])]
    if keys.empty:
        raise SeedscopeError(
            "no held-out prompt is left: every prompt of the sweep chose the card."
        )
    pool = card.seed_list()
    have = set(keys["seed"].unique().tolist())
    missing = [s for s in pool if s not in have]
    if missing:
        raise SeedscopeError(
            f"the held-out sweep has no images of pool seed {missing[0]}; generate them with "
            f"`seedscope generate --card CARD --prompts FILE --out DIR` or sweep those seeds."
        )
    base_seeds = sorted(have - set(pool)) if settings.baseline == "others" else sorted(have)
    if not base_seeds:
        raise SeedscopeError("the held-out sweep has no seeds outside the pool to compare with.")
    card_metrics = dict(card.evidence.get("metrics") or {})
    requested = list(settings.metrics)
    df: pd.DataFrame | None = None
    if requested:
        columns = requested
        wanted = [m for m in requested if m not in SET_METRICS]
        if wanted:
            df = sw.scores(wanted, set=settings.set).to_pandas()
    else:
        df = sw.scores(None, set=settings.set).to_pandas()
        columns = score_columns(df)
        for m in card_metrics:  # the card's own selection metrics, always
            if m in columns:
                continue
            if m in SET_METRICS or m in df.columns:
                columns.append(m)
            else:
                log.warning(
                    "the held-out sweep has no score column %r, a metric that chose the card; "
                    "score it to compare it",
                    m,
                )
    if df is not None:
        df = df[df["prompt_id"].isin(prompts["prompt_id"])]
        if df.empty:
            raise SeedscopeError("the held-out prompts have no scores; run `seedscope score`.")
    rng = np.random.default_rng(settings.rng_seed)
    rows = []
    for column in columns:
        entry = card_metrics.get(column)
        hib = (
            entry["higher_is_better"]
            if isinstance(entry, dict) and entry.get("higher_is_better") is not None
            else DIRECTIONS.get(column.rsplit(".", 1)[-1])
        )
        if column in SET_METRICS:
            try:
                result = _set_metric_row(sw, column, prompts, pool, base_seeds, settings, rng)
            except SeedscopeError as err:
                if requested:
                    raise
                log.warning("%s is not compared: %s", column, err)
                continue
        else:
            assert df is not None
            if column not in df.columns:
                raise SeedscopeError(f"the held-out sweep has no score column {column!r}.")
            g = _grid(df, column)
            in_pool = np.isin(g.seeds, pool)
            base_cols = np.isin(g.seeds, base_seeds)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                a = np.nanmean(g.values[:, in_pool], axis=1)
                b = np.nanmean(g.values[:, base_cols], axis=1)
            result = paired_test(a, b, settings.reps, settings.level, rng)
            result.update(p=result["wilcoxon_p"], test="Wilcoxon signed-rank, paired by prompt")
        better = None
        if hib is not None and significant(result, settings.level):
            better = "pool" if (result["diff"] > 0) == hib else "random"
        rows.append({"metric": column, "higher_is_better": hib, "better": better, **result})
    return {
        "card_kind": card.kind,
        "pool_seeds": pool,
        "baseline": settings.baseline,
        "random_seeds": len(base_seeds),
        "heldout_prompts": int(keys["prompt_id"].nunique()),
        "dropped_selection_prompts": dropped,
        "set": settings.set,
        "level": settings.level,
        "test": "per prompt: mean over pool seeds minus mean over random seeds; percentile "
        "bootstrap over prompts; Wilcoxon signed-rank (FID, KID: delete-one-prompt-block "
        "jackknife against random arms of as many images)",
        "rows": rows,
    }


def _set_metric_row(
    sw: Any,
    name: str,
    prompts: pd.DataFrame,
    pool: Sequence[int],
    base_seeds: Sequence[int],
    settings: CompareSettings,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """FID or KID of the pool against random seeds on the held-out prompts."""
    from seedscope.pick.setmetrics import SetMetric, compare_set_metric

    try:
        pid, seeds, x, ref = fid_inputs(sw, name, settings.fid_extractor)
    except (SeedscopeError, KeyError, OSError, ValueError, TypeError) as err:
        raise SeedscopeError(
            f"{name.upper()} of the pool needs the held-out sweep's per-image features and a "
            f"reference: run `seedscope fid-seeds {sw.path} --ref REF` first, with the "
            f"reference and --extractor the card was chosen with ({err})."
        ) from err
    keep = np.isin(pid, prompts["prompt_id"].to_numpy())
    metric = SetMetric(name, x[keep], ref)
    return compare_set_metric(
        metric,
        pid[keep],
        seeds[keep],
        pool,
        base_seeds,
        draws=settings.draws,
        level=settings.level,
        rng=rng,
    )


def compare_card(card: SeedCard, sweep: Any, settings: CompareSettings) -> dict[str, Any]:
    """Table 1 for golden cards, Table 2 for diverse cards, on the held-out sweep."""
    if card.kind == "diverse":
        from seedscope.pick.diverse import compare_diverse

        return compare_diverse(card, sweep, settings)
    return compare_golden(card, sweep, settings)


def comparison_table(result: dict[str, Any]) -> pd.DataFrame:
    """The rows of a comparison as a DataFrame (for printing and the analysis file)."""
    return pd.DataFrame(result["rows"])


def seeds_in(sweep: Any) -> Sequence[int]:
    """The seeds that have images in a sweep."""
    return sorted(set(sweep.keys()["seed"].to_pylist()))
