"""`seedscope world prompts|render` at the command line, and their bad input."""

from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image

from fixtures.cli import Cli


def test_prompts_then_render(tmp_path, cli: Cli):
    csv = tmp_path / "p.csv"
    code, _, _ = cli(
        ["world", "prompts", "--n", "12", "--seed", "5", "--sets", "a,b", "--out", str(csv)]
    )
    assert code == 0
    df = pd.read_csv(csv)
    assert list(df.columns) == ["id", "prompt", "set"] and len(df) == 12
    out = tmp_path / "real"
    code, _, _ = cli(
        ["world", "render", "--prompts", str(csv), "--out", str(out), "--per-prompt", "2"]
    )
    assert code == 0
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 24
    assert Image.open(pngs[0]).size == (64, 64)


def test_prompts_txt_and_jsonl(tmp_path, cli: Cli):
    txt, jsonl = tmp_path / "p.txt", tmp_path / "p.jsonl"
    assert cli(["world", "prompts", "--n", "5", "--out", str(txt)])[0] == 0
    assert len(txt.read_text().splitlines()) == 5
    assert cli(["world", "prompts", "--n", "5", "--out", str(jsonl)])[0] == 0
    assert pd.read_json(jsonl, lines=True)["prompt"].tolist() == txt.read_text().splitlines()


def test_messages_stay_whole_lines_in_a_log_file(tmp_path, cli: Cli):
    # Piped to a file, a long line is not wrapped at 80 columns and brackets are not markup.
    out = tmp_path / ("a-long-folder-name-[v9]-" * 4) / "p.txt"
    code, _, err = cli(["world", "prompts", "--n", "3", "--out", str(out)])
    assert code == 0, err
    assert f"wrote 3 prompts to {out}\n" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["world", "prompts", "--n", "0", "--out", "{tmp}/p.txt"], "positive"),
        (["world", "prompts", "--n", "3", "--out", "{tmp}/p.xlsx"], ".txt, .csv or .jsonl"),
        (["world", "prompts", "--n", "3", "--sets", "a,b", "--out", "{tmp}/p.txt"], "set"),
        (
            ["world", "render", "--prompts", "{tmp}/alien.txt", "--out", "{tmp}/r"],
            "no world category",
        ),
        (["world", "train", "--part", "everything"], "--part"),
        (
            [
                "world",
                "train",
                "--workdir",
                "{tmp}/w",
                "--part",
                "unet",
                "--mode-weights",
                "frame=2",
            ],
            "MODE=WEIGHT",
        ),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--part", "unet", "--init-from", "{tmp}"],
            "--init-from",
        ),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--part", "unet", "--high-noise-frac", "2"],
            "--high-noise-frac",
        ),
        (["world", "evaluate", "--model", "{tmp}/nothing"], "--model"),
        (
            [
                "world",
                "train",
                "--workdir",
                "{tmp}/w",
                "--part",
                "unet",
                "--prediction-type",
                "x0",
            ],
            "--prediction-type",
        ),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--part", "unet", "--zero-terminal-snr"],
            "--zero-terminal-snr",
        ),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--part", "unet", "--ot-pool", "-1"],
            "--ot-pool",
        ),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--part", "export", "--export-weights", "x"],
            "--export-weights",
        ),
        (["world", "train", "--workdir", "{tmp}/w", "--ot-edge-weight", "-1"], "--ot-edge-weight"),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--part", "unet", "--ot-edge-weight", "2"],
            "needs --ot-pool",
        ),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--part", "unet", "--latent-flags", "sky=1"],
            "MODE=AMPLITUDE",
        ),
        (["world", "train", "--workdir", "{tmp}/w", "--flag-steps", "-1"], "--flag-steps"),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--decoder-samples", "-3"],
            "--decoder-samples",
        ),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--part", "unet", "--ot-flag-weight", "1"],
            "needs --latent-flags",
        ),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--part", "unet", "--flag-read-weight", "1"],
            "--flag-read-weight needs --latent-flags",
        ),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--flag-read-weight", "-1"],
            "--flag-read-weight must be 0 or more",
        ),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--decoder-free-samples", "-1"],
            "--decoder-free-samples",
        ),
        (
            ["world", "train", "--workdir", "{tmp}/w", "--decoder-free-samples", "8"],
            "--decoder-free-samples needs --latent-flags",
        ),
        (["world", "evaluate", "--from-json", "{tmp}/alien.txt"], "--from-json"),
        (["world", "evaluate", "--json", "--markdown"], "--markdown"),
    ],
)
def test_bad_input_is_one_sentence(tmp_path, cli: Cli, args, message):
    (tmp_path / "alien.txt").write_text("an astronaut riding a horse\n")
    code, _, err = cli([a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def _copy_shipped(tmp_path):
    import shutil

    from seedscope.world.model import weights_path

    folder = tmp_path / "world-sd"
    shutil.copytree(weights_path(), folder)
    return folder


def test_sampler_sets_a_folders_default_sampler_steps_and_guidance(tmp_path, cli: Cli, monkeypatch):
    from seedscope.models import loading
    from seedscope.world import model
    from seedscope.world.model import load_pipeline, sampling_defaults

    folder = _copy_shipped(tmp_path)
    assert sampling_defaults(folder) == (model.DEFAULT_STEPS, model.DEFAULT_GUIDANCE)
    code, _, err = cli(["world", "sampler", str(folder), "--scheduler", "dpm++", "--steps", "10"])
    assert code == 0, err
    assert "DPMSolverMultistepScheduler, 10 steps" in err
    assert sampling_defaults(folder) == (10, 6.0)
    pipe = load_pipeline(folder)
    assert type(pipe.scheduler).__name__ == "DPMSolverMultistepScheduler"
    # The noise schedule is the trained one: only the sampler changed.
    assert pipe.scheduler.config.beta_end == pytest.approx(0.012)
    # Sweeps of `--model world` take the shipped folder's defaults.
    monkeypatch.setattr(model, "WEIGHTS_DIR", tmp_path)
    assert loading.world_defaults() == (10, 6.0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scheduler", "nonsense", "--steps", "10"], "unknown scheduler"),
        (["--scheduler", "dpm++", "--steps", "0"], "--steps"),
        (["--scheduler", "dpm++", "--steps", "10", "--guidance", "-1"], "--guidance"),
    ],
)
def test_sampler_bad_input_leaves_the_folder_as_it_was(tmp_path, cli: Cli, extra, message):
    folder = _copy_shipped(tmp_path)
    before = (folder / "scheduler" / "scheduler_config.json").read_text()
    code, _, err = cli(["world", "sampler", str(folder), *extra])
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert (folder / "scheduler" / "scheduler_config.json").read_text() == before
    assert not (folder / "seedscope_sampling.json").exists()


def test_sampler_on_a_full_disk_leaves_the_scheduler_config_whole(tmp_path, cli: Cli, monkeypatch):
    import errno
    import os

    from seedscope import store

    folder = _copy_shipped(tmp_path)
    before = {p.name: p.read_bytes() for p in (folder / "scheduler").iterdir()}

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.os, "fsync", full)
    code, _, err = cli(["world", "sampler", str(folder), "--scheduler", "dpm++", "--steps", "10"])
    assert code == 2 and "is full" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in (folder / "scheduler").iterdir()} == before
    assert not any(p.name.endswith(".partial") for p in folder.rglob("*"))
    assert os.path.isfile(folder / "model_index.json")


def test_sampler_needs_a_pipeline_folder_and_a_readable_sampling_file(tmp_path, cli: Cli):
    from seedscope.errors import SeedscopeError
    from seedscope.world.model import sampling_defaults

    code, _, err = cli(["world", "sampler", str(tmp_path), "--scheduler", "ddim", "--steps", "5"])
    assert code == 2 and "no model_index.json" in err
    (tmp_path / "seedscope_sampling.json").write_text('{"steps": "many"}')
    with pytest.raises(SeedscopeError, match="not a sampling file"):
        sampling_defaults(tmp_path)
