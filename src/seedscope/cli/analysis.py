"""`seedscope rank`, `seedscope map` and `seedscope composition`: the seed analyses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from seedscope.cli._app import app


def _print(result: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        for line in lines:
            typer.echo(line)


def _ci(row: dict[str, Any]) -> str:
    if "lo" in row and "hi" in row:
        return f"{row['value']:.4g} [{row['lo']:.4g}, {row['hi']:.4g}]"
    return f"{row['value']:.4g}"


@app.command()
def rank(
    sweep: Annotated[Path, typer.Argument(help="Sweep directory (scored).")],
    metric: Annotated[
        str | None, typer.Option(help="Score column to rank by, e.g. hps, fid, world.adherent.")
    ] = None,
    higher_is_better: Annotated[
        bool | None,
        typer.Option(
            "--higher-is-better/--lower-is-better",
            help="Direction of --metric (known for fid, kid, hps, clip_score, adherent, ...).",
            show_default=False,
        ),
    ] = None,
    reps: Annotated[int, typer.Option(help="Bootstrap resamples of the prompts.")] = 1000,
    level: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    split: Annotated[
        float | None,
        typer.Option(help="Split the prompts at random (this fraction first) instead of by set."),
    ] = None,
    split_seed: Annotated[int, typer.Option(help="Seed of the random prompt split.")] = 0,
    k: Annotated[
        int | None, typer.Option("-k", help="Golden/inferior pool size (default: a tenth).")
    ] = None,
    test: Annotated[
        str, typer.Option(help="Best-vs-worst test: heldout, permutation or both.")
    ] = "heldout",
    permutations: Annotated[int, typer.Option(help="Permutations of the permutation test.")] = 999,
    rng_seed: Annotated[int, typer.Option(help="Seed of the resampling.")] = 0,
    fid_intervals: Annotated[
        bool,
        typer.Option(help="Jackknife intervals for FID/KID (needs the features and reference)."),
    ] = True,
    fid_blocks: Annotated[int, typer.Option(help="Prompt blocks of the FID jackknife.")] = 10,
    fid_extractor: Annotated[
        str | None,
        typer.Option(
            help="The fid_by_seed result to use when fid-seeds ran with several extractors "
            "(e.g. inception@clean, or inception)."
        ),
    ] = None,
    plots: Annotated[bool, typer.Option(help="Write the PNG + SVG figure.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Rank seeds by every score with bootstrap CIs over prompts; golden/inferior seeds; consistency."""
    from seedscope.analysis.rank import RankSettings
    from seedscope.analysis.run import run_rank

    settings = RankSettings(
        metric=metric,
        higher_is_better=higher_is_better,
        reps=reps,
        level=level,
        rng_seed=rng_seed,
        split=split,
        split_seed=split_seed,
        k=k,
        test=test,
        permutations=permutations,
        fid_intervals=fid_intervals,
        fid_blocks=fid_blocks,
        fid_extractor=fid_extractor,
    )
    res = run_rank(sweep, settings, make_plots=plots)
    pct = f"{100 * res['level']:g}%"
    lines = [
        f"{res['seeds']} seeds x {res['prompts']} prompts; {res['metric']} "
        f"({'higher' if res['higher_is_better'] else 'lower'} is better), {pct} CIs: "
        f"{res['interval']}",
        "golden:   " + ", ".join(f"{r['seed']}: {_ci(r)}" for r in res["golden"]),
        "inferior: " + ", ".join(f"{r['seed']}: {_ci(r)}" for r in res["inferior"]),
    ]
    if res.get("fid"):
        lines.append(res["fid"])
    for t in res["tests"].values():
        gap = t.get("gap_heldout", t.get("gap"))
        lines.append(f"test: {t['test']}: gap {gap:.4g}, p = {t['p_value']:.4g}")
    if res.get("not_run"):
        lines.append(res["not_run"])
    c = res.get("consistency")
    if c:
        lines.append(
            f"consistency ({res['sets']['how']}): Spearman rho {c['spearman_rho']:.3f} "
            + (
                f"[{c['spearman_lo']:.3f}, {c['spearman_hi']:.3f}]"
                if c["spearman_lo"] == c["spearman_lo"]
                else "(no interval)"
            )
            + f", p = {c['spearman_p']:.3g}; "
            f"top-{int(c['top_k']['k'])} overlap {int(c['top_k']['overlap'])} "
            f"(chance {c['top_k']['expected']:.2f}, p = {c['top_k']['p_value']:.3g}), "
            f"bottom-{int(c['bottom_k']['k'])} overlap {int(c['bottom_k']['overlap'])} "
            f"(p = {c['bottom_k']['p_value']:.3g})"
        )
    lines += [f"-> {f}" for f in res["files"]]
    _print(res, as_json, lines)


@app.command("map")
def map_(
    sweep: Annotated[Path, typer.Argument(help="Sweep directory (scored, with gram features).")],
    by: Annotated[
        str, typer.Option(help="style (Gram features) or layout (object position).")
    ] = "style",
    clusters: Annotated[
        int | None, typer.Option(help="Number of seed clusters (default: best silhouette).")
    ] = None,
    perplexity: Annotated[float, typer.Option(help="t-SNE perplexity.")] = 30.0,
    pca_dim: Annotated[int, typer.Option(help="PCA dimensions before t-SNE.")] = 50,
    split: Annotated[
        float | None, typer.Option(help="Random prompt split (map / held-out) instead of by set.")
    ] = None,
    split_seed: Annotated[int, typer.Option(help="Seed of the random prompt split.")] = 0,
    rng_seed: Annotated[int, typer.Option(help="Seed of PCA, t-SNE and k-means.")] = 0,
    plots: Annotated[bool, typer.Option(help="Write the PNG + SVG map.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Style or layout map of the seeds (t-SNE), clusters named by scores and checked held out."""
    from seedscope.analysis.maps import MapSettings
    from seedscope.analysis.run import run_map

    settings = MapSettings(
        by=by,
        pca_dim=pca_dim,
        perplexity=perplexity,
        clusters=clusters,
        rng_seed=rng_seed,
        split=split,
        split_seed=split_seed,
    )
    res = run_map(sweep, settings, make_plots=plots)
    g = res["grid"]
    lines = [
        f"{res['by']} map of {res['seeds']} seeds over {res['prompts']} prompts of "
        f"{res['sets']['map']!r} ({res['backend']} t-SNE); held-out: {res['sets']['heldout']!r}",
    ]
    if not g["complete"]:
        lines.append(
            f"grid incomplete ({g['grid'][0]} x {g['grid'][1]}): used the largest complete "
            f"block, {g['block'][0]} prompts x {g['block'][1]} seeds"
        )
    for c in res["clusters"]:
        head = f"cluster {c['cluster']} ({c.get('n_seeds', '?')} seeds): "
        if c.get("property"):
            held = (
                f"held out {100 * c['share_heldout']:.0f}% vs {100 * c['overall_heldout']:.0f}% "
                f"(p = {c['p_heldout']:.3g}): {'holds' if c['holds'] else 'does NOT hold'}"
                if c.get("share_heldout") is not None
                else "no held-out scores"
            )
            lines.append(
                head + f"{c['property']}: {100 * c['share']:.0f}% of its images vs "
                f"{100 * c['overall']:.0f}% overall; {held}"
            )
        else:
            lines.append(head + "no property explains it")
    lines += [f"-> {f}" for f in res["files"]]
    _print(res, as_json, lines)


@app.command()
def composition(
    sweep: Annotated[Path, typer.Argument(help="Sweep directory (scored).")],
    category: Annotated[
        str | None, typer.Option(help="Category word for the centroid plot (Fig. 10).")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="world or composition (default: world where it ran).")
    ] = None,
    reps: Annotated[int, typer.Option(help="Bootstrap resamples of the prompts.")] = 1000,
    rng_seed: Annotated[int, typer.Option(help="Seed of the resampling.")] = 0,
    plots: Annotated[bool, typer.Option(help="Write the PNG + SVG figure.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Where the seed puts the object, and how much of each score the seed decides."""
    from seedscope.analysis.composition import CompositionSettings
    from seedscope.analysis.run import run_composition

    settings = CompositionSettings(reps=reps, rng_seed=rng_seed, source=source)
    res = run_composition(sweep, settings, category=category, make_plots=plots)
    lines = [
        f"what the seed decides ({res['seeds']} seeds x {res['prompts']} prompts; "
        "share of variance, seed / prompt / interaction+residual, 95% CI over prompts):"
    ]
    for r in res["decides"]:
        lines.append(
            f"  {r['column']:<24} seed {100 * r['var_seed']:5.1f}% "
            f"[{100 * r['var_seed_lo']:.1f}, {100 * r['var_seed_hi']:.1f}]  "
            f"prompt {100 * r['var_prompt']:5.1f}%  residual {100 * r['var_residual']:5.1f}%  "
            f"(eta2 seed {100 * r['ss_seed']:.1f}%)"
        )
    lines += [f"-> {f}" for f in res["files"]]
    _print(res, as_json, lines)
