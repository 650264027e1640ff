"""Hooks for ``SQLiteHandler.add_hook``: code run on the writer after each commit."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

from ._records import level_number
from .query import LogRow, MetricRow

__all__ = ["AlertHook"]


class AlertHook:
    """Calls ``callback(row)`` for each committed log record at or above ``min_level``.

    At most ``limit`` calls per ``per`` seconds: a storm of errors becomes a handful of
    alerts, and the rest are counted in ``suppressed``. The callback runs on the writer
    thread after the commit, so the record is already stored; keep it quick (hand slow
    work, such as sending mail, to a queue or a thread of your own).

    Example: ``handler.add_hook(AlertHook(callback=notify))``.
    """

    def __init__(
        self,
        min_level: int | str = "ERROR",
        callback: Callable[[LogRow], object] | None = None,
        *,
        limit: int = 10,
        per: float = 60.0,
    ) -> None:
        if callback is None or not callable(callback):
            msg = "AlertHook needs a callback, called with each alerting LogRow"
            raise TypeError(msg)
        self.min_level = level_number(min_level)
        self.callback = callback
        self.limit = limit
        self.per = per
        self.suppressed = 0
        self._sent: deque[float] = deque()

    def __call__(self, rows: Sequence[LogRow | MetricRow]) -> None:
        """Alert on the qualifying rows of one commit (called by the handler)."""
        for row in rows:
            if isinstance(row, LogRow) and (row.levelno or 0) >= self.min_level:
                if self._allowed():
                    self.callback(row)
                else:
                    self.suppressed += 1

    def _allowed(self) -> bool:
        now = time.monotonic()
        while self._sent and now - self._sent[0] >= self.per:
            self._sent.popleft()
        if len(self._sent) >= self.limit:
            return False
        self._sent.append(now)
        return True
