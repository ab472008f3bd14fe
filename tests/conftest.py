"""Shared fixtures: offline tiny pipelines saved to disk and a helper that makes real sweeps."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from fixtures.cli import Cli, run_cli
from fixtures.tiny import TINY_SIZE, save_tiny

torch.set_num_threads(2)

DEFAULT_PROMPTS = ("a photo of a cat", "a red car", "the blue sky", "a small bird on a tree")


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random StableDiffusionPipeline saved as a diffusers folder (32×32 images)."""
    return save_tiny("sd", tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="session")
def tiny_sdxl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random StableDiffusionXLPipeline saved as a diffusers folder."""
    return save_tiny("sdxl", tmp_path_factory.mktemp("models") / "tiny-sdxl")


def write_prompts(path: Path, prompts: Sequence[str]) -> Path:
    """Write a plain-text prompt file, one prompt per line."""
    path.write_text("\n".join(prompts) + "\n")
    return path


def make_sweep_dir(
    out: Path,
    model: Path | str,
    prompts: Sequence[str] = DEFAULT_PROMPTS,
    seeds: str = "0-3",
    **options: Any,
) -> Path:
    """Run a small real sweep into `out` (2 steps, 32×32 by default) and return `out`."""
    from seedscope.sweep import SweepOptions, run_sweep

    out.parent.mkdir(parents=True, exist_ok=True)
    prompt_file = write_prompts(out.parent / f"{out.name}-prompts.txt", prompts)
    settings: dict[str, Any] = {
        "steps": 2,
        "height": TINY_SIZE,
        "width": TINY_SIZE,
        "batch_size": 4,
    }
    settings.update(options)
    run_sweep(
        SweepOptions(
            model=str(model), prompts=str(prompt_file), seeds=seeds, out=str(out), **settings
        )
    )
    return out


@pytest.fixture
def make_sweep(tiny_sd_dir: Path, tmp_path: Path) -> Callable[..., Path]:
    """make_sweep(out=None, prompts=..., seeds='0-3', model=tiny SD, **options) -> a sweep dir."""

    def factory(out: Path | None = None, model: Path | str | None = None, **kwargs: Any) -> Path:
        return make_sweep_dir(out or tmp_path / "sweep", model or tiny_sd_dir, **kwargs)

    return factory


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """cli(args) -> (exit code, stdout, stderr) of `seedscope ARGS` run in-process."""
    return lambda args: run_cli(args, monkeypatch, capsys)
