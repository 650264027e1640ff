"""What ``close()`` says when it leaves records unwritten: one line, the total, the real cause.

``close()`` writes what is queued until its deadline, then gives up; the rows it could
not write are counted in ``failed`` with the cause ``CLOSED`` and are not reported batch
by batch (the counts came out in pieces, each smaller than the total). The handler ends
its ``close()`` with one line instead, giving the total not written as ``stats()`` counts
it and why ``close()`` could not write them, as it was when ``close()`` gave up:

- another connection or process held the write lock, and for how long the writer had
  waited for it;
- a write error (disk full, I/O, read-only), the last one seen;
- else, writing was too slow for the time ``close()`` has (a slow or stalled disk).

``CloseReport`` watches the writer (its worker thread says when it starts and stops
waiting for the lock, and which error it retries) and keeps that cause.

A writer process whose application ended without ``close()`` (SIGKILL, ``os._exit``, a
crash) has ``DRAIN_TIMEOUT`` seconds from then to write what it received; what it then
leaves unwritten it says itself, on its own stderr (the application's, inherited), in
one line made by ``CloseReport.orphan_line``: nobody else is left to say it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["CLOSED", "DRAIN_TIMEOUT", "CloseReport"]

#: The cause counted for rows the handler's close() left unwritten.
CLOSED = "the handler was closed"
#: Seconds a writer process goes on writing what it received once its application has
#: ended without ``close()``; from the moment it sees that end. A tunable the
#: application forwards to its writer process (``_transport._TUNABLES``).
DRAIN_TIMEOUT = 25.0


class CloseReport:
    """The cause of what ``close()`` leaves unwritten, and the line that says so.

    Args:
        label: how the database is named in messages.
        describe_error: turns a write error into the cause a user can act on.
    """

    def __init__(self, label: str, describe_error: Callable[[object], object]) -> None:
        self._label = label
        self._describe_error = describe_error
        self._lock = threading.Lock()
        self._waiting_since: float | None = None  # waiting for another connection's lock
        self._fault: object = None  # the write error being retried
        self._cause: str | None = None  # set once, when close() gives up
        #: How the time that ran out is named in the slow-disk cause.
        self.allowed = "close() allows"

    # -- the worker thread ------------------------------------------------------------

    def waiting_for_lock(self) -> None:
        """A ``BEGIN IMMEDIATE`` starts, or failed as busy: the wait goes on from before."""
        if self._waiting_since is None:
            self._waiting_since = time.monotonic()

    def got_lock(self) -> None:
        """The write lock was taken (or the attempt failed for another reason)."""
        self._waiting_since = None

    def failing(self, error: object) -> None:
        """A write error is being retried (None: writes succeed again)."""
        self._fault = error

    # -- any thread --------------------------------------------------------------------

    def gave_up(self, cause: str | None = None) -> None:
        """``close()`` is leaving rows unwritten: keep why (the first call decides).

        ``cause`` names it where this report cannot see it (a writer process's, told
        to the application); else it is what this report saw last.
        """
        with self._lock:
            if self._cause is None:
                self._cause = cause or self._why()

    @property
    def cause(self) -> str | None:
        """Why ``close()`` gave up, once it has; else None."""
        return self._cause

    def line(self, failed: int, failed_before: int) -> str | None:
        """The line ``close()`` ends with, if it left records unwritten; else None.

        Args:
            failed: the handler's ``failed`` count now.
            failed_before: that count when ``close()`` began.
        """
        at_close = failed - failed_before
        if at_close <= 0:
            return None
        cause = self._cause or "the handler closed before they were written"
        earlier = f" ({failed_before} of them before close())" if failed_before else ""
        return f"closed {self._label} with {failed} record(s) unwritten{earlier}: {cause}"

    def orphan_line(self, count: int) -> str:
        """A writer process's own line: its application ended, ``count`` records unwritten."""
        cause = self._cause or self._why()
        return f"{count} record(s) not written to {self._label}: the application ended and {cause}"

    def _why(self) -> str:
        since = self._waiting_since
        if since is not None:
            return (
                "the database was locked by another connection or process for the last "
                f"{time.monotonic() - since:.1f} s"
            )
        if self._fault is not None:
            return f"writing failed: {self._describe_error(self._fault)}"
        return f"writing them took longer than {self.allowed} (a slow or stalled disk?)"
