"""Seed cards: generate reproduces plain diffusers calls; other models, shapes, dtypes, devices refused."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline

import seedscope
from fixtures.cli import Cli
from seedscope.errors import SeedscopeError
from seedscope.pick.cards import (
    card_from_sweep,
    check_compatible,
    generate_from_card,
    load_card,
    noise_fingerprints,
    verify_card,
    write_card,
)

NEW_PROMPTS = ("a green boat on the sea", "a small dog")


@pytest.fixture(scope="module")
def card_path(grid: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    card = card_from_sweep(seedscope.open_sweep(grid), [5, 2], kind="golden")
    return write_card(card, tmp_path_factory.mktemp("card") / "card.json")


def test_card_records_the_contract(card_path: Path, grid: Path, tiny_sd_dir: Path) -> None:
    data = json.loads(card_path.read_text())
    assert data["format"] == "seedscope.seed-card" and data["format_version"] == 1
    for key in ("model", "pipeline_class", "scheduler", "scheduler_config", "steps", "guidance"):
        assert key in data
    assert data["model"]["hash"] and data["pipeline_class"] == "StableDiffusionPipeline"
    assert data["latent_shape"] == [4, 16, 16] and data["dtype"] == "float32"
    assert [s["seed"] for s in data["seeds"]] == [5, 2]
    # Each seed's fingerprint is the sweep's and what randn_tensor draws from that seed.
    fresh = noise_fingerprints([5, 2], (4, 16, 16), "float32")
    assert [s["noise_sha256"] for s in data["seeds"]] == [fresh[5], fresh[2]]
    card = seedscope.load_card(card_path)
    assert card.to_dict() == data
    gens = card.generators(4)
    assert len(gens) == 4
    assert torch.equal(
        torch.randn(3, generator=gens[0]),
        torch.randn(3, generator=torch.Generator().manual_seed(5)),
    )
    assert card.pick(3, rng=0) != card.pick(3) or len(set(card.pick(2, rng=1))) == 2


def test_generate_reproduces_plain_diffusers_calls(
    card_path: Path, tiny_sd_dir: Path, tmp_path: Path
) -> None:
    prompts = tmp_path / "new.txt"
    prompts.write_text("\n".join(NEW_PROMPTS) + "\n")
    card = load_card(card_path)
    out = tmp_path / "gen"
    result = generate_from_card(card, prompts, out, model=str(tiny_sd_dir), batch_size=3)
    assert result["images_generated"] == 4 and result["noise_checked"] == 2
    again = generate_from_card(card, prompts, out, model=str(tiny_sd_dir))
    assert again["mode"] == "complete" and again["images_generated"] == 0  # resumable
    sweep = seedscope.open_sweep(out)
    assert (out / "card.json").is_file()
    pipe = DiffusionPipeline.from_pretrained(tiny_sd_dir)
    pipe.set_progress_bar_config(disable=True)
    kwargs = {
        "num_inference_steps": card.steps,
        "guidance_scale": card.guidance,
        "height": card.height,
        "width": card.width,
    }
    for pid, prompt in enumerate(NEW_PROMPTS):
        # The one-liner a diffusers user writes: one generator per image from the card.
        plain = pipe([prompt] * 2, generator=card.generators(2, pipe=pipe), **kwargs).images
        for seed, image in zip(card.seed_list(), plain, strict=True):
            got = np.asarray(sweep.image(pid, seed)).astype(int)
            assert np.abs(got - np.asarray(image).astype(int)).max() <= 2


def test_other_model_device_dtype_and_shape_are_refused(
    card_path: Path, tiny_sdxl_dir: Path, tmp_path: Path
) -> None:
    card = load_card(card_path)
    prompts = tmp_path / "p.txt"
    prompts.write_text("a cat\n")
    with pytest.raises(SeedscopeError, match="this card was made with model"):
        generate_from_card(card, prompts, tmp_path / "x", model=str(tiny_sdxl_dir))
    assert not (tmp_path / "x").exists()  # nothing written
    with pytest.raises(SeedscopeError, match="mean other noise on cuda"):
        card.generators(2, device="cuda")
    with pytest.raises(SeedscopeError, match="drawn in float32, not float16"):
        check_compatible(card, dtype="float16")
    with pytest.raises(SeedscopeError, match=r"latent shape \[4, 16, 16\], not \[4, 32, 32\]"):
        check_compatible(card, latent_shape=(4, 32, 32))
    with pytest.raises(SeedscopeError, match="this card was made with model"):
        verify_card(card, str(tiny_sdxl_dir))


def test_verify_finds_a_wrong_fingerprint(
    card_path: Path, tiny_sd_dir: Path, tmp_path: Path
) -> None:
    card = load_card(card_path)
    report = verify_card(card, str(tiny_sd_dir))
    assert report["ok"] and report["seeds_checked"] == 2
    data = json.loads(card_path.read_text())
    data["seeds"][1]["noise_sha256"] = "0" * 64
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    report = verify_card(load_card(bad), str(tiny_sd_dir))
    assert not report["ok"] and report["mismatched"] == [2]


def test_card_cli(card_path: Path, tiny_sd_dir: Path, tmp_path: Path, cli: Cli) -> None:
    code, out, _ = cli(["card", "verify", str(card_path), "--model", str(tiny_sd_dir), "--json"])
    assert code == 0 and json.loads(out)["ok"]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    code, _, err = cli(["card", "verify", str(broken)])
    assert code == 2 and "not readable JSON" in err and "Traceback" not in err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "seedscope.seed-card", "format_version": 99}))
    code, _, err = cli(["generate", "--card", str(other), "--prompts", "x.txt", "--out", "o"])
    assert code == 2 and "format version 99" in err


def _edited(card_path: Path, tmp_path: Path, name: str, edit: Any) -> Path:
    data = json.loads(card_path.read_text())
    edit(data)
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_generators_refuse_a_pipeline_of_another_model_of_any_kind(
    card_path: Path, tiny_sd_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = tmp_path / "other-sd"
    shutil.copytree(tiny_sd_dir, other)
    (other / "README.md").write_text("another model: same shapes, other files\n")
    same_pipe = DiffusionPipeline.from_pretrained(tiny_sd_dir)
    other_pipe = DiffusionPipeline.from_pretrained(other)
    for kind in ("local", "world"):  # the bundled model's cards are checked too
        card = load_card(
            _edited(
                card_path, tmp_path, f"{kind}.json", lambda d, k=kind: d["model"].update(kind=k)
            )
        )
        assert len(card.generators(2, pipe=same_pipe)) == 2
        with pytest.raises(SeedscopeError, match="this card was made with model"):
            card.generators(2, pipe=other_pipe)
    other_pipe.register_to_config(_name_or_path="")
    with caplog.at_level(logging.WARNING, logger="seedscope.pick.cards"):
        assert len(card.generators(2, pipe=other_pipe)) == 2
    assert "cannot check it is the card's model" in caplog.text


def test_generate_refuses_before_writing(
    card_path: Path, tiny_sd_dir: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    prompts = tmp_path / "p.txt"
    prompts.write_text("a cat\n")
    base = ["generate", "--prompts", str(prompts), "--model", str(tiny_sd_dir)]
    cuda = _edited(card_path, tmp_path, "cuda.json", lambda d: d.update(generator_device="cuda"))
    code, _, err = cli([*base, "--card", str(cuda), "--out", str(tmp_path / "c")])
    assert code == 2 and "no CUDA device" in err and "Traceback" not in err, err
    assert not (tmp_path / "c").exists()
    with pytest.raises(SeedscopeError, match="no CUDA device"):
        load_card(cuda).generators(1)

    def wrong(d: dict[str, Any]) -> None:
        d["seeds"][1]["noise_sha256"] = "0" * 64

    bad = _edited(card_path, tmp_path, "bad.json", wrong)
    code, _, err = cli([*base, "--card", str(bad), "--out", str(tmp_path / "b")])
    assert code == 2 and "seed 2 draws other initial noise" in err, err
    assert not (tmp_path / "b").exists()  # checked before the sweep, not after it
    code, _, err = cli(
        [*base, "--card", str(card_path), "--out", str(tmp_path / "k"), "--per-prompt", "3"]
    )
    assert code == 2 and "more than the card's 2 seeds" in err, err
    assert not (tmp_path / "k").exists()
    incomplete = _edited(card_path, tmp_path, "inc.json", lambda d: d.pop("model"))
    code, _, err = cli([*base, "--card", str(incomplete), "--out", str(tmp_path / "i")])
    assert code == 2 and "field 'model' is missing" in err, err
