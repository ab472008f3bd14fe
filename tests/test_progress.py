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
