"""`seedscope demo`: the whole study on the bundled world model, from prompts to the HTML atlas.

Each step is the command a user would type (run in-process), skipped when its result is already
on disk, so a second run resumes rather than redoes. Steps whose command is not installed are
skipped and said so. A step that fails stops the demo with one sentence naming the step and the
command to rerun (exit 2 for a `SeedscopeError`, 1 for anything else, traceback in demo.log).
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

__all__ = [
    "MIN_PROMPTS",
    "MIN_SEEDS",
    "DemoSettings",
    "DemoStep",
    "DemoStepError",
    "demo_steps",
    "run_demo",
]

MIN_PROMPTS = 6
"""Fewest prompts the demo's steps support: `pick golden --set a` needs a per-seed FID interval
over the prompts of set a (a jackknife over prompts), which fails with 2 prompts in set a."""
MIN_SEEDS = 4
"""Fewest seeds the demo accepts (6 prompts x 4 seeds runs every step)."""


@dataclass(frozen=True)
class DemoSettings:
    """The demo's grid: prompts in two sets x seeds on the bundled world model."""

    out: Path = Path("demo")
    prompts: int = 16
    seeds: int = 16
    model: str = "world"
    identify_images: int = 4
    identify_candidates: int = 256
    reference_per_prompt: int = 4
    classify_epochs: int = 6
    inpaint_pairs: int = 4
    inpaint_seeds: int = 8
    inpaint_ocr: str = "detected"  # OCR only where the world detector sees text
    steps: int | None = None  # denoising steps of the sweep and the audit (None: the model's)

    def __post_init__(self) -> None:
        if self.prompts < MIN_PROMPTS or self.prompts % 2:
            raise SeedscopeError(
                f"--prompts must be an even number >= {MIN_PROMPTS} (pick golden needs an FID "
                f"interval over the prompts of set a), not {self.prompts}."
            )
        if self.seeds < MIN_SEEDS:
            raise SeedscopeError(f"--seeds must be at least {MIN_SEEDS}, not {self.seeds}.")
        if self.identify_candidates < self.seeds:
            raise SeedscopeError("--identify-candidates must include the sweep's seeds.")
        if self.inpaint_pairs < 2 or self.inpaint_seeds < 2:
            raise SeedscopeError("the inpainting audit needs at least 2 pairs and 2 seeds.")
        if self.steps is not None and self.steps < 1:
            raise SeedscopeError(f"--steps must be at least 1, not {self.steps}.")

    def command(self) -> str:
        """The `seedscope demo` command line that resumes this demo."""
        argv = ["seedscope", "demo", "--out", str(self.out)]
        default = DemoSettings()
        for name in ("prompts", "seeds", "model"):
            if getattr(self, name) != getattr(default, name):
                argv += [f"--{name}", str(getattr(self, name))]
        return " ".join(argv)


class DemoStepError(SeedscopeError):
    """A step of the demo failed: one sentence naming it and the command to rerun."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class DemoStep:
    """One step: a command line (or a callable), how to tell it is done, and what it needs."""

    name: str
    run: list[str] | Callable[[], str]
    done: Callable[[], bool]
    command: str | None = None  # the CLI command that must be installed (None: always there)
    summary: Callable[[], str] | None = None
    note: str = field(default="")


def _commands() -> set[str]:
    """Names of the installed CLI commands (groups as `group` and `group sub`)."""
    import typer.main

    from seedscope.cli import app

    root: Any = typer.main.get_command(app)
    names: set[str] = set()
    for name, cmd in getattr(root, "commands", {}).items():
        names.add(name)
        for sub in getattr(cmd, "commands", {}) or {}:
            names.add(f"{name} {sub}")
    return names


def _has(sweep: Path, name: str) -> bool:
    if not (sweep / "sweep.json").is_file():
        return False
    from seedscope.analysis.io import list_analyses

    return bool(list_analyses(sweep, name))


def _complete(sweep: Path, n: int) -> bool:
    if not (sweep / "sweep.json").is_file():
        return False
    from seedscope.store import open_sweep

    try:
        return open_sweep(sweep).keys().num_rows >= n
    except SeedscopeError:
        return False


def _scored(sweep: Path, scorers: list[str], features: list[str]) -> bool:
    if not (sweep / "sweep.json").is_file():
        return False
    from seedscope.tables import open_sweep

    try:
        sw = open_sweep(sweep)
        sw.scores(names=scorers)
        for f in features:
            sw.features(f)
    except SeedscopeError:
        return False
    return True


def _newest(sweep: Path, name: str) -> str:
    """One line naming the newest result of `name` and its rows."""
    import pyarrow.parquet as pq

    from seedscope.analysis.io import list_analyses

    found = list_analyses(sweep, name)
    if not found:
        return f"no {name} result"
    path = found[0][0]
    table = pq.read_table(path)
    if name == "identify" and "match" in table.column_names:
        hits = sum(bool(x) for x in table.column("match").to_pylist())
        return f"{hits} of {table.num_rows} images named their seed -> {path.name}"
    return f"{table.num_rows} rows -> {path.name}"


def _write_compare(sweep: Path, card: Path, kind: str) -> str:
    """`pick compare` of a card on the held-out set b, kept as analysis/compare_<kind>-*.parquet."""
    import pyarrow as pa

    from seedscope.analysis.io import write_analysis
    from seedscope.pick.cards import load_card
    from seedscope.pick.golden import CompareSettings, compare_card, comparison_table

    settings = CompareSettings(set="b", reps=1000)
    result = compare_card(load_card(card), str(sweep), settings)
    table = pa.Table.from_pandas(comparison_table(result), preserve_index=False)
    info = {k: v for k, v in result.items() if k != "rows"}
    s = {"set": settings.set, "reps": settings.reps, "level": settings.level, "card": str(card)}
    path = write_analysis(sweep, f"compare_{kind}", table, s, {"result": info})
    return f"{kind} pool {result['pool_seeds']} vs random on {result['heldout_prompts']} held-out prompts -> {path.name}"


def demo_steps(settings: DemoSettings) -> list[DemoStep]:
    """The demo's steps in order: prompts, sweep, score, reference, analyses, picks, report."""
    out = settings.out
    sw = out / "sweep"
    prompts = out / "prompts.csv"
    ref = out / "reference"
    cards = out / "cards"
    s = str(sw)
    n = settings.prompts * settings.seeds
    # No OCR `text` scorer: it would cost most of the scoring time, and the world scorer's p_text
    # stands for text in composition, the maps and the report.
    scorers = ["grayscale", "border", "sky", "composition", "world"]
    features = ["gram", "world"]

    step_args = ["--steps", str(settings.steps)] if settings.steps is not None else []

    def files(folder: Path) -> bool:
        return folder.is_dir() and any(folder.glob("*.png"))

    return [
        DemoStep(
            "prompts",
            [
                "world",
                "prompts",
                "--out",
                str(prompts),
                "--n",
                str(settings.prompts),
                "--sets",
                "a,b",
            ],
            prompts.is_file,
            command="world prompts",
            summary=lambda: f"{settings.prompts} prompts in sets a and b -> {prompts}",
        ),
        DemoStep(
            "sweep",
            [
                "sweep",
                "--model",
                settings.model,
                "--prompts",
                str(prompts),
                "--seeds",
                f"0-{settings.seeds - 1}",
                "--out",
                s,
                *step_args,
            ],
            lambda: _complete(sw, n),
            command="sweep",
            summary=lambda: (
                f"{n} images ({settings.prompts} prompts x {settings.seeds} seeds) in {sw}"
            ),
        ),
        DemoStep(
            "score",
            ["score", s, "--scorers", ",".join(scorers), "--features", ",".join(features)],
            lambda: _scored(sw, scorers, features),
            command="score",
            summary=lambda: f"scores {', '.join(scorers)}; features {', '.join(features)}",
        ),
        DemoStep(
            "reference",
            [
                "world",
                "render",
                "--prompts",
                str(prompts),
                "--out",
                str(ref),
                "--per-prompt",
                str(settings.reference_per_prompt),
                "--seed",
                "1",
            ],
            lambda: files(ref),
            command="world render",
            summary=lambda: f"{len(list(ref.glob('*.png')))} real scenes -> {ref}",
        ),
        DemoStep(
            "fid-seeds",
            ["fid-seeds", s, "--ref", str(ref), "--extractor", "world", "--allow-small"],
            lambda: _has(sw, "fid_by_seed"),
            command="fid-seeds",
        ),
        DemoStep(
            "rank",
            ["rank", s, "--metric", "world.adherent", "--reps", "500"],
            lambda: _has(sw, "rank"),
            command="rank",
        ),
        DemoStep(
            "map style",
            ["map", s, "--by", "style", "--perplexity", "5"],
            lambda: _has(sw, "map_style"),
            command="map",
        ),
        DemoStep(
            "map layout",
            ["map", s, "--by", "layout", "--perplexity", "5"],
            lambda: _has(sw, "map_layout"),
            command="map",
        ),
        DemoStep(
            "composition",
            ["composition", s],
            lambda: _has(sw, "seed_decides"),
            command="composition",
        ),
        DemoStep(
            "classify",
            [
                "classify",
                s,
                "--train-set",
                "a",
                "--test-set",
                "b",
                "--epochs",
                str(settings.classify_epochs),
                "--threads",
                "1",
                "--quiet",
            ],
            lambda: _has(sw, "classify_seeds"),
            command="classify",
        ),
        DemoStep(
            "identify",
            [
                "identify",
                "--sweep",
                s,
                "--seeds",
                f"0-{settings.identify_candidates - 1}",
                "--limit",
                str(settings.identify_images),
                "--workers",
                "1",
                "--quiet",
            ],
            lambda: _has(sw, "identify"),
            command="identify",
            summary=lambda: _newest(sw, "identify"),
        ),
        DemoStep(
            "swap",
            [
                "swap",
                "--sweep",
                s,
                "--n-prompts",
                "2",
                "--pairs",
                "0:1,2:3",
                "--samplers",
                "ddim,ddim-eta1",  # eta 0 ignores the switch; eta 1 shows what the later noise does
                "--quiet",
            ],
            lambda: _has(sw, "swap"),
            command="swap",
            summary=lambda: "seed swap: " + _newest(sw, "swap_summary"),
        ),
        DemoStep(
            "pick golden",
            [
                "pick",
                "golden",
                s,
                "--out",
                str(cards / "golden.json"),
                "--set",
                "a",
                "--top",
                str(max(2, settings.seeds // 2)),
                "--reps",
                "500",
            ],
            (cards / "golden.json").is_file,
            command="pick golden",
        ),
        DemoStep(
            "compare golden",
            lambda: _write_compare(sw, cards / "golden.json", "golden"),
            lambda: _has(sw, "compare_golden"),
            command="pick compare",
        ),
        DemoStep(
            "pick diverse",
            [
                "pick",
                "diverse",
                s,
                "--out",
                str(cards / "diverse.json"),
                "--set",
                "a",
                "--per-prompt",
                "4",
            ],
            (cards / "diverse.json").is_file,
            command="pick diverse",
        ),
        DemoStep(
            "compare diverse",
            lambda: _write_compare(sw, cards / "diverse.json", "diverse"),
            lambda: _has(sw, "compare_diverse"),
            command="pick compare",
        ),
        DemoStep(
            "inpaint pairs",
            ["world", "pairs", "--out", str(out / "pairs"), "--n", str(settings.inpaint_pairs)],
            lambda: (out / "pairs" / "pairs.csv").is_file(),
            command="world pairs",
        ),
        DemoStep(
            "inpaint audit",
            [
                "inpaint-audit",
                "--pairs",
                str(out / "pairs" / "pairs.csv"),
                "--out",
                str(sw / "inpaint"),
                "--seeds",
                f"0-{settings.inpaint_seeds - 1}",
                "--ocr",
                settings.inpaint_ocr,
                *step_args,
                "--quiet",
            ],
            lambda: (sw / "inpaint" / "summary.parquet").is_file(),
            command="inpaint-audit",
        ),
        DemoStep(
            "report",
            ["report", s],
            lambda: False,  # cheap; always redrawn so it shows every result
            command="report",
        ),
    ]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= 160 else line[:157] + "..."
    return ""


class _Tee(io.TextIOBase):
    """Writes to the real stdout (progress stays visible) and keeps a copy of the text."""

    def __init__(self, copy: io.StringIO) -> None:
        import sys

        self._out = sys.stdout
        self._copy = copy

    def write(self, s: str) -> int:
        self._copy.write(s)
        return self._out.write(s)

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return self._out.isatty()

    def fileno(self) -> int:
        return self._out.fileno()


def _invoke(argv: list[str]) -> str:
    """Run one seedscope command in-process; its stdout is returned, an error raised."""
    import click

    from seedscope.cli import app, typer_click

    buffer = io.StringIO()
    klick = typer_click()
    with contextlib.redirect_stdout(_Tee(buffer)):
        try:
            code = app(argv, standalone_mode=False, prog_name="seedscope")
        except (click.exceptions.ClickException, klick.exceptions.ClickException) as err:
            raise SeedscopeError(f"`seedscope {' '.join(argv)}`: {err.format_message()}") from err
    if isinstance(code, int) and not isinstance(code, bool) and code:
        if code == 130:
            raise KeyboardInterrupt
        raise SeedscopeError(f"it exited with {code}")
    return buffer.getvalue()


def _reason(err: BaseException) -> str:
    """The error's message as a clause: first line, no trailing full stop."""
    text = _first_line(str(err)) or type(err).__name__
    return text.rstrip(".")


def _failed(step: DemoStep, err: BaseException, settings: DemoSettings, logfile: Path) -> NoReturn:
    """Stop the demo: one sentence naming the step and the commands to rerun; traceback to the log."""
    code = 2 if isinstance(err, SeedscopeError) else 1
    with logfile.open("a", encoding="utf-8") as fh:
        fh.write(f"== {step.name} failed\n")
        fh.write("".join(traceback.format_exception(err)))
    alone = (
        f"rerun it alone with `seedscope {' '.join(step.run)}`, or "
        if isinstance(step.run, list)
        else ""
    )
    detail = "" if code == 2 else f", traceback in {logfile}"
    raise DemoStepError(
        f"demo step '{step.name}' failed ({_reason(err)}{detail}); {alone}rerun "
        f"`{settings.command()}` to resume from this step.",
        code,
    ) from err


def run_demo(settings: DemoSettings, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) every installed step of the demo; returns per-step status and the report."""
    settings.out.mkdir(parents=True, exist_ok=True)
    installed = _commands()
    steps = demo_steps(settings)
    record: list[dict[str, Any]] = []
    logfile = settings.out / "demo.log"
    t_all = time.perf_counter()
    for i, step in enumerate(steps, 1):
        head = f"[{i}/{len(steps)}] {step.name}"
        if step.command and step.command not in installed:
            line = f"`seedscope {step.command}` is not in this install; skipped"
            echo(f"{head}: {line}")
            record.append({"step": step.name, "status": "absent", "summary": line})
            continue
        if step.done():
            echo(f"{head}: done already; skipped")
            record.append({"step": step.name, "status": "done", "summary": "done already"})
            continue
        echo(
            f"{head}: running"
            + (f" `seedscope {' '.join(step.run)}`" if isinstance(step.run, list) else "")
        )
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            text = _invoke(step.run) if isinstance(step.run, list) else step.run()
        except Exception as err:  # every failure becomes one sentence
            _failed(step, err, settings, logfile)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        with logfile.open("a", encoding="utf-8") as fh:
            fh.write(f"== {step.name} ({seconds:.1f} s, CPU {cpu:.1f} s)\n{text}\n")
        line = step.summary() if step.summary else (_first_line(text) or "ok")
        echo(f"{head}: {line} ({seconds:.0f} s)")
        record.append(
            {"step": step.name, "status": "ran", "seconds": seconds, "cpu_seconds": cpu}
            | {"summary": line}
        )
    report = settings.out / "sweep" / "report" / "index.html"
    total = time.perf_counter() - t_all
    echo(f"demo finished in {total:.0f} s; open {report.resolve().as_uri()}")
    return {"steps": record, "seconds": total, "report": str(report)}
