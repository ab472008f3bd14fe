"""`seedscope sweep` at the command line: JSON summary, and bad input as one sentence + exit 2."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import make_sweep_dir, write_prompts
from fixtures.cli import Cli, run_process, sweep_args


@pytest.fixture(scope="module")
def existing(tmp_path_factory: pytest.TempPathFactory, tiny_sd_dir: Path) -> Path:
    """A finished sweep that bad input must leave untouched."""
    out = tmp_path_factory.mktemp("cli") / "existing"
    return make_sweep_dir(
        out, tiny_sd_dir, prompts=["a cat", "a dog"], seeds="0-1", steps=1, guidance=0.0
    )


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_json_summary(tiny_sd_dir: Path, tmp_path: Path, cli: Cli) -> None:
    prompts = tmp_path / "p.csv"
    prompts.write_text('id,prompt,set\n10,a cat,coco\n20,"a red car, parked",parti\n')
    code, out, err = cli([*sweep_args(tiny_sd_dir, prompts, tmp_path / "o"), "--json"])
    assert code == 0, err
    summary = json.loads(out)
    assert summary["images_generated"] == 4 and summary["mode"] == "new"
    table = pq.read_table(tmp_path / "o" / "prompts.parquet")
    assert table.to_pylist()[1] == {"prompt_id": 20, "prompt": "a red car, parked", "set": "parti"}


def test_jsonl_prompts(tiny_sd_dir: Path, tmp_path: Path, cli: Cli) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "a cat", "set": "s1"}\n{"prompt": "a dog"}\n')
    code, out, err = cli(
        [*sweep_args(tiny_sd_dir, prompts, tmp_path / "o"), "--seeds", "3", "--json"]
    )
    assert code == 0, err
    assert json.loads(out)["images_total"] == 2


def _bad_cases(tmp: Path, model: Path) -> dict[str, tuple[list[str], str]]:
    good = write_prompts(tmp / "good.txt", ["a cat", "a dog"])
    empty = tmp / "empty.txt"
    empty.write_text("\n\n")
    binary = tmp / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    dupes = tmp / "dupes.csv"
    dupes.write_text("id,prompt\n1,a cat\n1,a dog\n")
    a_file = tmp / "a-file"
    a_file.write_text("x")
    return {
        "missing prompts": (["--prompts", str(tmp / "nope.txt")], "does not exist"),
        "empty prompts": (["--prompts", str(empty)], "no prompts"),
        "unreadable prompts": (["--prompts", str(binary)], "cannot read"),
        "prompt file is a folder": (["--prompts", str(tmp)], "directory"),
        "duplicate ids": (["--prompts", str(dupes)], "appears twice"),
        "negative seed": (["--prompts", str(good), "--seeds", "-3"], "negative"),
        "seed not an integer": (["--prompts", str(good), "--seeds", "0,x"], "not an integer"),
        "seed too large": (["--prompts", str(good), "--seeds", str(2**63)], "too large"),
        "empty seed set": (["--prompts", str(good), "--seeds", ","], "no seeds"),
        "unknown model": (["--prompts", str(good), "--model", "no-such-model"], "unknown model"),
        "uncached hub model": (
            ["--prompts", str(good), "--model", "someone/not-cached"],
            "huggingface-cli download",
        ),
        "bad height": (["--prompts", str(good), "--height", "30"], "height 30"),
        "bad width": (["--prompts", str(good), "--width", "0"], "width 0"),
        "different plan": (["--prompts", str(good), "--steps", "3"], "different plan"),
        "unknown scheduler": (
            ["--prompts", str(good), "--scheduler", "magic"],
            "unknown scheduler",
        ),
    } | {"output is a file": (["--prompts", str(good), "--out", str(a_file)], "is a file")}


BAD = [
    "missing prompts",
    "empty prompts",
    "unreadable prompts",
    "prompt file is a folder",
    "duplicate ids",
    "negative seed",
    "seed not an integer",
    "seed too large",
    "empty seed set",
    "unknown model",
    "uncached hub model",
    "bad height",
    "bad width",
    "different plan",
    "unknown scheduler",
    "output is a file",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_input(
    case: str,
    existing: Path,
    tiny_sd_dir: Path,
    tmp_path: Path,
    cli: Cli,
) -> None:
    extra, words = _bad_cases(tmp_path, tiny_sd_dir)[case]
    before = tree(existing)
    code, _, err = cli([*sweep_args(tiny_sd_dir, tmp_path / "x", existing), *extra])
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert words in lines[0] and "Traceback" not in err
    assert tree(existing) == before


def test_full_disk(
    tiny_sd_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    prompts = write_prompts(tmp_path / "p.txt", ["a cat"])
    out = tmp_path / "o"
    real = pq.write_table
    calls = {"n": 0}

    def fill_up(table: object, where: object, **kw: object) -> None:
        calls["n"] += 1
        if calls["n"] > 1:  # prompts.parquet fits, the first image shard does not
            raise OSError(errno.ENOSPC, "No space left on device")
        real(table, where, **kw)

    monkeypatch.setattr(pq, "write_table", fill_up)
    code, _, err = cli(sweep_args(tiny_sd_dir, prompts, out))
    assert code == 2 and "disk" in err and "full" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not list(out.rglob(".tmp-*"))
    assert not list((out / "images").glob("*.parquet"))


def test_unknown_engine_leaves_no_directory(tiny_sd_dir: Path, tmp_path: Path, cli: Cli) -> None:
    prompts = write_prompts(tmp_path / "p.txt", ["a cat"])
    code, _, err = cli([*sweep_args(tiny_sd_dir, prompts, tmp_path / "o"), "--engine", "magic"])
    assert code == 2 and "unknown engine 'magic'" in err
    assert not (tmp_path / "o").exists()


def test_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    args = ["sweep", "--model", "x", "--prompts", str(tmp_path / "none.txt"), "--seeds", "0-3"]
    proc = run_process([*args, "--out", str(tmp_path / "o")], timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr


def test_help_says_how_to_extend(cli: Cli) -> None:
    code, out, _ = cli(["sweep", "--help"])
    assert code == 0 and "extends" in out and "adding seeds" in out


def test_progress_bar_and_quiet(tiny_sd_dir: Path, tmp_path: Path, cli: Cli) -> None:
    prompts = write_prompts(tmp_path / "p.txt", ["a cat"])
    args = [a for a in sweep_args(tiny_sd_dir, prompts, tmp_path / "o") if a != "--quiet"]
    code, out, err = cli(args)
    assert code == 0 and "img/s" in err and out == ""
    code, out, err = cli([*args[:6], "0-3", *args[7:], "--quiet"])
    assert code == 0 and err == "" and out == ""
