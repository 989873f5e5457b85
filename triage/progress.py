"""A transient progress bar on stderr for long imports and listings; silent when not on a terminal."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

# Below this many envelopes the work takes well under a second: a bar would only flicker.
MIN_ITEMS_FOR_BAR = 500


class Ticker:
    """``start(total)`` then ``advance()`` per item; does nothing when the bar is off."""

    def __init__(self, progress: Progress | None, description: str) -> None:
        self._progress = progress
        self._description = description
        self._task: Any = None

    def start(self, total: int) -> None:
        if self._progress is not None and total >= MIN_ITEMS_FOR_BAR:
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=total)

    def advance(self, count: int = 1) -> None:
        if self._task is not None and self._progress is not None:
            self._progress.advance(self._task, count)


@contextlib.contextmanager
def progress_bar(description: str, *, enabled: bool) -> Iterator[Ticker]:
    if not enabled or not sys.stderr.isatty():
        yield Ticker(None, description)
        return
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True, auto_refresh=True,
    )  # fmt: skip
    try:
        yield Ticker(progress, description)
    finally:
        progress.stop()
