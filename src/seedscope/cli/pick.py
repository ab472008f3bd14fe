"""`seedscope pick ...`, `seedscope card verify` and `seedscope generate`: seeds put to work as seed cards."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from seedscope.cli._app import app

pick_app = typer.Typer(
    help="Golden-seed pools and diverse seeds as seed cards, and their held-out comparison.",
    no_args_is_help=True,
)
card_app = typer.Typer(help="Seed cards: check one on this machine.", no_args_is_help=True)
app.add_typer(pick_app, name="pick")
app.add_typer(card_app, name="card")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
FidExtractorOpt = Annotated[
    str | None,
    typer.Option(
        "--fid-extractor",
        help="The fid_by_seed result for fid/kid when fid-seeds ran with several extractors"
        " (e.g. inception@clean, or inception).",
    ),
]


def _summary(card: Any, path: Path) -> dict[str, Any]:
    return {
        "card": str(path),
        "kind": card.kind,
        "seeds": card.seed_list(),
        "model": card.model.get("id"),
        "latent_shape": list(card.latent_shape),
        "evidence": {k: v for k, v in card.evidence.items() if k != "selection"},
    }


def _fmt(x: Any) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


@pick_app.command("golden")
def golden_cmd(
    sweep: Annotated[str, typer.Argument(help="Sweep directory with scores (and fid-seeds).")],
    out: Annotated[Path, typer.Option("--out", help="Seed card to write (JSON).")],
    top: Annotated[int, typer.Option("--top", help="N: keep seeds in the top N of both.")] = 16,
    quality: Annotated[
        str, typer.Option("--quality", help="fid, kid (from fid-seeds) or a score column.")
    ] = "fid",
    preference: Annotated[
        str, typer.Option("--preference", help="A per-image score column, e.g. world.adherent.")
    ] = "world.adherent",
    quality_higher: Annotated[
        bool | None,
        typer.Option(
            "--quality-higher-is-better/--quality-lower-is-better",
            help="Direction of --quality (default: known for fid, kid and seedscope's scores).",
        ),
    ] = None,
    preference_higher: Annotated[
        bool | None,
        typer.Option(
            "--preference-higher-is-better/--preference-lower-is-better",
            help="Direction of --preference (default: known for seedscope's scores).",
        ),
    ] = None,
    set_name: Annotated[
        str | None,
        typer.Option("--set", help="Choose on this prompt set only (hold out the rest)."),
    ] = None,
    reps: Annotated[int, typer.Option("--reps", help="Bootstrap resamples of the prompts.")] = 2000,
    fid_extractor: FidExtractorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the study's golden pool (top N of a quality and a preference metric) as a seed card."""
    from seedscope.pick.cards import write_card
    from seedscope.pick.golden import GoldenSettings, pick_golden

    settings = GoldenSettings(
        top=top,
        quality=quality,
        preference=preference,
        quality_higher_is_better=quality_higher,
        preference_higher_is_better=preference_higher,
        set=set_name,
        reps=reps,
        fid_extractor=fid_extractor,
    )
    card = pick_golden(sweep, settings)
    path = write_card(card, out)
    _report(card, path, as_json)


def _report(card: Any, path: Path, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(_summary(card, path)))
        return
    typer.echo(f"wrote {card.kind} card {path}: {len(card.seeds)} seeds")
    for s in card.seeds[:20]:
        metrics = "  ".join(
            f"{k} {_fmt(v.get('value'))} [{_fmt(v.get('lo'))}, {_fmt(v.get('hi'))}]"
            if isinstance(v, dict)
            else f"{k} {_fmt(v)}"
            for k, v in s.metrics.items()
        )
        typer.echo(f"  seed {s.seed:>8}  {metrics}")


@pick_app.command("diverse")
def diverse_cmd(
    sweep: Annotated[str, typer.Argument(help="Sweep directory with features or layout scores.")],
    out: Annotated[Path, typer.Option("--out", help="Seed card to write (JSON).")],
    per_prompt: Annotated[int, typer.Option("--per-prompt", help="K images per prompt.")] = 4,
    by: Annotated[str, typer.Option("--by", help="style or layout.")] = "style",
    features: Annotated[
        str, typer.Option("--features", help="Style feature extractor (world, gram, inception).")
    ] = "world",
    set_name: Annotated[
        str | None,
        typer.Option("--set", help="Choose on this prompt set only (hold out the rest)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random first seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Order every seed by farthest-point sampling of its style or layout vector (a diverse card)."""
    from seedscope.pick.cards import write_card
    from seedscope.pick.diverse import DiverseSettings, pick_diverse

    settings = DiverseSettings(
        by=by, per_prompt=per_prompt, features=features, set=set_name, rng_seed=seed
    )
    card = pick_diverse(sweep, settings)
    _report(card, write_card(card, out), as_json)


@pick_app.command("compare")
def compare_cmd(
    card: Annotated[Path, typer.Argument(help="A seed card.")],
    sweep: Annotated[str, typer.Argument(help="Sweep of held-out prompts with the card's seeds.")],
    set_name: Annotated[
        str | None, typer.Option("--set", help="Compare on this prompt set only.")
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            help="Comma-separated score columns, fid or kid (default: every score and the card's).",
        ),
    ] = None,
    baseline: Annotated[
        str, typer.Option("--baseline", help="Random seeds: all seeds of the sweep, or others.")
    ] = "all",
    per_prompt: Annotated[
        int | None, typer.Option("--per-prompt", help="Diverse cards: K images per prompt.")
    ] = None,
    draws: Annotated[
        int,
        typer.Option(
            "--draws", help="Random arms: diverse cards' first seeds per prompt; FID/KID arms."
        ),
    ] = 20,
    reps: Annotated[int, typer.Option("--reps", help="Bootstrap resamples of the prompts.")] = 2000,
    fid_extractor: FidExtractorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pool seeds against random seeds on held-out prompts (Table 1; Table 2 for diverse cards)."""
    from seedscope.pick.cards import load_card
    from seedscope.pick.golden import CompareSettings, compare_card, comparison_table

    settings = CompareSettings(
        set=set_name,
        metrics=tuple(m.strip() for m in (metrics or "").split(",") if m.strip()),
        baseline=baseline,
        per_prompt=per_prompt,
        draws=draws,
        reps=reps,
        fid_extractor=fid_extractor,
    )
    result = compare_card(load_card(card), sweep, settings)
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(
        f"{result['card_kind']} pool of {len(result['pool_seeds'])} seeds vs random seeds on "
        f"{result['heldout_prompts']} held-out prompts ({result['dropped_selection_prompts']} "
        f"selection prompts dropped); {int(result['level'] * 100)}% intervals"
    )
    table = comparison_table(result)
    for _, r in table.iterrows():
        typer.echo(
            f"  {r['metric']:<34} pool {_fmt(r['pool'])} [{_fmt(r['pool_lo'])}, {_fmt(r['pool_hi'])}]"
            f"  random {_fmt(r['random'])} [{_fmt(r['random_lo'])}, {_fmt(r['random_hi'])}]"
            f"  diff {_fmt(r['diff'])} [{_fmt(r['diff_lo'])}, {_fmt(r['diff_hi'])}]"
            f"  p {_fmt(r.get('p', r.get('wilcoxon_p')))}  better {_fmt(r['better'])}"
        )


@pick_app.command("adaptive")
def adaptive_cmd(
    model: Annotated[str, typer.Option("--model", help="world, a hub id or a pipeline folder.")],
    prompts: Annotated[str, typer.Option("--prompts", help="Prompt file to draw prompts from.")],
    seeds: Annotated[str, typer.Option("--seeds", help="Candidate seeds, e.g. 0-255.")],
    out: Annotated[str, typer.Option("--out", help="Search folder (rounds are sweeps in it).")],
    card: Annotated[Path, typer.Option("--card", help="Seed card of the pool to write.")],
    metric: Annotated[
        str, typer.Option("--metric", help="A per-image score column, e.g. world.adherent.")
    ] = "world.adherent",
    lower_is_better: Annotated[
        bool, typer.Option("--lower-is-better", help="Smaller values of the metric are better.")
    ] = False,
    pool: Annotated[int, typer.Option("--pool", help="Seeds in the pool.")] = 8,
    budget: Annotated[
        float,
        typer.Option("--budget", help="Images: a fraction of prompts x seeds (<1) or a count."),
    ] = 0.25,
    eta: Annotated[int, typer.Option("--eta", help="Keep 1/eta of the seeds each round.")] = 2,
    set_name: Annotated[
        str | None, typer.Option("--set", help="Draw prompts from this prompt set only.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the prompt order.")] = 0,
    steps: Annotated[int | None, typer.Option("--steps", help="Sampling steps.")] = None,
    guidance: Annotated[float | None, typer.Option("--guidance", help="Guidance scale.")] = None,
    dtype: Annotated[str, typer.Option("--dtype", help="float32, float16 or bfloat16.")] = (
        "float32"
    ),
    device: Annotated[str | None, typer.Option("--device", help="Device of the model.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per pipeline call.")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Golden seeds for a fraction of the images: successive halving, generating only what it needs."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from seedscope.pick.adaptive import SearchSettings, adaptive_search
    from seedscope.pick.cards import write_card

    settings = SearchSettings(
        model=model,
        prompts=prompts,
        seeds=seeds,
        out=out,
        metric=metric,
        higher_is_better=not lower_is_better,
        pool=pool,
        budget=budget,
        eta=eta,
        set=set_name,
        rng_seed=seed,
        steps=steps,
        guidance=guidance,
        dtype=dtype,
        device=device,
        batch_size=batch_size,
    )
    result, pool_card = adaptive_search(settings)
    path = write_card(pool_card, card)
    if as_json:
        typer.echo(json.dumps({**_summary(pool_card, path), "rounds": result.rounds}))
        return
    ev = pool_card.evidence
    typer.echo(
        f"successive halving: {result.images} images of {ev['exhaustive_images']} "
        f"({result.images / ev['exhaustive_images']:.0%}) in {len(result.rounds)} rounds"
    )
    for r in result.rounds:
        typer.echo(
            f"  round {r['round']}: {r['seeds']} seeds on {r['prompts_seen']} prompts "
            f"({r['images']} images so far)"
        )
    _report(pool_card, path, False)


@card_app.command("verify")
def verify_cmd(
    card: Annotated[Path, typer.Argument(help="A seed card.")],
    model: Annotated[
        str | None, typer.Option("--model", help="Model to check against (default: the card's).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the card's noise fingerprints on this machine; exit 1 if any differs."""
    from seedscope.pick.cards import load_card, verify_card

    result = verify_card(load_card(card), model)
    if as_json:
        typer.echo(json.dumps(result))
    elif result["ok"]:
        typer.echo(
            f"ok: {result['seeds_checked']} seeds draw the card's noise "
            f"({result['dtype']}, {result['generator_device']}, latent {result['latent_shape']})"
        )
    else:
        typer.echo(f"MISMATCH: seeds {result['mismatched']} draw other noise here", err=True)
    if not result["ok"]:
        raise typer.Exit(1)


@app.command("generate")
def generate_cmd(
    card: Annotated[Path, typer.Option("--card", help="A seed card.")],
    prompts: Annotated[str, typer.Option("--prompts", help="Prompt file (txt, csv or jsonl).")],
    out: Annotated[str, typer.Option("--out", help="Output sweep directory.")],
    per_prompt: Annotated[
        int | None,
        typer.Option("--per-prompt", help="K images per prompt: the card's first K seeds."),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Model (default: the card's; must match it).")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per pipeline call.")] = 8,
    device: Annotated[
        str | None, typer.Option("--device", help="Device to run the model on.")
    ] = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Generate PROMPTS x the card's seeds into an ordinary (resumable) sweep directory."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from seedscope.pick.cards import generate_from_card, load_card

    if not quiet:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = generate_from_card(
        load_card(card),
        prompts,
        out,
        per_prompt=per_prompt,
        model=model,
        batch_size=batch_size,
        device=device,
        progress=not quiet and not as_json,
    )
    if as_json:
        typer.echo(json.dumps(result))
    elif not quiet:
        typer.echo(
            f"{result['mode']}: {result['images_generated']} images of seeds "
            f"{result['seeds']} into {result['out']} (noise checked against the card)",
            err=True,
        )
