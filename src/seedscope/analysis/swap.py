"""The seed swap: start the reverse process with seed i, switch the generator to seed j at step k.

What "switch to seed j at step k" means here: the initial latent always comes from seed i;
the first k denoising steps draw their step noise (if the sampler draws any) from seed i's
generator; then every image's generator object is set, in place, to the exact state seed j's
generator has after k steps of seed j's own plain run (recorded while making the pure-j
image). From step k on, the step noise is therefore exactly the noise seed j's own image
received at those steps. k = steps is no swap: the image is seed i's image of a plain sweep.
k = 0 keeps only seed i's initial latent and takes all step noise from seed j.

Generation goes through the sweep's own BatchGenerator (`on_step` hook), so the settings and
the seed contract are the sweep's.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

SAMPLERS: dict[str, tuple[str, float | None]] = {
    "ddim": ("ddim", 0.0),
    "ddim-eta1": ("ddim", 1.0),
    "euler-ancestral": ("euler-ancestral", None),
}
"""Sampler names: (scheduler, DDIM eta). Also accepted: ddim-etaX and any --scheduler name."""

_ETA = re.compile(r"^ddim-eta(\d+(?:\.\d+)?)$")


def parse_sampler(name: str) -> tuple[str, float | None]:
    """(scheduler name, eta) of a sampler name: ddim, ddim-eta1, ddim-eta0.5, euler-ancestral."""
    from seedscope.models.settings import SCHEDULERS

    if name in SAMPLERS:
        return SAMPLERS[name]
    match = _ETA.match(name)
    if match:
        return "ddim", float(match.group(1))
    if name in SCHEDULERS or name.endswith("Scheduler"):
        return name, None
    raise SeedscopeError(
        f"unknown sampler {name!r}; use ddim, ddim-eta1 (or ddim-etaX), euler-ancestral or "
        "a --scheduler name."
    )


def default_ks(steps: int) -> tuple[int, ...]:
    """Switch points: none taken with seed i, a quarter, half, three quarters, all (no swap)."""
    return tuple(sorted({0, steps // 4, steps // 2, (3 * steps) // 4, steps}))


@dataclass(frozen=True)
class SwapSettings:
    """The seed-swap study's settings (sampler settings as in a sweep)."""

    samplers: tuple[str, ...] = ("ddim", "ddim-eta1", "euler-ancestral")
    ks: tuple[int, ...] = ()  # (): default_ks(steps)
    steps: int = 20
    guidance: float = 6.0
    height: int = 0  # 0: the model's own size
    width: int = 0
    negative_prompt: str | None = None
    generator_device: str = "cpu"
    batch_size: int = 16
    features: str | None = "world"
    n_boot: int = 1000

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise SeedscopeError(f"--batch-size must be at least 1, not {self.batch_size}.")
        if self.steps < 1:
            raise SeedscopeError(f"--steps must be at least 1, not {self.steps}.")

    def switch_points(self) -> tuple[int, ...]:
        """The k values, checked against the number of steps; k = steps (no swap) always."""
        ks = self.ks or default_ks(self.steps)
        bad = [k for k in ks if k < 0 or k > self.steps]
        if bad:
            raise SeedscopeError(f"switch step(s) {bad} are outside 0..{self.steps} (--steps).")
        return tuple(sorted({*ks, self.steps}))


@dataclass
class SwapResult:
    """Per-image distances, their summary per (sampler, k), and one example grid."""

    rows: pa.Table
    summary: pa.Table
    grid: Any  # PIL image: rows samplers, columns k (then pure j)
    settings: dict[str, Any]
    sweep_check: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    no_swap: dict[tuple[str, int, int], np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: summary rows, settings, the sweep check and written paths."""
        return {
            "summary": self.summary.to_pylist(),
            "settings": self.settings,
            "sweep_check": self.sweep_check,
            "paths": self.paths,
        }


class _Switch:
    """The on_step hook: at step k_b, set generator b to the recorded state of seed j."""

    def __init__(self, plan: Sequence[tuple[int, torch.Tensor] | None]) -> None:
        self.plan = list(plan)

    def __call__(self, step: int, generators: list[torch.Generator]) -> None:
        for gen, item in zip(generators, self.plan, strict=True):
            if item is not None and item[0] == step:
                gen.set_state(item[1])


class _Recorder:
    """The on_step hook of a pure run: keep every generator's state after every step."""

    def __init__(self) -> None:
        self.states: dict[int, list[torch.Tensor]] = {}

    def __call__(self, step: int, generators: list[torch.Generator]) -> None:
        self.states[step] = [g.get_state() for g in generators]


def generate(
    gen: Any,
    items: Sequence[tuple[int, int]],
    hooks: Sequence[tuple[int, torch.Tensor] | None],
    batch_size: int,
    record: bool = False,
) -> tuple[np.ndarray, dict[int, list[torch.Tensor]]]:
    """Images of (prompt_id, seed) items with per-item switches; optionally recorded states."""
    images = []
    states: dict[int, list[torch.Tensor]] = {}
    for lo in range(0, len(items), batch_size):
        part = list(items[lo : lo + batch_size])
        hook: Callable[[int, list[torch.Generator]], None]
        if record:
            recorder = _Recorder()
            hook = recorder
        else:
            hook = _Switch(hooks[lo : lo + batch_size])
        images.append(gen.run(part, on_step=hook).images)
        if record:
            for step, got in recorder.states.items():
                states.setdefault(step, []).extend(got)
    return np.concatenate(images), states


def pixel_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Root-mean-square difference of uint8 images (N×H×W×C), on a 0-1 scale."""
    diff = a.astype(np.float64) / 255.0 - b.astype(np.float64) / 255.0
    return np.sqrt((diff**2).reshape(len(a), -1).mean(axis=1))


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of feature rows."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.clip(1.0 - (a * b).sum(axis=1), 0.0, 2.0)


def summarise(rows: pa.Table, n_boot: int = 1000, seed: int = 0) -> pa.Table:
    """Mean of each distance per (sampler, k) with a 95% bootstrap interval over prompts."""
    df = rows.to_pandas()
    measures = [c for c in df.columns if c.startswith(("pixel_", "feature_", "share_j_"))]
    rng = np.random.default_rng(seed)
    out = []
    for (sampler, k), group in df.groupby(["sampler", "k"], sort=False):
        per_prompt = group.groupby("prompt_id")[measures].mean()
        n = len(per_prompt)
        record: dict[str, Any] = {"sampler": sampler, "k": int(k), "n_images": len(group)}
        draws = rng.integers(0, n, size=(n_boot, n)) if n > 1 else None
        for m in measures:
            values = per_prompt[m].to_numpy(dtype=np.float64)
            record[m] = float(values.mean())
            if draws is not None:
                boot = values[draws].mean(axis=1)
                record[f"{m}_lo"], record[f"{m}_hi"] = (
                    float(np.quantile(boot, 0.025)),
                    float(np.quantile(boot, 0.975)),
                )
            else:
                record[f"{m}_lo"] = record[f"{m}_hi"] = float("nan")
        out.append(record)
    return pa.Table.from_pylist(out)


def _grid(cells: dict[tuple[str, str], np.ndarray], rows: list[str], cols: list[str]) -> Any:
    """Images laid out rows × columns with labels (scaled so that small images stay visible)."""
    from PIL import Image, ImageDraw

    first = next(iter(cells.values()))
    h, w = first.shape[:2]
    scale = max(1, 128 // max(h, w))
    ch, cw = h * scale, w * scale
    left, top, pad = 110, 18, 4
    grid = Image.new(
        "RGB",
        (left + len(cols) * (cw + pad), top + len(rows) * (ch + pad)),
        "white",
    )
    draw = ImageDraw.Draw(grid)
    for c, name in enumerate(cols):
        draw.text((left + c * (cw + pad) + 2, 3), name, fill="black")
    for r, row in enumerate(rows):
        draw.text((4, top + r * (ch + pad) + ch // 2 - 5), row, fill="black")
        for c, col in enumerate(cols):
            image = Image.fromarray(cells[(row, col)]).resize((cw, ch), Image.Resampling.NEAREST)
            grid.paste(image, (left + c * (cw + pad), top + r * (ch + pad)))
    return grid


def swap_study(
    pipe: Any,
    prompts: dict[int, str],
    pairs: Sequence[tuple[int, int]],
    settings: SwapSettings,
    progress: Callable[[int], None] | None = None,
) -> SwapResult:
    """Run the seed swap for every prompt, (i, j) pair, sampler and k; measure distances."""
    from seedscope.models.settings import set_scheduler
    from seedscope.sweep.generate import BatchGenerator

    if not pairs:
        raise SeedscopeError("give at least one seed pair i:j.")
    if any(i == j for i, j in pairs):
        raise SeedscopeError("a seed pair swaps a seed with itself; give two different seeds.")
    samplers = [(name, *parse_sampler(name)) for name in settings.samplers]
    ks = settings.switch_points()
    steps = settings.steps
    extractor = None
    if settings.features:
        from seedscope.features import get_extractor

        extractor = get_extractor(settings.features)
    original = pipe.scheduler
    pids = list(prompts)
    records: list[dict[str, Any]] = []
    cells: dict[tuple[str, str], np.ndarray] = {}
    example = (pids[0], *pairs[0])
    no_swap: dict[tuple[str, int, int], np.ndarray] = {}
    try:
        for name, scheduler, eta in samplers:
            pipe.scheduler = original
            set_scheduler(pipe, scheduler)
            gen = BatchGenerator(
                pipe,
                steps=steps,
                guidance=settings.guidance,
                height=settings.height,
                width=settings.width,
                generator_device=settings.generator_device,
                negative_prompt=settings.negative_prompt,
                eta=eta,
            )
            gen.encode(prompts)
            # Pure j: one run per (prompt, j); the generators' states are recorded at every step.
            js = list(dict.fromkeys(j for _, j in pairs))
            pure_items = [(p, j) for p in pids for j in js]
            pure, states = generate(gen, pure_items, [], settings.batch_size, record=True)
            if progress is not None:
                progress(len(pure_items))
            pure_j = {item: pure[n] for n, item in enumerate(pure_items)}
            # State of seed j's generator after k steps: the same for every prompt.
            state_of = {(j, k): states[k][pure_items.index((pids[0], j))] for j in js for k in ks}
            # Swapped runs, k = steps among them (the hook never fires then: no swap).
            items, hooks, keys = [], [], []
            for p in pids:
                for i, j in pairs:
                    for k in ks:
                        items.append((p, i))
                        hooks.append(None if k == steps else (k, state_of[(j, k)]))
                        keys.append((p, i, j, k))
            swapped, _ = generate(gen, items, hooks, settings.batch_size)
            if progress is not None:
                progress(len(items))
            pure_i = {(p, i): swapped[n] for n, (p, i, _, k) in enumerate(keys) if k == steps}
            no_swap.update({(name, p, i): image for (p, i), image in pure_i.items()})
            ref_i = np.stack([pure_i[(p, i)] for p, i, _, _ in keys])
            ref_j = np.stack([pure_j[(p, j)] for p, _, j, _ in keys])
            d_pix_i = pixel_distance(swapped, ref_i)
            d_pix_j = pixel_distance(swapped, ref_j)
            if extractor is not None:
                from PIL import Image

                def feats(batch: np.ndarray) -> np.ndarray:
                    return extractor.extract([Image.fromarray(x) for x in batch])

                f_swapped = feats(swapped)
                f_j = {item: row for item, row in zip(pure_items, feats(pure), strict=True)}
                f_i = {(p, i): f_swapped[n] for n, (p, i, _, k) in enumerate(keys) if k == steps}
                d_feat_i = cosine_distance(
                    f_swapped, np.stack([f_i[(p, i)] for p, i, _, _ in keys])
                )
                d_feat_j = cosine_distance(
                    f_swapped, np.stack([f_j[(p, j)] for p, _, j, _ in keys])
                )
            for n, (p, i, j, k) in enumerate(keys):
                row: dict[str, Any] = {
                    "sampler": name,
                    "k": k,
                    "prompt_id": p,
                    "seed_i": i,
                    "seed_j": j,
                    "pixel_to_i": float(d_pix_i[n]),
                    "pixel_to_j": float(d_pix_j[n]),
                    "share_j_pixel": _share(d_pix_i[n], d_pix_j[n]),
                }
                if extractor is not None:
                    row["feature_to_i"] = float(d_feat_i[n])
                    row["feature_to_j"] = float(d_feat_j[n])
                    row["share_j_feature"] = _share(d_feat_i[n], d_feat_j[n])
                records.append(row)
                if (p, i, j) == example:
                    cells[(name, f"k={k}" if k < steps else f"k={k} (pure i)")] = swapped[n]
            cells[(name, "pure j")] = pure_j[(example[0], example[2])]
    finally:
        pipe.scheduler = original
    cols = [f"k={k}" if k < steps else f"k={k} (pure i)" for k in ks] + ["pure j"]
    rows = pa.Table.from_pylist(records)
    return SwapResult(
        rows=rows,
        summary=summarise(rows, settings.n_boot),
        grid=_grid(cells, [s[0] for s in samplers], cols),
        settings={**dataclasses.asdict(settings), "ks": list(ks)},
        no_swap=no_swap,
    )


def _share(d_i: float, d_j: float) -> float:
    """Where the result sits between pure i (0) and pure j (1): d_i / (d_i + d_j)."""
    total = float(d_i) + float(d_j)
    return float(d_i) / total if total > 0 else 0.0


def parse_pairs(text: str) -> list[tuple[int, int]]:
    """Seed pairs 'i:j,i:j' (seeds checked like seed specs)."""
    from seedscope.seeds import parse_seeds

    pairs = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        left, sep, right = part.partition(":")
        if not sep:
            raise SeedscopeError(f"bad seed pair {part!r}; write pairs as i:j, e.g. 0:1,2:3.")
        pairs.append((parse_seeds(left)[0], parse_seeds(right)[0]))
    if not pairs:
        raise SeedscopeError("give at least one seed pair i:j, e.g. 0:1.")
    return pairs


def run_swap(
    *,
    model: str | None = None,
    sweep: str | None = None,
    prompts: Sequence[str] = (),
    n_prompts: int = 4,
    pairs: str | None = None,
    settings: SwapSettings | None = None,
    out: str | None = None,
    dtype: str = "float32",
    progress: Callable[[int], None] | None = None,
) -> SwapResult:
    """Load the model (a sweep's, with its settings, or MODEL) and run the seed swap.

    Writes swap-<identity>.parquet (per image), swap_summary-<identity>.parquet and the grid
    PNG into DIR/analysis of the sweep, or into OUT.
    """
    from seedscope.models import check_size, load_pipeline, parse_dtype, resolve_model
    from seedscope.models.settings import default_size

    settings = settings or SwapSettings()
    for name in settings.samplers:
        parse_sampler(name)  # refuse an unknown sampler before loading anything
    if (sweep is None) == (out is None):
        raise SeedscopeError("give --sweep DIR (results go to DIR/analysis) or --out DIR.")
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise SeedscopeError(f"--out {out!r} is a file, not a folder; name a folder to write to.")
    plan: dict[str, Any] = {}
    prompt_map: dict[int, str]
    opened = None
    if sweep is not None:
        from seedscope.store import open_sweep

        opened = open_sweep(sweep)
        plan = opened.plan
        world = plan.get("model_kind") == "world"
        model = model or ("world" if world else str(plan.get("model_path") or plan["model"]))
        settings = dataclasses.replace(
            settings,
            steps=int(plan["steps"]),
            guidance=float(plan["guidance"]),
            height=int(plan["height"]),
            width=int(plan["width"]),
            negative_prompt=plan.get("negative_prompt"),
            generator_device=plan.get("generator_device", "cpu"),
        )
        dtype = plan.get("dtype", dtype)
        table = opened.prompts()
        ids = table.column("prompt_id").to_pylist()[:n_prompts]
        texts = table.column("prompt").to_pylist()[:n_prompts]
        prompt_map = dict(zip(ids, texts, strict=True))
        if pairs is None:
            from seedscope.seeds import parse_seeds

            seeds = parse_seeds(str(plan["seeds"]))
            if len(seeds) < 2:
                raise SeedscopeError("the sweep has fewer than two seeds; give --pairs i:j.")
            pairs = ",".join(f"{seeds[n]}:{seeds[n + 1]}" for n in range(0, len(seeds) - 1, 2)[:4])
    else:
        if not prompts:
            raise SeedscopeError("give at least one --prompt (or --sweep DIR).")
        prompt_map = dict(enumerate(prompts))
    seed_pairs = parse_pairs(pairs or "0:1")
    ref = resolve_model(model or "world")
    pipe = load_pipeline(ref, parse_dtype(dtype), "cpu")
    if not settings.height or not settings.width:
        h, w = default_size(pipe)
        settings = dataclasses.replace(
            settings, height=settings.height or h, width=settings.width or w
        )
    check_size(pipe, settings.height, settings.width)
    result = swap_study(pipe, prompt_map, seed_pairs, settings, progress)
    if opened is not None:
        result.sweep_check = _check_against_sweep(opened, result, seed_pairs, prompt_map)
    _write(result, opened, out, model or "world", ref.content_hash)
    return result


def _check_against_sweep(
    sweep: Any, result: SwapResult, pairs: Sequence[tuple[int, int]], prompts: dict[int, str]
) -> dict[str, Any]:
    """How far the no-swap images are from the sweep's own images, for the sweep's sampler."""
    from seedscope.models.settings import SCHEDULERS

    scheduler = sweep.plan.get("scheduler")
    same = [
        name
        for name in result.settings["samplers"]
        if SCHEDULERS.get(parse_sampler(name)[0], parse_sampler(name)[0]) == scheduler
        and not parse_sampler(name)[1]
    ]
    if not same:
        return {"sampler": None, "images": 0}
    name = same[0]
    diffs = []
    for (sampler, p, i), image in result.no_swap.items():
        if sampler != name:
            continue
        try:
            stored = np.asarray(sweep.image(p, i).convert("RGB"))
        except SeedscopeError:
            continue
        diffs.append(int(np.abs(stored.astype(np.int16) - image.astype(np.int16)).max()))
    return {
        "sampler": name,
        "images": len(diffs),
        "max_abs_diff": max(diffs) if diffs else None,
        "equal": bool(diffs) and max(diffs) == 0,
    }


def _write(
    result: SwapResult, sweep: Any, out: str | None, model: str, model_hash: str | None
) -> None:
    from seedscope.store import atomic_write_bytes, atomic_write_parquet

    inputs = {"model": model, "model_hash": model_hash}
    if sweep is not None:
        from seedscope.analysis.io import write_analysis

        rows_path = write_analysis(sweep, "swap", result.rows, result.settings, inputs)
        summary_path = write_analysis(
            sweep, "swap_summary", result.summary, result.settings, inputs
        )
        grid_path = rows_path.with_suffix(".png")
    else:
        folder = Path(str(out))
        folder.mkdir(parents=True, exist_ok=True)
        from seedscope.analysis.io import analysis_identity

        meta = analysis_identity("swap", result.settings, inputs).metadata()
        rows_path = atomic_write_parquet(result.rows, folder / "swap.parquet", meta)
        summary_path = atomic_write_parquet(result.summary, folder / "swap_summary.parquet", meta)
        grid_path = folder / "swap_grid.png"
    import io

    buffer = io.BytesIO()
    result.grid.save(buffer, format="PNG")
    atomic_write_bytes(buffer.getvalue(), Path(grid_path))
    result.paths = {"rows": str(rows_path), "summary": str(summary_path), "grid": str(grid_path)}
