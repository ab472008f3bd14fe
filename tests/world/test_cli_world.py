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
