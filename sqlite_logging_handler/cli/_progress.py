"""Progress of long operations, on one line of a terminal; nothing at all elsewhere.

Shown only when stderr is a terminal, so a pipe or a file gets nothing extra, and
cleared when the operation ends. Updates are throttled; the first and the last are
always drawn.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

__all__ = ["Progress", "counted", "watched"]

_T = TypeVar("_T")
_INTERVAL = 0.2  # seconds between two redraws


class Progress:
    """One status line: ``label: done of total (percent), elapsed``.

    Args:
        label: what is going on (``"exporting"``).
        total: how many units there are, if known.
        unit: what is counted (``"records"``).
        stream: where to draw (default: stderr); nothing is drawn unless it is a TTY.
        enabled: False draws nothing either (the output itself goes to the terminal).
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "",
        stream: TextIO | None = None,
        *,
        enabled: bool = True,
    ) -> None:
        self._stream = sys.stderr if stream is None else stream
        self.active = enabled and self._stream.isatty()
        self._label, self.total, self._unit = label, total, unit
        self._started = time.monotonic()
        self._drawn = 0.0
        self._width = 0
        self._lock = threading.Lock()

    def update(self, done: int | None = None, *, force: bool = False) -> None:
        """Show ``done`` units (or just the elapsed time), at most every 0.2 s."""
        if not self.active:
            return
        now = time.monotonic()
        with self._lock:
            if not force and now - self._drawn < _INTERVAL:
                return
            self._drawn = now
            self._draw(self._text(done, now - self._started))

    def finish(self) -> None:
        """Clear the line."""
        if self.active:
            with self._lock:
                self._draw("")

    def _text(self, done: int | None, elapsed: float) -> str:
        parts = [f"{self._label}:"]
        if done is not None:
            parts.append(f"{done:,}")
            if self.total:
                parts.append(f"of {self.total:,}")
            if self._unit:
                parts.append(self._unit)
            if self.total:
                parts.append(f"({min(done / self.total, 1):.0%})")
        parts.append(f"{elapsed:.1f} s")
        return " ".join(parts)

    def _draw(self, text: str) -> None:
        padding = " " * max(0, self._width - len(text))
        self._stream.write(f"\r{text}{padding}\r" if not text else f"\r{text}{padding}")
        self._stream.flush()
        self._width = len(text)


def counted(items: Iterable[_T], progress: Progress) -> Iterator[_T]:
    """``items``, counting each one into ``progress``."""
    done = 0
    progress.update(0, force=True)
    for item in items:
        yield item
        done += 1
        progress.update(done)
    progress.update(done, force=True)


@contextlib.contextmanager
def watched(progress: Progress, measure: Callable[[], int | None]) -> Iterator[None]:
    """Redraw ``progress`` with ``measure()`` from a thread while the block runs.

    For operations that cannot report their own progress (a DELETE, a VACUUM):
    ``measure`` looks at their effect from outside (rows gone, bytes written). What is
    done never goes back: a measure that drops (the WAL a rebuild was measured by,
    emptied by the checkpoint after it) leaves the most shown so far. A block that ends
    normally has done it all: its last line is the total (100%), then cleared.
    """
    if not progress.active:
        yield
        return
    stop = threading.Event()
    most = 0

    def watch() -> None:
        nonlocal most
        while True:
            try:
                measured = measure()
                most = max(most, measured or 0)
                progress.update(most if measured is not None else None, force=True)
            except Exception:  # measuring is best effort: never fail the operation
                progress.update(force=True)
            if stop.wait(_INTERVAL):
                return

    watcher = threading.Thread(target=watch, name="sqlite-logs-progress", daemon=True)
    watcher.start()
    ended = False
    try:
        yield
        ended = True
    finally:
        stop.set()
        watcher.join()
        if ended and progress.total:
            progress.update(max(most, progress.total), force=True)
        progress.finish()
