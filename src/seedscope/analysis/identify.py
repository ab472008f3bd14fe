"""Training-free seed identification: invert an image to its initial latent, find the seed.

The initial latent of (prompt, seed) is the noise `randn_tensor` draws from
`torch.Generator(device).manual_seed(seed)` (the seed contract, shared/DESIGN.md). DDIM
inversion (seedscope.analysis.inversion) recovers an estimate of it from the image; the answer
is the candidate seed whose noise has the largest cosine similarity with that estimate.

Calibration: for a fixed estimate q and white Gaussian candidate noise n, cos(q, n)·√d is
N(0, 1) whatever q is, and different seeds give independent noise. So the best candidate's
score is standardised against the mean and spread of all the other candidates (a z-score), and
its p-value is that of the maximum of N independent standard normals (Šidák:
1 − Φ(z)^N). "No match" is said when p ≥ alpha: for an image whose seed is not among the
candidates this wrongly names a seed with probability at most alpha.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

CPU_SEED_PERIOD = 2**32
"""torch's CPU generator seeds its Mersenne Twister with the low 32 bits: s and s + 2**32 alias."""


MIN_SEEDS_PER_WORKER = 200_000
"""Fewer candidates than this per worker are scanned in this process."""


@dataclass(frozen=True)
class ScanSettings:
    """How candidates are scanned: chunk size, worker processes, answers kept per image."""

    chunk: int = 2048
    workers: int = 1
    top: int = 5
    alpha: float = 1e-3
    generator_device: str = "cpu"
    dtype: str = "float32"


@dataclass(frozen=True)
class Identification:
    """The answer for one image: best seed, its similarity, calibrated score and verdict."""

    seed: int | None  # None: no match (the best candidate does not stand out)
    best_seed: int
    cosine: float
    z: float
    p_value: float
    runner_up_seed: int | None
    runner_up_z: float | None
    null_mean: float
    null_std: float
    n_candidates: int

    @property
    def match(self) -> bool:
        """Whether a seed is named."""
        return self.seed is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (with `match`)."""
        return {**asdict(self), "match": self.match}


@dataclass
class _Partial:
    """Running state of a scan over some candidates: sums for the null, the best few per image."""

    total: np.ndarray  # (B,) sum of cosines
    total_sq: np.ndarray  # (B,) sum of squared cosines
    count: int
    top_cos: np.ndarray  # (B, k) best cosines, descending
    top_seed: np.ndarray  # (B, k) their seeds
    extra: dict[str, float] = field(default_factory=dict)

    @classmethod
    def empty(cls, batch: int, top: int) -> _Partial:
        return cls(
            total=np.zeros(batch),
            total_sq=np.zeros(batch),
            count=0,
            top_cos=np.full((batch, top), -np.inf),
            top_seed=np.full((batch, top), -1, dtype=np.int64),
        )

    def add(self, other: _Partial) -> None:
        """Merge another partial scan into this one."""
        self.total += other.total
        self.total_sq += other.total_sq
        self.count += other.count
        k = self.top_cos.shape[1]
        cos = np.concatenate([self.top_cos, other.top_cos], axis=1)
        seeds = np.concatenate([self.top_seed, other.top_seed], axis=1)
        order = np.argsort(-cos, axis=1, kind="stable")[:, :k]
        self.top_cos = np.take_along_axis(cos, order, axis=1)
        self.top_seed = np.take_along_axis(seeds, order, axis=1)


def candidate_noise(
    seeds: Sequence[int],
    shape: Sequence[int],
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Each seed's initial noise, flattened (n, d): randn_tensor with Generator(device).manual_seed."""
    d = math.prod(shape)
    if out is None:
        out = torch.empty(len(seeds), d, dtype=torch.float32)
    gen = torch.Generator(device)
    fast = device == "cpu" and dtype == torch.float32
    for i, seed in enumerate(seeds):
        gen.manual_seed(int(seed))
        if fast:
            # Same draw as randn_tensor((1, *shape)): one contiguous normal fill of d floats.
            torch.randn(d, generator=gen, out=out[i])
        else:
            row = torch.randn((1, *shape), generator=gen, device=device, dtype=dtype)
            out[i] = row.reshape(-1).to("cpu", torch.float32)
    return out[: len(seeds)]


def _unit(queries: torch.Tensor) -> torch.Tensor:
    flat = queries.reshape(queries.shape[0], -1).to(torch.float32)
    norms = flat.norm(dim=1, keepdim=True)
    if bool((norms == 0).any()):
        raise SeedscopeError("an inverted latent is all zeros; the image cannot be identified.")
    return (flat / norms).contiguous()


def scan_seeds(
    unit: torch.Tensor,
    seeds: range,
    shape: Sequence[int],
    settings: ScanSettings,
    progress: Callable[[int], None] | None = None,
) -> _Partial:
    """Cosine of every query (rows of `unit`, unit length) with every seed's noise, chunk by chunk."""
    from seedscope.models.settings import parse_dtype

    dtype = parse_dtype(settings.dtype)
    batch = unit.shape[0]
    d = unit.shape[1]
    k = settings.top
    state = _Partial.empty(batch, k)
    buffer = torch.empty(min(settings.chunk, len(seeds)) or 1, d)
    for start in range(0, len(seeds), settings.chunk):
        part = seeds[start : start + settings.chunk]
        noise = candidate_noise(part, shape, settings.generator_device, dtype, out=buffer)
        # One matmul per chunk: (C, d) @ (d, B), divided by each candidate's norm.
        cos = (noise @ unit.T) / noise.norm(dim=1, keepdim=True)
        cos64 = cos.to(torch.float64)
        chunk = _Partial.empty(batch, k)
        chunk.total = cos64.sum(dim=0).numpy()
        chunk.total_sq = (cos64 * cos64).sum(dim=0).numpy()
        chunk.count = len(part)
        kk = min(k, len(part))
        values, index = cos.topk(kk, dim=0)
        chunk.top_cos[:, :kk] = values.T.to(torch.float64).numpy()
        chunk.top_seed[:, :kk] = np.asarray(part)[index.T.numpy()]
        state.add(chunk)
        if progress is not None:
            progress(len(part))
    return state


# Worker processes: the queries are sent once, then ranges of seeds.
_WORKER: dict[str, Any] = {}


def _init_worker(unit: np.ndarray, shape: tuple[int, ...], settings: ScanSettings) -> None:
    torch.set_num_threads(1)
    _WORKER.update(unit=torch.from_numpy(unit), shape=shape, settings=settings)


def _worker_scan(start: int, stop: int, step: int) -> _Partial:
    return scan_seeds(
        _WORKER["unit"], range(start, stop, step), _WORKER["shape"], _WORKER["settings"]
    )


def _tasks(ranges: Sequence[range], size: int) -> Iterator[range]:
    for r in ranges:
        for start in range(0, len(r), size):
            yield r[start : start + size]


def scan_candidates(
    queries: torch.Tensor,
    ranges: Sequence[range],
    shape: Sequence[int],
    settings: ScanSettings,
    progress: Callable[[int], None] | None = None,
) -> _Partial:
    """Scan every candidate range for every query, in `settings.workers` processes."""
    unit = _unit(queries)
    total = _Partial.empty(unit.shape[0], settings.top)
    n = sum(len(r) for r in ranges)
    # Starting a worker costs seconds (it imports torch): worth it only for large scans.
    workers = max(1, min(settings.workers, n // MIN_SEEDS_PER_WORKER))
    if workers == 1:
        for r in ranges:
            total.add(scan_seeds(unit, r, shape, settings, progress))
        return total
    import multiprocessing as mp

    # Tasks of a few chunks each: enough of them to keep every worker busy to the end.
    size = max(settings.chunk, min(64 * settings.chunk, n // (8 * workers) or 1))
    context = mp.get_context("spawn")
    args = (unit.numpy(), tuple(shape), settings)
    with ProcessPoolExecutor(workers, context, _init_worker, args) as pool:
        futures = [pool.submit(_worker_scan, t.start, t.stop, t.step) for t in _tasks(ranges, size)]
        for fut, task in zip(futures, _tasks(ranges, size), strict=True):
            total.add(fut.result())
            if progress is not None:
                progress(len(task))
    return total


def calibrate(state: _Partial, alpha: float, dim: int) -> list[Identification]:
    """Standardise each image's best cosine against the other candidates; Šidák p; verdict."""
    from scipy.special import log_ndtr

    out = []
    n = state.count
    for b in range(state.top_cos.shape[0]):
        best = float(state.top_cos[b, 0])
        if n >= 100:
            # Null moments from every candidate but the best.
            mean = (state.total[b] - best) / (n - 1)
            var = (state.total_sq[b] - best * best) / (n - 1) - mean * mean
            std = math.sqrt(max(var, 1e-30))
        else:
            # Too few candidates to estimate: cos·√d is N(0, 1) for white Gaussian noise.
            mean, std = 0.0, 1.0 / math.sqrt(dim)
        z = (best - mean) / std
        p = float(-np.expm1(n * log_ndtr(z)))
        second = state.top_cos[b, 1] if state.top_cos.shape[1] > 1 else -np.inf
        has_second = bool(np.isfinite(second))
        seed = int(state.top_seed[b, 0])
        out.append(
            Identification(
                seed=seed if p < alpha else None,
                best_seed=seed,
                cosine=best,
                z=float(z),
                p_value=p,
                runner_up_seed=int(state.top_seed[b, 1]) if has_second else None,
                runner_up_z=float((second - mean) / std) if has_second else None,
                null_mean=float(mean),
                null_std=float(std),
                n_candidates=n,
            )
        )
    return out


def identify_latents(
    latents: torch.Tensor,
    ranges: Sequence[range],
    settings: ScanSettings,
    progress: Callable[[int], None] | None = None,
) -> list[Identification]:
    """Name the seed of each inverted latent (N×C×h×w) among the candidate seed ranges."""
    if settings.alpha <= 0 or settings.alpha >= 1:
        raise SeedscopeError(f"alpha must be between 0 and 1, not {settings.alpha}.")
    if settings.top < 2:
        raise SeedscopeError("keep at least the two best candidates per image (top >= 2).")
    shape = tuple(int(s) for s in latents.shape[1:])
    state = scan_candidates(latents, ranges, shape, settings, progress)
    return calibrate(state, settings.alpha, math.prod(shape))


def check_generator_device(device: str) -> None:
    """Refuse a generator device that torch does not know or this machine lacks (one sentence)."""
    kind = device.split(":")[0]
    known = kind in ("cpu", "cuda", "mps", "xpu")
    try:
        if kind == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("no CUDA device")
        torch.Generator(device)
    except (RuntimeError, ValueError, TypeError) as err:
        what = "is not available on this machine" if known else "is not a torch device"
        raise SeedscopeError(
            f"--generator-device {device!r} {what}; the noise must be drawn where the images' "
            "generators drew it (cpu for seedscope's sweeps by default)."
        ) from err


def default_workers() -> int:
    """Worker processes to use by default: the CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# From images to answers.

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class IdentifySettings:
    """What decides an identification: candidates, inversion, image size, scan and threshold."""

    seeds: str = "0-999999"
    steps: int = 0  # 0: the sweep's steps, else the model's default
    guidance: float = 1.0  # guidance during inversion (1: the prompt's conditional alone)
    empty_prompt: bool = False  # invert with "" even where the prompt is known
    negative_prompt: str | None = None
    height: int = 0  # 0: the model's own size
    width: int = 0
    resize: bool = False  # rescale images of another size (else refuse them)
    alpha: float = 1e-3
    generator_device: str = "cpu"
    dtype: str = "float32"
    workers: int = 1
    chunk: int = 2048
    batch_size: int = 16

    def __post_init__(self) -> None:
        for name in ("batch_size", "workers", "chunk"):
            if int(getattr(self, name)) < 1:
                value = getattr(self, name)
                raise SeedscopeError(f"--{name.replace('_', '-')} must be at least 1, not {value}.")
        if self.steps < 0:
            raise SeedscopeError(f"--steps must be at least 1, not {self.steps}.")

    def scan(self) -> ScanSettings:
        """The candidate-scan part of these settings."""
        return ScanSettings(
            chunk=self.chunk,
            workers=self.workers,
            alpha=self.alpha,
            generator_device=self.generator_device,
            dtype=self.dtype,
        )


@dataclass(frozen=True)
class Query:
    """One image to identify: where it came from, its pixels, its prompt and the true seed."""

    source: str
    pixels: np.ndarray  # uint8 H×W×3
    prompt: str = ""
    prompt_id: int | None = None
    truth: int | None = None


def image_files(paths: Sequence[str]) -> list[Path]:
    """The image files named, folders expanded to their image files (sorted)."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise SeedscopeError(f"the folder {name!r} holds no image files.")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise SeedscopeError(f"{name!r} does not exist.")
    return files


def read_image(path: Path) -> np.ndarray:
    """An image file as uint8 RGB pixels; one sentence if it is not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise SeedscopeError(f"{str(path)!r} is not an image PIL can read.") from err


def fit_size(query: Query, height: int, width: int, resize: bool) -> Query:
    """The query at the model's size: refused if it differs, or rescaled (bicubic) if asked."""
    from PIL import Image

    h, w = query.pixels.shape[:2]
    if (h, w) == (height, width):
        return query
    if not resize:
        raise SeedscopeError(
            f"{query.source} is {w}x{h} but the model makes {width}x{height} images; "
            "pass --resize to rescale it."
        )
    image = Image.fromarray(query.pixels).resize((width, height), Image.Resampling.BICUBIC)
    return Query(query.source, np.asarray(image), query.prompt, query.prompt_id, query.truth)


@dataclass
class IdentifyResult:
    """Answers for every query, with timings and (where the truth is known) accuracy."""

    rows: list[dict[str, Any]]
    settings: dict[str, Any]
    model: str
    n_candidates: int
    seconds_invert: float
    seconds_scan: float
    path: str | None = None

    @property
    def seconds_per_million(self) -> float:
        """Scan time per 10^6 candidates (wall clock, all images of the batch at once)."""
        return self.seconds_scan / max(self.n_candidates, 1) * 1e6

    def summary(self) -> dict[str, Any]:
        """Counts, accuracy where the truth is known, timings."""
        known = [r for r in self.rows if r["truth"] is not None]
        out: dict[str, Any] = {
            "images": len(self.rows),
            "matched": sum(bool(r["match"]) for r in self.rows),
            "n_candidates": self.n_candidates,
            "seconds_invert": round(self.seconds_invert, 3),
            "seconds_scan": round(self.seconds_scan, 3),
            "seconds_per_million_candidates": round(self.seconds_per_million, 3),
        }
        if known:
            inside = [r for r in known if r["truth_in_candidates"]]
            outside = [r for r in known if not r["truth_in_candidates"]]
            out["with_truth"] = len(known)
            if inside:
                out["top1_accuracy"] = sum(r["best_seed"] == r["truth"] for r in inside) / len(
                    inside
                )
                out["named_correctly"] = sum(r["seed"] == r["truth"] for r in inside) / len(inside)
            if outside:
                out["false_match_rate"] = sum(bool(r["match"]) for r in outside) / len(outside)
                out["outside_candidates"] = len(outside)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: summary, settings, model, every row, the written table's path."""
        return {
            **self.summary(),
            "model": self.model,
            "settings": self.settings,
            "path": self.path,
            "results": self.rows,
        }

    def table(self) -> Any:
        """The rows as a pyarrow Table."""
        import pyarrow as pa

        return pa.Table.from_pylist(self.rows)


def _in_ranges(seed: int | None, ranges: Sequence[range]) -> bool:
    return seed is not None and any(seed in r for r in ranges)


def identify_queries(
    pipe: Any,
    queries: Sequence[Query],
    settings: IdentifySettings,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[list[dict[str, Any]], int, float, float]:
    """Invert every query with `pipe` and scan the candidate seeds: rows, N, timings."""
    import time

    from seedscope.analysis.inversion import InversionSettings, invert_images
    from seedscope.seeds import parse_seed_ranges

    ranges = parse_seed_ranges(settings.seeds)
    n = sum(len(r) for r in ranges)
    if settings.generator_device == "cpu" and any(r.stop > CPU_SEED_PERIOD for r in ranges):
        log.warning(
            "seeds from 2**32 on repeat the noise of seed - 2**32 on a CPU generator; "
            "such pairs cannot be told apart"
        )
    inversion = InversionSettings(
        steps=settings.steps,
        guidance=settings.guidance,
        negative_prompt=settings.negative_prompt,
        batch_size=settings.batch_size,
    )
    start = time.perf_counter()
    latents = []
    for lo in range(0, len(queries), settings.batch_size):
        part = queries[lo : lo + settings.batch_size]
        prompts = ["" if settings.empty_prompt else q.prompt for q in part]
        latents.append(invert_images(pipe, [q.pixels for q in part], prompts, inversion))
        if progress is not None:
            progress("invert", len(part), len(queries))
    inverted = torch.cat(latents)
    seconds_invert = time.perf_counter() - start

    start = time.perf_counter()

    def advance(k: int) -> None:
        if progress is not None:
            progress("scan", k, n)

    answers = identify_latents(inverted, ranges, settings.scan(), advance)
    seconds_scan = time.perf_counter() - start
    rows = []
    for q, a in zip(queries, answers, strict=True):
        row: dict[str, Any] = {
            "source": q.source,
            "prompt_id": q.prompt_id,
            "prompt": "" if settings.empty_prompt else q.prompt,
            **a.to_dict(),
            "truth": q.truth,
            "truth_in_candidates": _in_ranges(q.truth, ranges) if q.truth is not None else None,
            # Right answer: the true seed when it is a candidate, else "no match".
            "correct": (
                None
                if q.truth is None
                else (a.seed == q.truth if _in_ranges(q.truth, ranges) else a.seed is None)
            ),
        }
        rows.append(row)
    return rows, n, seconds_invert, seconds_scan


def sweep_queries(sweep: Any, limit: int | None = None) -> list[Query]:
    """A sweep's images as queries with their prompts and true seeds (`limit`: evenly spread)."""
    from seedscope.store import decode_png

    keys = sweep.keys().to_pandas().sort_values(["prompt_id", "seed"]).reset_index(drop=True)
    if not len(keys):
        raise SeedscopeError(f"the sweep {str(sweep.path)!r} has no images yet.")
    if limit is not None and limit < len(keys):
        if limit < 1:
            raise SeedscopeError(f"--limit must be at least 1, not {limit}.")
        keys = keys.iloc[np.linspace(0, len(keys) - 1, limit).round().astype(int)]
    wanted = set(zip(keys["prompt_id"], keys["seed"], strict=True))
    found: dict[tuple[int, int], Query] = {}
    for batch in sweep.iter_batches(columns=["prompt_id", "seed", "prompt", "png"]):
        for pid, seed, prompt, png in zip(
            *(batch.column(c).to_pylist() for c in ("prompt_id", "seed", "prompt", "png")),
            strict=True,
        ):
            if (pid, seed) in wanted:
                pixels = np.asarray(decode_png(png, mode="RGB"))
                found[(pid, seed)] = Query(f"{pid}/{seed}", pixels, prompt, pid, seed)
    return [found[(int(p), int(s))] for p, s in zip(keys["prompt_id"], keys["seed"], strict=True)]


def run_identify(
    images: Sequence[str] = (),
    *,
    sweep: str | None = None,
    model: str | None = None,
    prompt: str | None = None,
    settings: IdentifySettings | None = None,
    limit: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> IdentifyResult:
    """Identify the seeds of image files (or of a sweep's images, whose seeds are known).

    With `sweep`, the model, steps, size, generator device and negative prompt come from its
    plan, each image is inverted with its own prompt (unless `settings.empty_prompt`) and the
    answers are written to DIR/analysis/identify-<identity>.parquet.
    """
    import dataclasses

    from seedscope.models import check_size, load_pipeline, parse_dtype, resolve_model
    from seedscope.models.loading import world_defaults
    from seedscope.models.settings import default_size
    from seedscope.seeds import parse_seed_ranges

    settings = settings or IdentifySettings()
    parse_seed_ranges(settings.seeds)  # refuse a bad spec before loading anything
    if bool(images) == bool(sweep):
        raise SeedscopeError("give image files or folders, or --sweep DIR (not both).")
    if limit is not None and limit < 1:
        raise SeedscopeError(f"--limit must be at least 1, not {limit}.")
    opened = None
    plan: dict[str, Any] = {}
    if sweep:
        from seedscope.store import open_sweep

        opened = open_sweep(sweep)
        plan = opened.plan
        if model is None:
            world = plan.get("model_kind") == "world"
            model = "world" if world else str(plan.get("model_path") or plan["model"])
    model = model or "world"
    steps = settings.steps or int(plan.get("steps") or 0)
    if not steps:
        defaults = world_defaults() if model == "world" else None
        steps = defaults[0] if defaults else 50
    settings = dataclasses.replace(
        settings,
        steps=steps,
        negative_prompt=settings.negative_prompt or plan.get("negative_prompt"),
        generator_device=plan.get("generator_device", settings.generator_device),
        dtype=plan.get("dtype", settings.dtype),
        height=settings.height or int(plan.get("height") or 0),
        width=settings.width or int(plan.get("width") or 0),
    )
    check_generator_device(settings.generator_device)
    queries: list[Query]
    if opened is not None:
        queries = sweep_queries(opened, limit)
    else:
        queries = [Query(str(p), read_image(p), prompt or "") for p in image_files(images)]
        if limit is not None:
            queries = queries[:limit]
    ref = resolve_model(model)
    pipe = load_pipeline(ref, parse_dtype(settings.dtype), "cpu")
    if not settings.height or not settings.width:
        h, w = default_size(pipe)
        settings = dataclasses.replace(
            settings, height=settings.height or h, width=settings.width or w
        )
    check_size(pipe, settings.height, settings.width)
    queries = [fit_size(q, settings.height, settings.width, settings.resize) for q in queries]
    rows, n, t_inv, t_scan = identify_queries(pipe, queries, settings, progress)
    result = IdentifyResult(
        rows=rows,
        settings=dataclasses.asdict(settings),
        model=model,
        n_candidates=n,
        seconds_invert=t_inv,
        seconds_scan=t_scan,
    )
    if opened is not None:
        from seedscope.analysis.io import write_analysis

        stored = {
            k: v for k, v in result.settings.items() if k not in ("workers", "chunk", "batch_size")
        }
        inputs = {"model": model, "model_hash": ref.content_hash, "limit": limit}
        result.path = str(write_analysis(opened, "identify", result.table(), stored, inputs))
    return result
