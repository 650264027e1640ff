"""Short lines on stderr: how the package reports what it cannot raise.

Never through ``logging`` (that would feed the handler back into itself), never raising
(stderr may be closed at exit), and rate-limited where a fault repeats.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

__all__ = [
    "REPORT_EVERY",
    "Reporter",
    "send_reports_to",
    "write_line",
    "write_once",
    "write_stderr",
]

#: Seconds between two stderr lines about the same kind of fault.
REPORT_EVERY = 10.0

_said: set[str] = set()
_said_lock = threading.Lock()


#: Where ``write_stderr`` sends its lines first: a writer process sends them to its
#: application, which writes them to its own ``sys.stderr``. It returns whether it
#: took the line.
_report_sink: Callable[[str], bool] | None = None


def send_reports_to(sink: Callable[[str], bool] | None) -> None:
    """Give ``write_stderr``'s lines to ``sink`` (None: back to this ``sys.stderr``)."""
    global _report_sink
    _report_sink = sink


def write_stderr(text: str) -> None:
    """One line on stderr, never raising (stderr may be closed at exit)."""
    line = f"sqlite_logging_handler: {text}\n"
    sink = _report_sink
    if sink is not None and sink(line):
        return
    write_line(line)


def write_line(line: str) -> None:
    """Write ``line`` to ``sys.stderr`` as it is, never raising."""
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except Exception:
        pass


def write_once(key: str, text: str) -> None:
    """``write_stderr(text)`` the first time this process sees ``key``, never again."""
    with _said_lock:
        if key in _said:
            return
        _said.add(key)
    write_stderr(text)


class Reporter:
    """Lines on stderr, at most one every ``REPORT_EVERY`` seconds.

    What happens in between is summed into the next line: ``describe(count, cause)``
    gets the number of events (failed records, failed hooks) since the last line.
    """

    def __init__(self, describe: Callable[[int, object], str]) -> None:
        self._describe = describe
        self._last = -REPORT_EVERY
        self._unreported = 0

    def report(self, count: int, cause: object) -> None:
        """Count ``count`` events caused by ``cause``; write a line unless one was just written."""
        self._unreported += count
        now = time.monotonic()
        if now - self._last < REPORT_EVERY:
            return
        self._last = now
        count, self._unreported = self._unreported, 0
        write_stderr(self._describe(count, cause))
