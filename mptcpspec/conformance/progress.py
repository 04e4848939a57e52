"""A progress bar on stderr for long work (many captures, big captures).

Only for a person watching: the bar is drawn when its stream is a terminal and the work has taken
more than a moment, never into a pipe or a file, and the caller turns it off for JSON output.  It
redraws at most ten times a second and erases itself when done, so the report printed after it (or
between two redraws, after ``clear()``) is not mixed with it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TextIO, TypeVar

__all__ = ["Progress", "track"]

T = TypeVar("T")
_BAR = 28


class Progress:
    """``label [########------------]  12/40 files  3.1 s`` on one line of ``stream``.

    ``total`` may be None when unknown (then only the count is shown).  ``enabled`` None means: draw
    only if ``stream`` is a terminal.  ``delay`` seconds pass before the first draw, so quick runs
    show nothing.  ``clock`` is for tests.
    """

    def __init__(
        self,
        total: int | None,
        *,
        label: str = "validate",
        unit: str = "files",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        delay: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self._label = label
        self._unit = unit
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = self._stream.isatty() if enabled is None else enabled
        self._clock = clock
        self._start = clock()
        self._delay = delay
        self._last_draw = -1.0
        self._width = 0

    def line(self) -> str:
        """The text of the bar as it stands now."""
        elapsed = self._clock() - self._start
        if self.total:
            filled = min(_BAR, _BAR * self.done // self.total)
            bar = f"[{'#' * filled}{'-' * (_BAR - filled)}]  {self.done}/{self.total}"
        else:
            bar = f"{self.done}"
        return f"{self._label} {bar} {self._unit}  {elapsed:.1f} s"

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more units done and redraw if it is time to."""
        self.done += count
        now = self._clock()
        finished = self.total is not None and self.done >= self.total
        if not self.enabled or now - self._start < self._delay:
            return
        if finished or now - self._last_draw >= 0.1:
            self._draw(self.line())
            self._last_draw = now

    def clear(self) -> None:
        """Erase the bar (before other output goes to the terminal); the next ``advance`` redraws."""
        if self._width:
            self._draw("")
            self._width = 0

    def _draw(self, text: str) -> None:
        self._stream.write("\r" + text.ljust(self._width) + ("\r" if not text else ""))
        self._stream.flush()
        self._width = len(text)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.clear()


def track(items: Iterable[T], progress: Progress) -> Iterator[T]:
    """Yield ``items``, advancing ``progress`` after each one; the bar is erased while the consumer
    handles an item (it may print) and at the end."""
    with progress:
        for item in items:
            progress.clear()
            yield item
            progress.advance()
