"""Resolve a model name to a folder (local, Hugging Face cache, bundled) and load the pipeline."""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seedscope._compat import dtype_kwargs
from seedscope.errors import SeedscopeError

log = logging.getLogger(__name__)

WORLD = "world"


@dataclass(frozen=True)
class ModelRef:
    """Where a model comes from: its name as given, the folder it loads from, its identity."""

    name: str
    kind: str  # "local", "hub" or "world"
    path: str | None
    content_hash: str | None  # sha256 over a local folder's files; hub: the snapshot revision


def folder_hash(folder: Path) -> str:
    """sha256 over every file's relative path and bytes, in sorted path order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith(".") or "/." in rel:
            continue
        digest.update(rel.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def resolve_model(name: str) -> ModelRef:
    """Find MODEL: a local pipeline folder, a hub id in the local HF cache, or `world`."""
    if name == WORLD:
        folder = _world_folder()
        if folder is None:
            return ModelRef(name=WORLD, kind="world", path=None, content_hash=None)
        return ModelRef(
            name=WORLD, kind="world", path=str(folder), content_hash=folder_hash(folder)
        )
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "model_index.json").is_file():
            raise SeedscopeError(
                f"{name!r} is not a diffusers pipeline folder (it has no model_index.json)."
            )
        return ModelRef(
            name=name, kind="local", path=str(path.resolve()), content_hash=folder_hash(path)
        )
    if not _looks_like_hub_id(name):
        raise SeedscopeError(
            f"unknown model {name!r}: give a diffusers pipeline folder, a Hugging Face id "
            "such as stabilityai/sdxl-turbo, or 'world'."
        )
    from huggingface_hub import snapshot_download

    try:
        snapshot = snapshot_download(name, local_files_only=True)
    except Exception as err:  # LocalEntryNotFoundError, offline errors, bad ids
        raise SeedscopeError(
            f"model {name!r} is not in the local Hugging Face cache; get it with "
            f"`huggingface-cli download {name}` (nothing is downloaded at run time)."
        ) from err
    folder_path = Path(str(snapshot))
    if not (folder_path / "model_index.json").is_file():
        raise SeedscopeError(
            f"the cached model {name!r} is not a diffusers pipeline (no model_index.json)."
        )
    return ModelRef(name=name, kind="hub", path=str(folder_path), content_hash=folder_path.name)


def pipeline_class_name(ref: ModelRef) -> str:
    """The pipeline class named in model_index.json (or the bundled model's class)."""
    if ref.path is None:
        return "world"
    return str(json.loads((Path(ref.path) / "model_index.json").read_text())["_class_name"])


def _world_folder() -> Path | None:
    """The bundled world model's weights folder, when the world part provides one."""
    try:
        folder = Path(importlib.import_module("seedscope.world").weights_path())
    except (ImportError, AttributeError, TypeError):
        return None
    return folder if (folder / "model_index.json").is_file() else None


def world_defaults() -> tuple[int, float] | None:
    """(steps, guidance) the bundled world model is sampled with, if it says."""
    try:
        world = importlib.import_module("seedscope.world")
        steps, guidance = world.sampling_defaults()
    except (ImportError, AttributeError):
        return None
    return int(steps), float(guidance)


def _load_world(dtype: Any) -> Any:
    try:
        world = importlib.import_module("seedscope.world")
        loader = world.load_pipeline
    except (ImportError, AttributeError) as err:
        raise SeedscopeError(
            "the bundled 'world' model is not available in this version yet; "
            "give a diffusers pipeline folder or a cached Hugging Face id instead."
        ) from err
    try:
        return loader(dtype=dtype)
    except TypeError:
        return loader()


def quiet_libraries() -> None:
    """Silence diffusers/transformers loading bars and info logs (our own progress is enough)."""
    import diffusers.utils.logging as dlog
    import transformers.utils.logging as tlog

    dlog.set_verbosity_error()
    dlog.disable_progress_bar()
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()


def load_pipeline(ref: ModelRef, dtype: Any = None, device: str = "cpu") -> Any:
    """Load the pipeline for `ref` offline (local_files_only), in `dtype`, on `device`."""
    quiet_libraries()
    if ref.kind == "world":
        pipe = _load_world(dtype)
    else:
        from diffusers import DiffusionPipeline

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        kwargs: dict[str, Any] = {"local_files_only": True, **dtype_kwargs(dtype)}
        try:
            pipe = DiffusionPipeline.from_pretrained(ref.path, **kwargs)
        except (OSError, ValueError) as err:
            raise SeedscopeError(
                f"cannot load the pipeline in {ref.path!r}: {err}".rstrip(".") + "."
            ) from err
    if dtype is not None and ref.kind == "world":
        pipe = pipe.to(dtype)
    pipe = pipe.to(device)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    log.info("loaded %s from %s", type(pipe).__name__, ref.path or ref.name)
    return pipe
