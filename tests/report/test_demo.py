"""`seedscope demo`: every step wired, a second run resumes, absent commands are skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedscope.demo import MIN_PROMPTS, MIN_SEEDS, DemoSettings, DemoStep, demo_steps, run_demo
from seedscope.errors import SeedscopeError


def test_steps_follow_the_study(tmp_path: Path) -> None:
    names = [s.name for s in demo_steps(DemoSettings(out=tmp_path))]
    order = ["sweep", "score", "fid-seeds", "rank", "map style", "classify", "identify",
             "pick golden", "report"]  # fmt: skip
    assert [n for n in names if n in order] == order
    from seedscope.demo import _commands

    installed = _commands()
    for step in demo_steps(DemoSettings(out=tmp_path)):
        assert step.command is None or step.command in installed, step.command
    assert {"world pairs", "inpaint-audit"} <= installed


def test_no_step_is_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # every step found installed: none is skipped as absent (the steps themselves are not run)
    steps = demo_steps(DemoSettings(out=tmp_path))
    for step in steps:
        step.done = lambda: True
    monkeypatch.setattr("seedscope.demo.demo_steps", lambda settings: steps)
    lines: list[str] = []
    result = run_demo(DemoSettings(out=tmp_path), echo=lines.append)
    assert [r["status"] for r in result["steps"]] == ["done"] * len(steps)
    assert not any("not in this install" in line for line in lines)


def test_default_demo_is_cheap(tmp_path: Path) -> None:
    steps = {s.name: s for s in demo_steps(DemoSettings(out=tmp_path))}
    score = steps["score"].run
    assert isinstance(score, list)
    scorers = score[score.index("--scorers") + 1].split(",")
    assert "text" not in scorers and "world" in scorers  # world.p_text stands for OCR
    audit = steps["inpaint audit"].run
    pairs = steps["inpaint pairs"].run
    assert isinstance(audit, list) and isinstance(pairs, list)
    assert audit[audit.index("--ocr") + 1] == "detected"
    assert audit[audit.index("--seeds") + 1] == "0-7"
    assert pairs[pairs.index("--n") + 1] == "4"


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
    with pytest.raises(SeedscopeError, match="--prompts must be an even number >= 6"):
        DemoSettings(prompts=4)  # 2 prompts in set a: no FID interval for pick golden
    DemoSettings(prompts=MIN_PROMPTS, seeds=MIN_SEEDS)
    with pytest.raises(SeedscopeError, match="--seeds"):
        DemoSettings(seeds=1)


def test_cli_bad_option(cli) -> None:
    code, _, err = cli(["demo", "--prompts", "4"])
    assert code == 2 and "--prompts" in err and "Traceback" not in err


@pytest.mark.parametrize(("kind", "code"), [(SeedscopeError, 2), (RuntimeError, 1)])
def test_failing_step_is_one_sentence(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: type[Exception], code: int
) -> None:
    def boom() -> str:
        raise kind("the pool is empty.")

    steps = [
        DemoStep("a", lambda: "a made", lambda: False),
        DemoStep("pick golden", boom, lambda: False),
    ]
    monkeypatch.setattr("seedscope.demo.demo_steps", lambda settings: steps)
    got, out, err = cli(["demo", "--out", str(tmp_path / "d"), "--prompts", "8"])
    assert got == code
    assert "Traceback" not in err and "Traceback" not in out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: demo step 'pick golden' failed")
    assert "the pool is empty" in lines[0]
    assert f"`seedscope demo --out {tmp_path / 'd'} --prompts 8` to resume" in lines[0]
    assert "[1/2] a: a made" in out  # the steps before it ran
    log = (tmp_path / "d" / "demo.log").read_text()
    assert "pick golden failed" in log and "Traceback" in log


def test_failing_command_names_itself(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a real command that fails inside the demo: its own error, and the command to rerun alone
    step = DemoStep("report", ["report", str(tmp_path / "nothing")], lambda: False)
    monkeypatch.setattr("seedscope.demo.demo_steps", lambda settings: [step])
    code, _, err = cli(["demo", "--out", str(tmp_path / "d")])
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error: demo step 'report' failed (")
    assert f"rerun it alone with `seedscope report {tmp_path / 'nothing'}`" in err


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    """The real steps on the smallest grid (6 prompts x 4 seeds, 5 steps, a 2 x 2 audit)."""
    import re

    import torch

    from seedscope.report.atlas import SECTIONS

    settings = DemoSettings(
        out=tmp_path / "demo",
        prompts=MIN_PROMPTS,
        seeds=MIN_SEEDS,
        steps=5,
        identify_images=2,
        identify_candidates=16,
        reference_per_prompt=2,
        classify_epochs=2,
        inpaint_pairs=2,
        inpaint_seeds=2,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lines: list[str] = []
        first = run_demo(settings, echo=lines.append)
        assert [r["status"] for r in first["steps"]] == ["ran"] * len(first["steps"]), lines
        page = Path(first["report"]).read_text(encoding="utf-8")
        present = re.findall(r'<section id="([a-z_]+)"[^>]*data-present="yes"', page)
        assert sorted(present) == sorted(SECTIONS)
        assert (settings.out / "sweep" / "report" / "seeds" / "seed-0.html").is_file()
        second = run_demo(settings, echo=lines.append)
    finally:
        torch.set_num_threads(threads)
    status = {r["step"]: r["status"] for r in second["steps"]}
    assert status.pop("report") == "ran"  # always redrawn, so it shows every result
    assert set(status.values()) == {"done"}
