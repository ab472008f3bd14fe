"""One progress interface (`ImagesProgress`) for sweeps, scoring and feature extraction."""

from __future__ import annotations

from seedscope.sweep.progress import ImagesProgress


def test_one_progress_serves_counters_and_runner_callbacks(capsys) -> None:  # type: ignore[no-untyped-def]
    with ImagesProgress(None, description="scoring", transient=True) as bar:
        bar(3, 10)  # the incremental runner's form: done of total
        assert (bar.done, bar.total) == (3, 10)
        bar.advance(2)  # the counters' form
        assert bar.done == 5
    assert "scoring" not in capsys.readouterr().err  # a transient bar leaves nothing behind
    with ImagesProgress(4, enabled=False) as quiet:
        quiet.advance(4)
    assert quiet.done == 4 and capsys.readouterr().err == ""


def test_stage_bars_count_both_ways_and_draw_labels_on_stderr_only(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import rich.console

    from seedscope.sweep.progress import StageProgress

    monkeypatch.setattr(rich.console.Console, "is_terminal", property(lambda self: True))
    with StageProgress(labels={"scan": "scanning seeds"}) as bars:
        bars("images", 3, 10)  # done so far
        bars("images", 7, 10)
        bars.advance("scan", 2, 8)  # n more
        bars.advance("scan", 5)
    assert bars.done == {"images": 7, "scan": 7}
    out = capsys.readouterr()
    assert out.out == "" and "scanning seeds" in out.err and "images" in out.err
    with StageProgress(enabled=False) as quiet:
        quiet.advance("swap", 4)
    assert quiet.done == {"swap": 4} and capsys.readouterr() == ("", "")
