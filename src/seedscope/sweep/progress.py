"""A rich progress bar for images with images/s and ETA (on stderr); silent when quiet."""

from __future__ import annotations

from types import TracebackType
from typing import Any


class ImagesProgress:
    """The one progress interface: counts images done, draws a rich bar (images/s, ETA) on stderr.

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
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> ImagesProgress:
        if self.enabled and self.total != 0:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
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
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                RateColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=self.transient,
            )
            self._progress.__enter__()
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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)
