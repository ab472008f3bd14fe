"""Model resolution: local folders, hub ids from a local Hugging Face cache, `world`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from seedscope.errors import SeedscopeError
from seedscope.models import resolve_model
from seedscope.models.loading import folder_hash


def fake_hub_cache(cache: Path, repo_id: str, folder: Path, commit: str = "a" * 40) -> Path:
    """Lay a pipeline folder out as the hub client does: models--org--name/{refs,snapshots}."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return repo


def test_hub_id_from_local_cache(
    tiny_sd_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants as constants

    from conftest import make_sweep_dir

    fake_hub_cache(tmp_path / "hub", "tiny/sd", tiny_sd_dir)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    ref = resolve_model("tiny/sd")
    assert ref.kind == "hub" and ref.content_hash == "a" * 40
    out = make_sweep_dir(
        tmp_path / "s", "tiny/sd", prompts=["a cat"], seeds="0", steps=1, guidance=0.0
    )
    assert len(list((out / "images").glob("*.parquet"))) == 1
    with pytest.raises(SeedscopeError, match=re.escape("huggingface-cli download other/model")):
        resolve_model("other/model")


def test_local_folder_hash(tiny_sd_dir: Path, tmp_path: Path) -> None:
    ref = resolve_model(str(tiny_sd_dir))
    assert ref.kind == "local" and ref.content_hash == folder_hash(tiny_sd_dir)
    copy = shutil.copytree(tiny_sd_dir, tmp_path / "copy")
    assert folder_hash(copy) == ref.content_hash
    (copy / "scheduler" / "scheduler_config.json").write_text("{}")
    assert folder_hash(copy) != ref.content_hash


def test_not_a_pipeline_folder(tmp_path: Path) -> None:
    with pytest.raises(SeedscopeError, match=r"model_index\.json"):
        resolve_model(str(tmp_path))


def test_world_without_loader_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import seedscope.world as world
    from seedscope.models import load_pipeline

    monkeypatch.delattr(world, "load_pipeline", raising=False)
    with pytest.raises(SeedscopeError, match="world"):
        load_pipeline(resolve_model("world"))
