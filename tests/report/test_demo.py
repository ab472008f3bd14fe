"""`seedscope demo`: every step wired, a second run resumes, absent commands are skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedscope.demo import DemoSettings, DemoStep, demo_steps, run_demo
from seedscope.errors import SeedscopeError


def test_steps_follow_the_study(tmp_path: Path) -> None:
    names = [s.name for s in demo_steps(DemoSettings(out=tmp_path))]
    order = ["sweep", "score", "fid-seeds", "rank", "map style", "classify", "identify",
             "pick golden", "report"]  # fmt: skip
    assert [n for n in names if n in order] == order
    from seedscope.demo import _commands

    installed = _commands()
    for step in demo_steps(DemoSettings(out=tmp_path)):
        if step.command in ("inpaint-audit", "world pairs"):
            continue  # lands with the inpainting branch
        assert step.command in installed, step.command


def test_second_run_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[str] = []
    done: set[str] = set()

    def step(name: str, command: str | None = None) -> DemoStep:
        def run() -> str:
            runs.append(name)
            done.add(name)
            return f"{name} made\nmore"

        return DemoStep(name, run, lambda: name in done, command=command)

    steps = [step("a"), step("b"), step("c", command="no-such-command")]
    monkeypatch.setattr("seedscope.demo.demo_steps", lambda settings: steps)
    lines: list[str] = []
    first = run_demo(DemoSettings(out=tmp_path), echo=lines.append)
    assert runs == ["a", "b"]
    assert [r["status"] for r in first["steps"]] == ["ran", "ran", "absent"]
    assert any("a made" in line for line in lines)  # one-line summary of the step
    assert any("no-such-command" in line and "skipped" in line for line in lines)
    assert lines[-1].startswith("demo finished") and "report/index.html" in lines[-1]
    second = run_demo(DemoSettings(out=tmp_path), echo=lines.append)
    assert runs == ["a", "b"]  # nothing redone
    assert [r["status"] for r in second["steps"]] == ["done", "done", "absent"]


def test_bad_settings() -> None:
    with pytest.raises(SeedscopeError, match="--prompts"):
        DemoSettings(prompts=3)
    with pytest.raises(SeedscopeError, match="--seeds"):
        DemoSettings(seeds=1)


def test_cli_bad_option(cli) -> None:
    code, _, err = cli(["demo", "--prompts", "3"])
    assert code == 2 and "--prompts" in err
