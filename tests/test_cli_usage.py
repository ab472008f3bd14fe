"""Usage errors through the installed `seedscope` command: click's short usage message, exit 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import seedscope
from fixtures.cli import Cli


def _script() -> Path:
    """The `seedscope` console script installed beside this interpreter."""
    script = Path(sys.executable).parent / ("seedscope.exe" if os.name == "nt" else "seedscope")
    if not script.exists():
        pytest.skip(f"no installed seedscope console script beside {sys.executable}")
    return script


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the installed `seedscope ARGS` with this checkout's package first on the path."""
    src = str(Path(seedscope.__file__).parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    env.update(OMP_NUM_THREADS="1", COLUMNS="100", NO_COLOR="1")
    return subprocess.run(
        [str(_script()), *args], capture_output=True, text=True, timeout=120, env=env
    )


USAGE = {
    "unknown option on score": (["score", "{tmp}", "--quiet"], "score", "--quiet"),
    "unknown option on sweep": (
        ["sweep", "--model", "x", "--prompts", "p", "--seeds", "0", "--out", "o", "--frob"],
        "sweep",
        "--frob",
    ),
    "sweep without options": (["sweep"], "sweep", "Missing option '--model'"),
    "missing argument": (["score"], "score", "Missing argument"),
    "missing option of a subgroup": (
        ["world", "prompts"],
        "world prompts",
        "Missing option '--out'",
    ),
    "wrong type": (["score", "{tmp}", "--batch-size", "abc"], "score", "'--batch-size'"),
    "unknown command": (["frob"], "", "No such command 'frob'"),
}


@pytest.mark.parametrize("case", sorted(USAGE))
def test_usage_error_is_short_and_exits_2(case: str, tmp_path: Path) -> None:
    args, command, message = USAGE[case]
    proc = _run([a.replace("{tmp}", str(tmp_path)) for a in args])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    prog = " ".join(["seedscope", command]).strip()
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith(f"Usage: {prog} "), proc.stderr
    assert re.fullmatch(rf"Try '{prog} (--help|-h)' for help\.", lines[1]), proc.stderr
    assert lines[-1].startswith("Error: ") and message in lines[-1], proc.stderr
    if "unknown option" in case:  # click words it "No such option: --x" or "No such option '--x'"
        assert "No such option" in lines[-1]
    assert len(lines) <= 5 and proc.stdout == ""


def test_library_error_is_one_sentence_and_exits_2(tmp_path: Path) -> None:
    proc = _run(["score", str(tmp_path / "nothing")])
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert "is not a sweep directory" in proc.stderr and "Traceback" not in proc.stderr


def test_version() -> None:
    proc = _run(["--version"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"seedscope {version('seedscope')}"


@pytest.mark.parametrize("command", [[], ["sweep"], ["score"], ["fid-seeds"], ["world", "prompts"]])
def test_h_is_help(command: list[str]) -> None:
    short, long = _run([*command, "-h"]), _run([*command, "--help"])
    assert short.returncode == long.returncode == 0, short.stderr
    assert short.stdout == long.stdout and "Usage:" in short.stdout


@pytest.mark.parametrize("command", [[], ["world"]])
def test_no_arguments_is_help_and_exits_0(command: list[str]) -> None:
    proc = _run(command)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == _run([*command, "--help"]).stdout and proc.stderr == ""


def test_commands_listed_in_the_order_a_user_meets_them() -> None:
    from seedscope.cli._app import ORDER

    out = _run(["--help"]).stdout
    found = [m for m in re.findall(r"^\W*([a-z][a-z-]+) ", out, re.MULTILINE) if m in ORDER]
    assert found == list(ORDER), out


def test_interrupt_exits_130_with_a_resume_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    import seedscope.scorers.run as run

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "score_sweep", interrupted)
    code, _, err = cli(["score", str(tmp_path)])
    assert code == 130 and "run the same command again to resume" in err
