"""`seedscope world ...`: the bundled miniature world and its model."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from seedscope.cli._app import app
from seedscope.errors import SeedscopeError

world_app = typer.Typer(
    help="The bundled miniature world: prompt sets, real scenes, training and evaluation of its model.",
    no_args_is_help=True,
)
app.add_typer(world_app, name="world")
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)  # log lines whole


@world_app.command("prompts")
def prompts_cmd(
    out: Annotated[
        Path, typer.Option("--out", help="File to write: .txt, .csv or .jsonl (by extension).")
    ],
    n: Annotated[int, typer.Option("--n", help="Number of distinct prompts.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the prompt grammar.")] = 0,
    sets: Annotated[
        str | None,
        typer.Option(
            "--sets",
            help="Comma-separated names of disjoint prompt sets, e.g. 'a,b' (adds a `set` column).",
        ),
    ] = None,
) -> None:
    """Write a prompt set of the world grammar (category + modifiers, and sentence-like captions)."""
    from seedscope.store import atomic_write_bytes
    from seedscope.world.prompts import make_prompts

    names = [s.strip() for s in (sets or "").split(",") if s.strip()] or None
    suffix = out.suffix.lower()
    if out.is_dir():
        raise SeedscopeError(
            f"--out {out} is a folder; give a file name ending in .txt, .csv or .jsonl."
        )
    if suffix not in {".txt", ".csv", ".jsonl"}:
        raise SeedscopeError(f"--out {out} must end in .txt, .csv or .jsonl.")
    if suffix == ".txt" and names:
        raise SeedscopeError("--sets needs a .csv or .jsonl output, which has a `set` column.")
    df = make_prompts(n, seed, names)
    if suffix == ".csv":
        text = df.to_csv(index=False)
    elif suffix == ".jsonl":
        text = df.to_json(orient="records", lines=True) or ""
    else:
        text = "\n".join(df["prompt"]) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(text.encode(), out)
    err.print(f"wrote {len(df)} prompts to {out}")


@world_app.command("render")
def render_cmd(
    prompts: Annotated[Path, typer.Option("--prompts", help="Prompt file (txt, csv or jsonl).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the PNG scenes.")],
    per_prompt: Annotated[int, typer.Option("--per-prompt", help="Scenes per prompt.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the scene sampler.")] = 0,
) -> None:
    """Render real world scenes for a prompt set: the reference set for FID."""
    from seedscope.sweep.prompts import load_prompts
    from seedscope.world.prompts import render_prompts

    table = load_prompts(prompts)
    if out.exists() and not out.is_dir():
        raise SeedscopeError(f"--out {out} is a file; give a folder.")
    count = render_prompts(table.column("prompt").to_pylist(), out, per_prompt, seed)
    err.print(f"rendered {count} scenes into {out}")


@world_app.command("train")
def train_cmd(
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir", help="Checkpoints and data (default ~/.cache/seedscope/world-train)."
        ),
    ] = None,
    part: Annotated[
        str,
        typer.Option(
            "--part",
            help="all, detector, model (VAE, UNet, decoder), or one stage: vae, unet, decoder, export."
            " Stages after the VAE can run in parallel processes.",
        ),
    ] = "all",
    unet_steps: Annotated[
        int | None,
        typer.Option(
            "--unet-steps",
            help="UNet training steps (default 12000; the learning rate decays over them).",
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option("--threads", help="torch threads (default 1; use more on a free machine)."),
    ] = None,
    init_from: Annotated[
        str | None,
        typer.Option(
            "--init-from",
            help="Warm start from a world pipeline folder, or 'shipped' for the bundled weights"
            " (its autoencoder is kept; the UNet and decoder are fine-tuned).",
        ),
    ] = None,
    mode_weights: Annotated[
        str | None,
        typer.Option(
            "--mode-weights",
            help="Draw scenes showing these modes more often in UNet batches, e.g."
            " 'border=3,grayscale=2'.",
        ),
    ] = None,
    unet_lr: Annotated[
        float | None, typer.Option("--unet-lr", help="Peak UNet learning rate (default 5e-4).")
    ] = None,
    decoder_steps: Annotated[
        int | None,
        typer.Option("--decoder-steps", help="Decoder fine-tuning steps (default 3000)."),
    ] = None,
    unet_edge_weight: Annotated[
        float | None,
        typer.Option(
            "--unet-edge-weight",
            help="Weight of the outer latent rows/columns in the UNet loss (default 1: none).",
        ),
    ] = None,
    decoder_edge_weight: Annotated[
        float | None,
        typer.Option(
            "--decoder-edge-weight",
            help="Extra L1 weight of the outer 8 pixels in the decoder loss (default 0).",
        ),
    ] = None,
    high_noise_frac: Annotated[
        float | None,
        typer.Option(
            "--high-noise-frac",
            help="Share of each UNet batch trained on the noisiest timesteps only (t >= 850;"
            " default 0).",
        ),
    ] = None,
    prediction_type: Annotated[
        str | None,
        typer.Option(
            "--prediction-type",
            help="What the UNet learns to predict: epsilon (default) or v_prediction (its loss"
            " keeps weight on the noisiest steps); a warm start from epsilon weights converts.",
        ),
    ] = None,
    zero_terminal_snr: Annotated[
        bool | None,
        typer.Option(
            "--zero-terminal-snr/--no-zero-terminal-snr",
            help="Rescale the noise schedule to zero terminal SNR and sample with trailing"
            " timesteps (Lin et al. 2024); needs --prediction-type v_prediction.",
        ),
    ] = None,
    ot_pool: Annotated[
        int | None,
        typer.Option(
            "--ot-pool",
            help="Pair each batch's noises with its images by minibatch optimal transport on"
            " latents average-pooled over this many cells (e.g. 8); default 0: independent.",
        ),
    ] = None,
    ot_edge_weight: Annotated[
        float | None,
        typer.Option(
            "--ot-edge-weight",
            help="With --ot-pool: weight of the edge contrast (outer latent band minus the ring"
            " inside it, per channel) in the OT cost, so the seed decides frames (default 0).",
        ),
    ] = None,
    latent_flags: Annotated[
        str | None,
        typer.Option(
            "--latent-flags",
            help="Carry these modes as coarse cosine patterns of the last latent channel, e.g."
            " 'border=0.6,grayscale=0.6' (amplitude in scaled latent units): the UNet trains on"
            " latents carrying them, after the decoder is fine-tuned to draw alike with or without.",
        ),
    ] = None,
    flag_steps: Annotated[
        int | None,
        typer.Option(
            "--flag-steps", help="Decoder fine-tuning steps for --latent-flags (default 2000)."
        ),
    ] = None,
    ot_flag_weight: Annotated[
        float | None,
        typer.Option(
            "--ot-flag-weight",
            help="With --latent-flags: pair each flagged scene, by minibatch optimal transport,"
            " with a noise whose projection on the flag's pattern is among the highest, so the"
            " seed decides the mode (weight in the OT cost; alone without --ot-pool; default 0).",
        ),
    ] = None,
    flag_leak_correction: Annotated[
        bool | None,
        typer.Option(
            "--flag-leak-correction/--no-flag-leak-correction",
            help="With --latent-flags: take each flag's leak at the last timestep off its scenes'"
            " noise, so the noisiest training inputs carry the seed's own flag score.",
        ),
    ] = None,
    flag_read_weight: Annotated[
        float | None,
        typer.Option(
            "--flag-read-weight",
            help="With --latent-flags: add the squared error of each flag's read in the clean"
            " latents the UNet's output implies, at every timestep, times this weight, so the"
            " UNet learns to decide a flag from the seed at the noisiest steps (default 0).",
        ),
    ] = None,
    decoder_samples: Annotated[
        int | None,
        typer.Option(
            "--decoder-samples",
            help="The decoder stage also trains on this many of the UNet's own (SDEdit)"
            " renderings of training scenes, half of each batch, against the scenes' images, so"
            " it draws clean frames from the latents the UNet makes (default 0: none).",
        ),
    ] = None,
    decoder_free_samples: Annotated[
        int | None,
        typer.Option(
            "--decoder-free-samples",
            help="With --latent-flags: the decoder stage also trains on this many of the UNet's"
            " generations from pure noise, each against the decoder's own image of it redrawn"
            " framed or gray where the UNet drew that flag (default 0: none).",
        ),
    ] = None,
    export_weights: Annotated[
        str,
        typer.Option(
            "--export-weights",
            help="What the export stage writes: ema (the averaged weights, to WORKDIR/export) or"
            " raw (the latest training weights, to WORKDIR/export-raw-STEP).",
        ),
    ] = "ema",
    install: Annotated[
        bool,
        typer.Option("--install", help="Copy the trained weights into the package (maintainers)."),
    ] = False,
) -> None:
    """Train the world model (VAE, then UNet + text encoder) and the detector; resumes from checkpoints.

    A run resumed in a work folder keeps the settings it was started with (its train.json);
    options given again replace them.
    """
    import dataclasses
    import shutil

    from seedscope.world.detect import DETECTOR_PATH, train_detector
    from seedscope.world.flags import parse_flags
    from seedscope.world.model import weights_path
    from seedscope.world.train import (
        DEFAULT_WORKDIR,
        Trainer,
        parse_mode_weights,
        saved_config,
        scheduler_changes,
    )

    stages = {
        "model": ("unet", "decoder", "export"),
        "all": ("unet", "decoder", "export"),
        "vae": (),
        "unet": ("unet", "export"),
        "decoder": ("decoder",),
        "export": ("export",),
    }
    if part not in {*stages, "detector"}:
        raise SeedscopeError(
            f"--part must be all, detector, model, vae, unet, decoder or export, not {part!r}."
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    wd = workdir or DEFAULT_WORKDIR
    if part in stages:
        parse_mode_weights(mode_weights or "")  # one sentence on bad input, before any work
        parse_flags(latent_flags or "")
        if flag_steps is not None and flag_steps < 0:
            raise SeedscopeError("--flag-steps must be 0 or more.")
        if decoder_samples is not None and decoder_samples < 0:
            raise SeedscopeError("--decoder-samples must be 0 or more.")
        if decoder_free_samples is not None and decoder_free_samples < 0:
            raise SeedscopeError("--decoder-free-samples must be 0 or more.")
        if export_weights not in ("ema", "raw"):
            raise SeedscopeError(f"--export-weights must be ema or raw, not {export_weights!r}.")
        if high_noise_frac is not None and not 0.0 <= high_noise_frac <= 1.0:
            raise SeedscopeError("--high-noise-frac must be between 0 and 1.")
        if prediction_type not in (None, "epsilon", "v_prediction"):
            raise SeedscopeError(
                f"--prediction-type must be epsilon or v_prediction, not {prediction_type!r}."
            )
        try:
            base = saved_config(wd)
        except (ValueError, TypeError) as bad:
            raise SeedscopeError(
                f"{wd / 'train.json'} is not a training run's settings ({bad}); move it away."
            ) from bad
        if ot_pool is not None and not 0 <= ot_pool <= 32:
            raise SeedscopeError("--ot-pool must be between 0 and 32 latent cells.")
        if ot_edge_weight is not None and ot_edge_weight < 0:
            raise SeedscopeError("--ot-edge-weight must be 0 or more.")
        if (
            init_from not in (None, "shipped")
            and not (Path(init_from) / "model_index.json").is_file()
        ):
            raise SeedscopeError(
                f"--init-from {init_from} is not a world pipeline folder (no model_index.json);"
                " give one, or 'shipped'."
            )
        changes: dict[str, Any] = {
            "mode_weights": mode_weights,
            "unet_steps": unet_steps,
            "threads": threads,
            "init_from": init_from,
            "unet_lr": unet_lr,
            "decoder_steps": decoder_steps,
            "unet_edge_weight": unet_edge_weight,
            "decoder_edge_weight": decoder_edge_weight,
            "high_noise_frac": high_noise_frac,
            "prediction_type": prediction_type,
            "zero_terminal_snr": zero_terminal_snr,
            "ot_pool": ot_pool,
            "ot_edge_weight": ot_edge_weight,
            "latent_flags": latent_flags,
            "flag_steps": flag_steps,
            "ot_flag_weight": ot_flag_weight,
            "flag_leak_correction": flag_leak_correction,
            "flag_read_weight": flag_read_weight,
            "decoder_samples": decoder_samples,
            "decoder_free_samples": decoder_free_samples,
        }
        cfg = dataclasses.replace(base, **{k: v for k, v in changes.items() if v is not None})
        if cfg.ot_flag_weight < 0:
            raise SeedscopeError("--ot-flag-weight must be 0 or more.")
        if cfg.ot_flag_weight and not cfg.latent_flags:
            raise SeedscopeError("--ot-flag-weight needs --latent-flags (it couples their noise).")
        if cfg.flag_leak_correction and not cfg.latent_flags:
            raise SeedscopeError("--flag-leak-correction needs --latent-flags.")
        if cfg.flag_read_weight < 0:
            raise SeedscopeError("--flag-read-weight must be 0 or more.")
        if cfg.flag_read_weight and not cfg.latent_flags:
            raise SeedscopeError("--flag-read-weight needs --latent-flags (it reads their flags).")
        if cfg.decoder_free_samples and not cfg.latent_flags:
            raise SeedscopeError(
                "--decoder-free-samples needs --latent-flags (its targets follow the flags drawn)."
            )
        if cfg.ot_edge_weight and not cfg.ot_pool:
            raise SeedscopeError(
                "--ot-edge-weight needs --ot-pool (it weighs a term of the OT cost)."
            )
        try:
            scheduler_changes(cfg)  # the run's own check of its settings, as one sentence
        except ValueError:
            raise SeedscopeError(
                "--zero-terminal-snr needs --prediction-type v_prediction."
            ) from None
    # Options are checked above, before any work: the detector trains first under --part all.
    if part in {"detector", "all"}:
        det = wd / "detector.safetensors"
        if not det.exists():
            train_detector(det)
        if install:
            DETECTOR_PATH.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(det, DETECTOR_PATH)
    if part in stages:
        trainer = Trainer(wd, cfg, progress=lambda s: err.print(s))
        export = trainer.run(stages[part], weights=export_weights)
        if install:
            dest = weights_path()
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(export, dest)
            err.print(f"installed {export} -> {dest}")


def _finite(value: Any) -> Any:
    """NaN (an undefined share) as JSON null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and value != value:
        return None
    return value


def _one_format(as_json: bool, markdown: bool) -> None:
    """Refuse --json with --markdown."""
    if as_json and markdown:
        raise SeedscopeError("give --json or --markdown, not both.")


def _echo_as(data: Any, as_json: bool, markdown: bool, md: Any, text: Any) -> None:
    """Print data as JSON (NaN as null), md(data) with --markdown, else text(data)."""
    if as_json:
        typer.echo(json.dumps(_finite(data), indent=2))
    else:
        typer.echo(md(data) if markdown else text(data))


def _saved_evaluation(path: Path, name: str, check: Any) -> Any:
    """A saved `world evaluate --json` output; check(saved) must not fail on it, else one sentence."""
    try:
        saved = json.loads(path.read_text())
        check(saved)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise SeedscopeError(
            f"{name} is not the output of `seedscope world evaluate --json`"
            f" ({type(e).__name__}: {e})."
        ) from None
    return saved


@world_app.command("evaluate")
def evaluate_cmd(
    prompts: Annotated[
        Path | None,
        typer.Option("--prompts", help="Prompt file (default: 32 prompts of the grammar, seed 7)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="A world pipeline folder (default: bundled).")
    ] = None,
    n: Annotated[
        int, typer.Option("--n", help="Number of default prompts when --prompts is not given.")
    ] = 32,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds 0..N-1 for every prompt.")] = 8,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per pipeline call.")] = 64,
    steps: Annotated[
        int | None, typer.Option("--steps", help="Sampling steps (default: the model's).")
    ] = None,
    guidance: Annotated[
        float | None, typer.Option("--guidance", help="Guidance scale (default: the model's).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler", help="Sampler, e.g. ddim, dpm++, unipc (default: the model's)."
        ),
    ] = None,
    prompt_seed: Annotated[
        int, typer.Option("--prompt-seed", help="Seed of the default prompt set.")
    ] = 7,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the measurements as JSON.")
    ] = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the measurements as the README's tables.")
    ] = False,
    from_json: Annotated[
        Path | None,
        typer.Option(
            "--from-json",
            help="Format an earlier `--json` output (with --markdown or as text) instead of"
            " measuring again.",
        ),
    ] = None,
) -> None:
    """Measure the world model on a prompts x seeds grid: adherence, FID (with floor), modes, images/s.

    Images are generated through the sweep's batch generator; each mode's rate is read by its
    own scorer on the generated images and on real scenes of the same prompts.
    """
    from seedscope.world.evaluate import evaluate, format_report, markdown_report

    _one_format(as_json, markdown)
    if from_json is not None:
        check = markdown_report if markdown else format_report
        saved = _saved_evaluation(from_json, f"--from-json {from_json}", check)
        _echo_as(saved, as_json, markdown, markdown_report, format_report)
        return
    texts = None
    if prompts is not None:
        from seedscope.sweep.prompts import load_prompts

        texts = load_prompts(prompts).column("prompt").to_pylist()
    if model is not None and not (Path(model) / "model_index.json").is_file():
        raise SeedscopeError(
            f"--model {model} is not a world pipeline folder (no model_index.json)."
        )
    result = evaluate(
        texts,
        model=model,
        n=n,
        seeds=seeds,
        batch_size=batch_size,
        progress=not as_json,
        steps=steps,
        guidance=guidance,
        scheduler=scheduler,
        prompt_seed=prompt_seed,
    )
    _echo_as(result, as_json, markdown, markdown_report, format_report)


@world_app.command("compare")
def compare_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(help="Saved outputs of `seedscope world evaluate --json`, one per run."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print one Markdown table (as in the README).")
    ] = False,
) -> None:
    """Compare saved world evaluations side by side: adherence, FID (floor), images/s, mode ratios.

    Each FILE is one run, labelled by its file name without .json; nothing is measured again.
    """
    from seedscope.world.evaluate import compare_markdown, compare_rows, compare_text

    _one_format(as_json, markdown)
    runs = []
    for path in files:
        label = path.name.removesuffix(".json")
        runs.append((label, _saved_evaluation(path, str(path), lambda r: compare_rows([("", r)]))))
    _echo_as(compare_rows(runs), as_json, markdown, compare_markdown, compare_text)


@world_app.command("sampler")
def sampler_cmd(
    folder: Annotated[Path, typer.Argument(help="A world pipeline folder (e.g. WORKDIR/export).")],
    scheduler: Annotated[
        str, typer.Option("--scheduler", help="Sampler: ddim, dpm++, unipc, ... or a class name.")
    ],
    steps: Annotated[int, typer.Option("--steps", help="Default sampling steps.")],
    guidance: Annotated[float, typer.Option("--guidance", help="Default guidance scale.")] = 6.0,
) -> None:
    """Set a world pipeline folder's default sampler, steps and guidance (as the shipped one carries).

    Rewrites FOLDER/scheduler/scheduler_config.json and FOLDER/seedscope_sampling.json; sweeps
    with `--model world` and `seedscope world evaluate --model FOLDER` then use them.
    """
    from seedscope.world.model import write_sampler

    if not (folder / "model_index.json").is_file():
        raise SeedscopeError(f"{folder} is not a world pipeline folder (no model_index.json).")
    name = write_sampler(folder, scheduler, steps, guidance)
    err.print(f"{folder} now samples with {name}, {steps} steps, guidance {guidance:g}")
