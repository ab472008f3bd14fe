"""Seed cards: a pool of seeds with the settings under which they mean the same noise (JSON).

A card (the DESIGN.md contract) records the model (id and content hash), pipeline class,
scheduler and its config, steps, guidance, height, width, dtype, generator device, the latent
shape, each seed with its `noise_sha256`, and the evidence that chose the seeds. A seed names
other noise under another model's latent shape, another dtype or another generator device, so
a card is refused there in one sentence.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from seedscope import __version__
from seedscope.errors import SeedscopeError
from seedscope.models.loading import ModelRef, folder_hash, resolve_model
from seedscope.store import atomic_write_bytes

log = logging.getLogger(__name__)

FORMAT = "seedscope.seed-card"
FORMAT_VERSION = 1
KINDS = ("golden", "diverse", "pool")


@dataclass(frozen=True)
class CardSeed:
    """One seed of a card: its noise fingerprint, its metrics and, for diverse cards, its vector."""

    seed: int
    noise_sha256: str
    metrics: dict[str, Any] = field(default_factory=dict)
    vector: list[float] | None = None


@dataclass(frozen=True)
class SeedCard:
    """A shareable pool of seeds and every setting that makes them mean the same noise."""

    kind: str
    model: dict[str, Any]  # id, kind, hash
    pipeline_class: str
    scheduler: str
    scheduler_config: dict[str, Any]
    steps: int
    guidance: float
    height: int
    width: int
    dtype: str
    generator_device: str
    latent_shape: tuple[int, ...]
    seeds: tuple[CardSeed, ...]
    negative_prompt: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    created_by: str = f"seedscope {__version__}"
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def seed_list(self) -> list[int]:
        """The card's seeds in the card's order (best or most spread first)."""
        return [s.seed for s in self.seeds]

    def pick(self, n: int | None = None, rng: int | np.random.Generator | None = None) -> list[int]:
        """`n` seeds from the pool: golden cards the first n (or n at random with `rng`, repeating
        only when n exceeds the pool); diverse cards farthest-point sampling from the first seed
        (or a random one with `rng`)."""
        pool = self.seed_list()
        n = len(pool) if n is None else int(n)
        if n < 1:
            raise SeedscopeError(f"ask for at least one seed, not {n}.")
        gen = None if rng is None else np.random.default_rng(rng)
        if self.kind == "diverse" and all(s.vector is not None for s in self.seeds):
            from seedscope.pick.diverse import farthest_point_sampling

            vectors = np.asarray([s.vector for s in self.seeds], np.float64)
            first = 0 if gen is None else int(gen.integers(len(pool)))
            order = farthest_point_sampling(vectors, min(n, len(pool)), first=first)
            chosen = [pool[i] for i in order]
            return [chosen[i % len(chosen)] for i in range(n)]
        if gen is None:
            return [pool[i % len(pool)] for i in range(n)]
        if n <= len(pool):
            return [pool[i] for i in gen.choice(len(pool), n, replace=False)]
        return [pool[i] for i in gen.choice(len(pool), n, replace=True)]

    def generators(
        self,
        n: int | None = None,
        *,
        rng: int | np.random.Generator | None = None,
        device: str | None = None,
        pipe: Any = None,
    ) -> list[Any]:
        """torch.Generators for a diffusers call: ``pipe(prompts, generator=card.generators(4))``.

        `device` (default: the card's generator device) must be the card's; with `pipe` the
        pipeline's latent shape and dtype are checked against the card first.
        """
        from seedscope.seeds import make_generators

        device = device or self.generator_device
        if _device_kind(device) != _device_kind(self.generator_device):
            raise SeedscopeError(
                f"this card's seeds were drawn on {self.generator_device} generators and mean "
                f"other noise on {device}; use device={self.generator_device!r} "
                "(diffusers moves the latents to the model's device)."
            )
        _require_generator_device(self)
        if pipe is not None:
            self.check_pipeline(pipe)
        return make_generators(self.pick(n, rng), device)

    def check_pipeline(
        self, pipe: Any, height: int | None = None, width: int | None = None
    ) -> None:
        """Refuse a loaded pipeline whose latent shape or dtype differs from the card's."""
        from seedscope.models.settings import denoiser, latent_shape

        shape = latent_shape(pipe, height or self.height, width or self.width)
        dtype = str(denoiser(pipe).dtype).removeprefix("torch.")
        check_compatible(self, latent_shape=shape, dtype=dtype)
        self.check_pipeline_model(pipe)

    def check_pipeline_model(self, pipe: Any) -> None:
        """Refuse a pipeline loaded from another model than the card's (warn when unknowable)."""
        want = self.model.get("hash")
        path = getattr(getattr(pipe, "config", None), "_name_or_path", None) or getattr(
            pipe, "name_or_path", None
        )
        if not want:
            return
        if not path:
            log.warning(
                "the pipeline does not say which folder it was loaded from "
                "(no config._name_or_path); cannot check it is the card's model %r",
                self.model.get("id"),
            )
            return
        found = _pipe_model_hash(str(path), str(self.model.get("kind")))
        if found is None:
            log.warning(
                "cannot find the folder of the pipeline's model %r; cannot check it is the "
                "card's model %r",
                str(path),
                self.model.get("id"),
            )
        elif found != want:
            raise SeedscopeError(_model_sentence(self, str(path), found))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, the card file's content (format first)."""
        data = asdict(self)
        data["latent_shape"] = list(self.latent_shape)
        data["seeds"] = [
            {k: v for k, v in asdict(s).items() if v is not None or k != "vector"}
            for s in self.seeds
        ]
        head = {"format": data.pop("format"), "format_version": data.pop("format_version")}
        return json.loads(json.dumps({**head, **data}, default=_jsonable))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "the card") -> SeedCard:
        """Rebuild a card from its JSON content; one sentence on anything missing or unknown."""
        if data.get("format") != FORMAT:
            raise SeedscopeError(f"{source} is not a seedscope seed card (no format {FORMAT!r}).")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise SeedscopeError(
                f"{source} has card format version {version}; this seedscope reads version "
                f"{FORMAT_VERSION}: upgrade seedscope."
            )
        try:
            seeds = tuple(
                CardSeed(
                    seed=int(s["seed"]),
                    noise_sha256=str(s["noise_sha256"]),
                    metrics=dict(s.get("metrics") or {}),
                    vector=None if s.get("vector") is None else [float(v) for v in s["vector"]],
                )
                for s in data["seeds"]
            )
            card = cls(
                kind=str(data["kind"]),
                model=dict(data["model"]),
                pipeline_class=str(data["pipeline_class"]),
                scheduler=str(data["scheduler"]),
                scheduler_config=dict(data["scheduler_config"]),
                steps=int(data["steps"]),
                guidance=float(data["guidance"]),
                height=int(data["height"]),
                width=int(data["width"]),
                dtype=str(data["dtype"]),
                generator_device=str(data["generator_device"]),
                latent_shape=tuple(int(x) for x in data["latent_shape"]),
                seeds=seeds,
                negative_prompt=data.get("negative_prompt"),
                evidence=dict(data.get("evidence") or {}),
                created_by=str(data.get("created_by", "")),
            )
        except KeyError as err:
            raise SeedscopeError(
                f"{source} is damaged or incomplete (field {err.args[0]!r} is missing)."
            ) from err
        except (TypeError, ValueError) as err:
            raise SeedscopeError(f"{source} is damaged or incomplete ({err}).") from err
        if not seeds:
            raise SeedscopeError(f"{source} holds no seeds.")
        if card.kind not in KINDS:
            raise SeedscopeError(f"{source} is of unknown kind {card.kind!r}.")
        return card

    def with_evidence(self, **evidence: Any) -> SeedCard:
        """A copy with more evidence entries."""
        return replace(self, evidence={**self.evidence, **evidence})


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def _device_kind(device: str) -> str:
    """cpu, cuda or mps: generators of one kind draw the same numbers on every such device."""
    return str(device).split(":", 1)[0]


def _pipe_model_hash(path: str, card_kind: str) -> str | None:
    """The content hash of the model a pipeline was loaded from, as the card's kind records it:
    a folder's `folder_hash`, a cached hub snapshot's revision; None when it cannot be found."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        try:
            ref = resolve_model(path)
        except SeedscopeError:
            return None
        if ref.path is None:
            return None
        if card_kind == "hub":
            return ref.content_hash
        folder = Path(ref.path)
    if card_kind == "hub" and folder.parent.name == "snapshots":
        return folder.name
    return folder_hash(folder)


def load_card(path: str | os.PathLike[str]) -> SeedCard:
    """Read a seed card from a JSON file: ``seedscope.load_card(path).generators(4)``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise SeedscopeError(f"the seed card {str(p)!r} does not exist.") from err
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise SeedscopeError(f"the seed card {str(p)!r} is not readable JSON ({err}).") from err
    if not isinstance(data, dict):
        raise SeedscopeError(f"the seed card {str(p)!r} is not a JSON object.")
    return SeedCard.from_dict(data, source=f"the seed card {str(p)!r}")


def write_card(card: SeedCard, path: str | os.PathLike[str]) -> Path:
    """Write a card atomically as indented JSON; returns the path."""
    p = Path(path)
    if p.is_dir():
        raise SeedscopeError(f"--out {str(p)!r} is a folder; give a file name such as card.json.")
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes((json.dumps(card.to_dict(), indent=2) + "\n").encode(), p)
    return p


# Model identity and latent shape without loading weights.


def resolve(name: str) -> ModelRef:
    """`resolve_model`, with the bundled world model's folder and content hash filled in."""
    ref = resolve_model(name)
    if ref.kind == "world" and ref.path is None:
        try:
            from seedscope.world.model import weights_path

            folder = Path(weights_path())
        except (ImportError, AttributeError):
            return ref
        if (folder / "model_index.json").is_file():
            ref = ModelRef(ref.name, ref.kind, str(folder), folder_hash(folder))
    return ref


def folder_latent_shape(folder: str | Path, height: int, width: int) -> tuple[int, int, int]:
    """(channels, h, w) of one initial latent, read from a pipeline folder's configs."""
    root = Path(folder)
    net = next(
        (
            root / d / "config.json"
            for d in ("unet", "transformer")
            if (root / d / "config.json").is_file()
        ),
        None,
    )
    vae = root / "vae" / "config.json"
    if net is None or not vae.is_file():
        raise SeedscopeError(f"{str(root)!r} has no unet (or transformer) and vae config.")
    channels = int(json.loads(net.read_text()).get("in_channels", 4))
    blocks = json.loads(vae.read_text()).get("block_out_channels", [0])
    factor = 2 ** (len(blocks) - 1)
    return channels, height // factor, width // factor


def _model_sentence(card: SeedCard, name: str, found: str | None) -> str:
    return (
        f"this card was made with model {card.model.get('id')!r} (content hash "
        f"{str(card.model.get('hash'))[:12]}), not {name!r} ({str(found)[:12]}); its seeds were "
        "chosen for that model: make a card for this one with `seedscope pick golden`."
    )


def check_compatible(
    card: SeedCard,
    *,
    model: ModelRef | None = None,
    latent_shape: Sequence[int] | None = None,
    dtype: str | None = None,
    generator_device: str | None = None,
) -> None:
    """Refuse, in one sentence, a model, latent shape, dtype or generator device not the card's."""
    if model is not None:
        want = card.model.get("hash")
        if want and model.content_hash and model.content_hash != want:
            raise SeedscopeError(_model_sentence(card, model.name, model.content_hash))
        if not want or not model.content_hash:
            same = model.name == card.model.get("id") or (
                model.path is not None and model.path == card.model.get("path")
            )
            if not same:
                raise SeedscopeError(_model_sentence(card, model.name, model.content_hash))
    if latent_shape is not None and tuple(int(x) for x in latent_shape) != card.latent_shape:
        raise SeedscopeError(
            f"this card's seeds are noise of latent shape {list(card.latent_shape)}, not "
            f"{list(latent_shape)}: the same seed draws other noise at another resolution or "
            f"channel count (use height {card.height} and width {card.width})."
        )
    if dtype is not None and dtype.removeprefix("torch.") != card.dtype:
        raise SeedscopeError(
            f"this card's seeds were drawn in {card.dtype}, not {dtype}: the same seed gives "
            f"other noise in another dtype (use --dtype {card.dtype})."
        )
    if generator_device is not None and _device_kind(generator_device) != _device_kind(
        card.generator_device
    ):
        raise SeedscopeError(
            f"this card's seeds were drawn on {card.generator_device} generators and mean other "
            f"noise on {generator_device} (use --generator-device {card.generator_device})."
        )


def noise_fingerprints(
    seeds: Sequence[int], shape: Sequence[int], dtype: str, device: str = "cpu"
) -> dict[int, str]:
    """Each seed's `noise_sha256`: the initial latent diffusers' randn_tensor draws from it."""
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    from seedscope.models.settings import parse_dtype
    from seedscope.seeds import noise_sha256

    torch_dtype = parse_dtype(dtype)
    out = {}
    for s in seeds:
        gen = torch.Generator(device).manual_seed(int(s))
        latent = randn_tensor(
            (1, *shape), generator=gen, device=torch.device(device), dtype=torch_dtype
        )
        out[int(s)] = noise_sha256(latent[0])
    return out


# Cards from sweeps.


def sweep_noise(sweep: Any, seeds: Sequence[int]) -> dict[int, str]:
    """Each seed's `noise_sha256` as the sweep recorded it (one value per seed, or an error)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = sweep.images(["seed", "noise_sha256"])
    table = table.filter(pc.is_in(table["seed"], value_set=pa.array(list(seeds), pa.int64())))
    found: dict[int, set[str]] = {}
    for s, h in zip(table["seed"].to_pylist(), table["noise_sha256"].to_pylist(), strict=True):
        found.setdefault(int(s), set()).add(str(h))
    missing = [s for s in seeds if int(s) not in found]
    if missing:
        raise SeedscopeError(f"the sweep {str(sweep.path)!r} has no image of seed {missing[0]}.")
    odd = [s for s, hs in found.items() if len(hs) > 1]
    if odd:
        raise SeedscopeError(
            f"seed {odd[0]} has {len(found[odd[0]])} different noise fingerprints in "
            f"{str(sweep.path)!r}; its images were not made under one plan."
        )
    return {int(s): next(iter(found[int(s)])) for s in seeds}


def plan_model(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The model entry of a card for a sweep plan (hash filled in for the bundled model)."""
    entry = {
        "id": plan.get("model"),
        "kind": plan.get("model_kind"),
        "path": plan.get("model_path"),
        "hash": plan.get("model_hash"),
    }
    if not entry["hash"] and plan.get("model_kind") == "world":
        ref = resolve("world")
        entry.update(
            path=ref.path, hash=ref.content_hash, hash_source="the installed bundled model"
        )
    return entry


def plan_latent_shape(plan: Mapping[str, Any], model: Mapping[str, Any]) -> tuple[int, int, int]:
    """The sweep's latent shape from its model folder's configs (loading the pipeline if needed)."""
    height, width = int(plan["height"]), int(plan["width"])
    path = model.get("path")
    if path and Path(path).is_dir():
        try:
            return folder_latent_shape(path, height, width)
        except SeedscopeError:
            pass
    from seedscope.models import latent_shape, load_pipeline

    pipe = load_pipeline(resolve(str(plan["model"])))
    return latent_shape(pipe, height, width)


def card_from_sweep(
    sweep: Any,
    seeds: Sequence[int],
    *,
    kind: str,
    metrics: Mapping[int, Mapping[str, Any]] | None = None,
    vectors: Mapping[int, Sequence[float]] | None = None,
    evidence: Mapping[str, Any] | None = None,
) -> SeedCard:
    """A card for `seeds` (in order) under the plan of `sweep`, fingerprints read from its images."""
    plan = sweep.plan
    for key in ("height", "width", "dtype", "generator_device", "steps", "guidance"):
        if key not in plan:
            raise SeedscopeError(
                f"the sweep {str(sweep.path)!r} has no {key!r} in sweep.json; a card needs the "
                "full plan of a `seedscope sweep`."
            )
    noise = sweep_noise(sweep, seeds)
    model = plan_model(plan)
    return SeedCard(
        kind=kind,
        model=model,
        pipeline_class=str(plan.get("pipeline_class")),
        scheduler=str(plan.get("scheduler")),
        scheduler_config=dict(plan.get("scheduler_config") or {}),
        steps=int(plan["steps"]),
        guidance=float(plan["guidance"]),
        height=int(plan["height"]),
        width=int(plan["width"]),
        dtype=str(plan["dtype"]),
        generator_device=str(plan["generator_device"]),
        latent_shape=plan_latent_shape(plan, model),
        negative_prompt=plan.get("negative_prompt"),
        seeds=tuple(
            CardSeed(
                seed=int(s),
                noise_sha256=noise[int(s)],
                metrics=dict((metrics or {}).get(int(s), {})),
                vector=None if vectors is None else [round(float(v), 6) for v in vectors[int(s)]],
            )
            for s in seeds
        ),
        evidence=dict(evidence or {}),
    )


def check_sweep(card: SeedCard, sweep: Any) -> None:
    """Refuse a sweep made under another model, latent shape, dtype or generator device."""
    plan = sweep.plan
    model = plan_model(plan)
    ref = ModelRef(str(model["id"]), str(model["kind"]), model["path"], model["hash"])
    check_compatible(
        card,
        model=ref,
        latent_shape=plan_latent_shape(plan, model),
        dtype=str(plan.get("dtype")),
        generator_device=str(plan.get("generator_device")),
    )
    for key in ("steps", "guidance", "scheduler"):
        if plan.get(key) != getattr(card, key):
            log.warning(
                "the sweep %s has %s %r, the card %r: its seeds were chosen under other settings",
                sweep.path,
                key,
                plan.get(key),
                getattr(card, key),
            )


# verify and generate.


def _require_generator_device(card: SeedCard) -> None:
    """Refuse a card whose generator device (cuda, mps) this machine does not have."""
    device = card.generator_device
    kind = _device_kind(device)
    if kind not in ("cuda", "mps"):
        return
    import torch

    have = torch.cuda.is_available() if kind == "cuda" else torch.backends.mps.is_available()
    if not have:
        raise SeedscopeError(
            f"this card's seeds are {device} noise and this machine has no "
            f"{kind.upper() if kind == 'cuda' else 'MPS'} device to draw them on."
        )


def verify_card(card: SeedCard, model: str | None = None) -> dict[str, Any]:
    """Recompute the card's noise fingerprints on this machine and check the model's identity."""
    name = model or str(card.model.get("id"))
    ref = resolve(name)
    check_compatible(card, model=ref)
    if ref.path is None:
        raise SeedscopeError(f"model {name!r} has no folder to read its latent shape from.")
    shape = folder_latent_shape(ref.path, card.height, card.width)
    check_compatible(card, latent_shape=shape)
    device = card.generator_device
    _require_generator_device(card)
    found = noise_fingerprints(card.seed_list(), shape, card.dtype, device)
    bad = [s.seed for s in card.seeds if found[s.seed] != s.noise_sha256]
    return {
        "ok": not bad,
        "model": name,
        "model_hash": ref.content_hash,
        "latent_shape": list(shape),
        "dtype": card.dtype,
        "generator_device": device,
        "seeds_checked": len(found),
        "mismatched": bad,
    }


def generate_from_card(
    card: SeedCard,
    prompts: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    per_prompt: int | None = None,
    model: str | None = None,
    batch_size: int = 8,
    device: str | None = None,
    engine: str = "local",
    progress: bool = False,
) -> dict[str, Any]:
    """Generate PROMPTS x the card's seeds (the first `per_prompt` of them) as an ordinary sweep.

    Runs `seedscope.sweep.run_sweep` with the card's settings (resumable like any sweep), then
    checks that every image's initial noise is the noise the card records.
    """
    from seedscope.seeds import format_seeds
    from seedscope.store import open_sweep
    from seedscope.sweep import SweepOptions, run_sweep

    name = model or str(card.model.get("id"))
    ref = resolve(name)
    check_compatible(card, model=ref)
    if ref.path is not None:
        check_compatible(card, latent_shape=folder_latent_shape(ref.path, card.height, card.width))
    if per_prompt is not None and per_prompt < 1:
        raise SeedscopeError(f"--per-prompt must be at least 1, not {per_prompt}.")
    if per_prompt is not None and per_prompt > len(card.seeds):
        raise SeedscopeError(
            f"--per-prompt {per_prompt} is more than the card's {len(card.seeds)} seeds; "
            f"give at most {len(card.seeds)}."
        )
    _require_generator_device(card)
    seeds = list(dict.fromkeys(card.pick(per_prompt or len(card.seeds))))
    want = {s.seed: s.noise_sha256 for s in card.seeds}
    drawn = noise_fingerprints(seeds, card.latent_shape, card.dtype, card.generator_device)
    bad = [s for s in seeds if drawn[s] != want[s]]
    if bad:
        raise SeedscopeError(
            f"seed {bad[0]} draws other initial noise here than the card records, so nothing "
            "was generated; the card does not hold on this machine (check it with "
            "`seedscope card verify`)."
        )
    opts = SweepOptions(
        model=name,
        prompts=str(prompts),
        seeds=format_seeds(seeds),
        out=str(out),
        steps=card.steps,
        guidance=card.guidance,
        height=card.height,
        width=card.width,
        scheduler=card.scheduler,
        dtype=card.dtype,
        negative_prompt=card.negative_prompt,
        generator_device=card.generator_device,
        device=device,
        batch_size=batch_size,
        engine=engine,
    )
    result = run_sweep(opts, progress=progress)
    made = open_sweep(out)
    got = sweep_noise(made, seeds)
    bad = [s for s in seeds if got[s] != want[s]]
    if bad:
        raise SeedscopeError(
            f"seed {bad[0]} drew other initial noise here than the card records; the card does "
            "not hold on this machine (check it with `seedscope card verify`)."
        )
    card_copy = Path(out) / "card.json"
    if not card_copy.exists():
        write_card(card, card_copy)
    return {**result.to_dict(), "seeds": seeds, "noise_checked": len(seeds)}
