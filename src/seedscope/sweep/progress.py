"""Rich progress bars on stderr (images with images/s and ETA; named stages); silent when quiet."""

from __future__ import annotations

from types import TracebackType
from typing import Any


class _RichBars:
    """What both bars share: a rich Progress, opened on entry when wanted, closed on exit."""

    _progress: Any = None

    def _open(self, columns: list[Any], console: Any, transient: bool) -> None:
        from rich.progress import Progress

        self._progress = Progress(*columns, console=console, transient=transient)
        self._progress.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)


class ImagesProgress(_RichBars):
    """The images progress interface: counts images done, draws a rich bar (images/s, ETA) on stderr.

    Sweeps call `advance(n)`; incremental runners call it as `progress(done, total)` (total None
    while unknown). Nothing is drawn when `enabled` is False or the total is 0, nor for a
    `transient` bar when stderr is not a terminal.
    """

    def __init__(
        self,
        total: int | None,
        enabled: bool = True,
        description: str = "sweep",
        transient: bool = False,
    ) -> None:
        self.total = total
        self.done = 0
        self.enabled = enabled
        self.description = description
        self.transient = transient  # True: the bar disappears when done (or on an error)
        self._task: Any = None

    def __enter__(self) -> ImagesProgress:
        if self.enabled and self.total != 0:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                ProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.text import Text

            class RateColumn(ProgressColumn):
                def render(self, task: Any) -> Text:
                    speed = task.finished_speed or task.speed
                    return Text("- img/s" if speed is None else f"{speed:.2f} img/s")

            console = Console(stderr=True)
            if self.transient and not console.is_terminal:
                return self  # a bar that must vanish cannot be erased from a file or pipe
            columns = [
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                RateColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            ]
            self._open(columns, console, self.transient)
            self._task = self._progress.add_task(self.description, total=self.total)
        return self

    def advance(self, n: int) -> None:
        """Record `n` more images."""
        self.done += n
        if self._progress is not None:
            self._progress.update(self._task, advance=n)

    def __call__(self, done: int, total: int | None) -> None:
        """Record that `done` of `total` images are finished (the runners' callback form)."""
        self.done, self.total = done, total
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total)


class StageProgress(_RichBars):
    """One rich bar per named stage (images, train, invert ...) on stderr; silent when disabled.

    Runners report a stage as `progress(stage, done, total)` (done so far) or through
    `advance(stage, n, total)` (n more); total 0 or None while unknown. `labels` renames stages
    for the reader. The bars vanish when the work ends; nothing is drawn when stderr is not a
    terminal.
    """

    def __init__(self, enabled: bool = True, labels: dict[str, str] | None = None) -> None:
        self.enabled = enabled
        self.labels = dict(labels or {})
        self.done: dict[str, int] = {}
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> StageProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            console = Console(stderr=True)
            if console.is_terminal:
                columns = [
                    TextColumn("{task.description:>16}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    TimeRemainingColumn(),
                ]
                self._open(columns, console, transient=True)
        return self

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        """Record that `done` of `total` units of `stage` are finished."""
        self.done[stage] = done
        if self._progress is not None:
            if stage not in self._tasks:
                label = self.labels.get(stage, stage)
                self._tasks[stage] = self._progress.add_task(label, total=total or None)
            self._progress.update(self._tasks[stage], completed=done, total=total or None)

    def advance(self, stage: str, n: int, total: int | None = None) -> None:
        """Record `n` more finished units of `stage`."""
        self(stage, self.done.get(stage, 0) + n, total)
