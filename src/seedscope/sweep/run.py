"""`run_sweep`: validate, plan, lock, resume or extend, and generate the missing shards."""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from seedscope import __version__
from seedscope.errors import SeedscopeError
from seedscope.models import (
    check_size,
    load_pipeline,
    parse_dtype,
    resolve_model,
    set_scheduler,
)
from seedscope.models.loading import pipeline_class_name, world_defaults
from seedscope.models.settings import default_size
from seedscope.seeds import parse_seeds
from seedscope.store import (
    IMAGES_DIR,
    PLAN_FILE,
    PROMPTS_FILE,
    DirLock,
    atomic_write_bytes,
    atomic_write_parquet,
    disk_full_error,
    remove_temp_files,
)
from seedscope.sweep.engines import ENGINES, make_engine
from seedscope.sweep.plan import SweepPlan, compare, read_plan, read_prompt_table, seeds_field
from seedscope.sweep.progress import ImagesProgress
from seedscope.sweep.prompts import load_prompts, prompts_hash
from seedscope.sweep.shards import plan_shards, scan_done
from seedscope.sweep.tasks import GenerationSpec, ShardSink, shard_tasks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepOptions:
    """The inputs of one `seedscope sweep` run (plan settings plus how to execute them)."""

    model: str
    prompts: str
    seeds: str
    out: str
    steps: int | None = None  # None: the model's own default (world) or 50
    guidance: float | None = None  # None: the model's own default (world) or 7.5
    height: int | None = None
    width: int | None = None
    scheduler: str | None = None
    dtype: str = "float32"
    negative_prompt: str | None = None
    generator_device: str = "cpu"
    device: str | None = None
    batch_size: int = 8
    engine: str = "local"
    shard_prompts: int = 16
    shard_seeds: int = 64
    ray_address: str | None = None
    ray_workers: int | None = None
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    verify: bool = False  # read every page of existing shards (CRC) before resuming


@dataclass(frozen=True)
class SweepResult:
    """What a run did (the `--json` summary)."""

    out: str
    mode: str  # "new", "resume", "extend" or "complete"
    added: list[str]
    images_total: int
    images_done_before: int
    images_generated: int
    shards_written: int
    shards_regenerated: int
    seconds: float
    images_per_second: float
    engine: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SeedscopeError(f"the output path {str(out)!r} is a file; give a directory.")
    if out.is_dir() and not (out / PLAN_FILE).exists():
        # A run killed before sweep.json was written may leave these behind.
        leftovers = {".lock", PROMPTS_FILE, IMAGES_DIR}
        visible = [p for p in out.iterdir() if p.name not in leftovers]
        if visible:
            raise SeedscopeError(
                f"the output directory {str(out)!r} is not empty and holds no sweep; "
                "give a new or empty directory."
            )


def _with_defaults(opts: SweepOptions) -> SweepOptions:
    """Fill steps and guidance: the bundled model's own defaults, else diffusers' (50, 7.5)."""
    steps, guidance = (world_defaults() if opts.model == "world" else None) or (50, 7.5)
    return dataclasses.replace(
        opts,
        steps=steps if opts.steps is None else opts.steps,
        guidance=guidance if opts.guidance is None else opts.guidance,
    )


def _check_options(opts: SweepOptions) -> None:
    assert opts.steps is not None
    if opts.steps < 1:
        raise SeedscopeError(f"--steps must be at least 1, not {opts.steps}.")
    if opts.batch_size < 1:
        raise SeedscopeError(f"--batch-size must be at least 1, not {opts.batch_size}.")
    if opts.engine not in ENGINES:
        raise SeedscopeError(f"unknown engine {opts.engine!r}; use {' or '.join(ENGINES)}.")
    if opts.shard_prompts < 1 or opts.shard_seeds < 1:
        raise SeedscopeError("--shard-prompts and --shard-seeds must be at least 1.")
    if opts.generator_device not in ("cpu", "cuda", "mps") and not opts.generator_device.startswith(
        "cuda:"
    ):
        raise SeedscopeError(
            f"unknown generator device {opts.generator_device!r}; use cpu or cuda."
        )


def _device(opts: SweepOptions) -> str:
    if opts.device:
        return opts.device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def build_plan(
    opts: SweepOptions, pipe: Any, ref: Any, prompts: pa.Table, seeds: list[int]
) -> SweepPlan:
    """The plan for these options and this loaded pipeline."""
    import diffusers
    import torch
    import transformers

    config = {k: v for k, v in dict(pipe.scheduler.config).items() if not k.startswith("_")}
    return SweepPlan(
        model=opts.model,
        model_kind=ref.kind,
        model_path=ref.path,
        model_hash=ref.content_hash,
        pipeline_class=type(pipe).__name__ if ref.kind == "world" else pipeline_class_name(ref),
        scheduler=type(pipe.scheduler).__name__,
        scheduler_config=json.loads(json.dumps(config, default=str)),
        steps=int(opts.steps or 0),
        guidance=float(opts.guidance or 0.0),
        height=int(opts.height or 0),
        width=int(opts.width or 0),
        dtype=str(parse_dtype(opts.dtype)).removeprefix("torch."),
        generator_device=opts.generator_device,
        negative_prompt=opts.negative_prompt,
        prompts_hash=prompts_hash(prompts),
        n_prompts=prompts.num_rows,
        seeds=seeds_field(seeds),
        n_seeds=len(seeds),
        version=__version__,
        library_versions={
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "transformers": transformers.__version__,
        },
    )


def _write_plan(out: Path, plan: SweepPlan, prompts: pa.Table) -> None:
    atomic_write_parquet(prompts, out / PROMPTS_FILE)
    text = json.dumps(plan.to_dict(), indent=2, sort_keys=False) + "\n"
    atomic_write_bytes(text.encode(), out / PLAN_FILE)


def run_sweep(opts: SweepOptions, progress: bool = False) -> SweepResult:
    """Generate every (prompt, seed) image of the plan that DIR does not hold yet.

    Validation happens before DIR is touched; the directory lock keeps a second sweep out; a
    different plan is refused unless it only adds prompts or seeds (then the grid is extended).
    """
    opts = _with_defaults(opts)
    _check_options(opts)
    out = Path(opts.out)
    _check_out(out)
    prompts = load_prompts(opts.prompts)
    seeds = parse_seeds(opts.seeds)
    ref = resolve_model(opts.model)
    device = _device(opts)
    pipe = load_pipeline(ref, parse_dtype(opts.dtype), device)
    set_scheduler(pipe, opts.scheduler)
    if opts.height is None or opts.width is None:
        h, w = default_size(pipe)
        opts = dataclasses.replace(opts, height=opts.height or h, width=opts.width or w)
    assert opts.height is not None and opts.width is not None
    check_size(pipe, opts.height, opts.width)
    plan = build_plan(opts, pipe, ref, prompts, seeds)
    # Refuse a different plan before touching DIR at all (checked again under the lock).
    existing = read_plan(out)
    if existing is not None:
        compare(existing, plan, read_prompt_table(out), prompts)

    try:
        with DirLock(out):
            return _run_locked(opts, out, plan, prompts, seeds, pipe, ref, device, progress)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            remove_temp_files(out)
            raise disk_full_error(out) from err
        raise


def _run_locked(
    opts: SweepOptions,
    out: Path,
    plan: SweepPlan,
    prompts: pa.Table,
    seeds: list[int],
    pipe: Any,
    ref: Any,
    device: str,
    progress: bool,
) -> SweepResult:
    start = time.perf_counter()
    old = read_plan(out)
    added: list[str] = []
    mode = "new"
    if old is not None:
        added = compare(old, plan, read_prompt_table(out), prompts)
        mode = "extend" if added else "resume"
    if mode != "resume":
        _write_plan(out, plan, prompts)
    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    removed = remove_temp_files(out / IMAGES_DIR)
    if removed:
        log.info("removed %d temporary files left by an interrupted run", removed)
    done, _, corrupt = scan_done(out, full=opts.verify)
    ids = prompts.column("prompt_id").to_pylist()
    shards = plan_shards(ids, seeds, done, opts.shard_prompts, opts.shard_seeds)
    total = len(ids) * len(seeds)
    todo = sum(len(s) for s in shards)
    if mode == "resume" and not shards:
        mode = "complete"
    log.info("%s sweep: %d of %d images to generate in %d shards", mode, todo, total, len(shards))
    spec = GenerationSpec(
        model=ref,
        dtype=opts.dtype,
        scheduler=opts.scheduler,
        steps=plan.steps,
        guidance=plan.guidance,
        height=plan.height,
        width=plan.width,
        generator_device=plan.generator_device,
        negative_prompt=plan.negative_prompt,
        device=device,
        batch_size=opts.batch_size,
    )
    engine = make_engine(
        opts.engine,
        pipe=pipe,
        **(
            {
                "address": opts.ray_address,
                "workers": opts.ray_workers,
                "gpus_per_worker": opts.gpus_per_worker,
                "cpus_per_worker": opts.cpus_per_worker,
            }
            if opts.engine == "ray"
            else {}
        ),
    )
    sink = ShardSink(out)
    gen_start = time.perf_counter()
    with ImagesProgress(todo, enabled=progress) as bar:
        engine.run(spec, shard_tasks(shards, prompts), sink, bar.advance)
    elapsed = time.perf_counter() - gen_start
    return SweepResult(
        out=str(out),
        mode=mode,
        added=added,
        images_total=total,
        images_done_before=total - todo,
        images_generated=todo,
        shards_written=sink.written,
        shards_regenerated=len(corrupt),
        seconds=round(time.perf_counter() - start, 3),
        images_per_second=round(todo / elapsed, 3) if todo and elapsed > 0 else 0.0,
        engine=engine.name,
    )
