"""Retrying a destination that is unavailable, with backoff, until it answers or time runs out.

A shipper's one view of an outage: each failure is kept as the destination's last error
(``ship --status``), reported once a minute rather than at every attempt, and the end of
the outage is reported once. A permanent refusal stops at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from ._backoff import Backoff
from ._wakeup import ChangeWaiter
from .cursors import CursorStore
from .errors import DestinationRefusedError, DestinationUnavailableError, ShippingStoppedError

__all__ = ["REPORT_EVERY", "Retrier", "StopRequestedError"]

#: Seconds between two reports of the same ongoing outage.
REPORT_EVERY = 60.0
_T = TypeVar("_T")


class StopRequestedError(Exception):
    """stop() was called while a request was in flight or waited; its rows stay behind."""


class Retrier:
    """Runs a destination's actions, retrying while it is unavailable.

    Args:
        key: the destination's name, for messages.
        cursors: where the last error is kept.
        waiter: what a wait between attempts sleeps on (``wake()`` ends it).
        report: called with each warning line.
        retry_for: seconds of failure before giving up (None: never).
        stopping: whether the shipper was asked to stop.
    """

    def __init__(
        self,
        key: str,
        cursors: CursorStore,
        waiter: ChangeWaiter,
        report: Callable[[str], object],
        retry_for: float | None,
        stopping: Callable[[], bool],
    ) -> None:
        self.key = key
        self.cursors = cursors
        self.waiter = waiter
        self._report = report
        self.retry_for = retry_for
        self._stopping = stopping
        self._backoff = Backoff()
        self._failing_since: float | None = None
        self._last_report = 0.0

    def run(self, action: Callable[[], _T]) -> _T:
        """``action()``, retried with backoff while the destination is unavailable.

        Raises:
            ShippingStoppedError: a permanent refusal, or ``retry_for`` ran out.
            StopRequestedError: the shipper was asked to stop meanwhile.
        """
        while True:
            if self._stopping():
                raise StopRequestedError
            try:
                result = action()
            except DestinationUnavailableError as exc:
                self._wait_to_retry(exc)
                continue
            except DestinationRefusedError as exc:
                self.cursors.record_error(str(exc))
                raise ShippingStoppedError(str(exc)) from exc
            if self._failing_since is not None:
                self._report(f"{self.key} is reachable again")
                self._failing_since = None
            self._backoff.reset()
            return result

    def _wait_to_retry(self, exc: DestinationUnavailableError) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            self._last_report = 0.0
        self.cursors.record_error(str(exc))
        waited = now - self._failing_since
        if self.retry_for is not None and waited >= self.retry_for:
            msg = f"gave up after retrying for {waited:.0f} s: {exc}"
            self.cursors.record_error(msg)
            raise ShippingStoppedError(msg) from exc
        delay = self._backoff.next_delay(exc.retry_after)
        if self.retry_for is not None:
            delay = min(delay, self.retry_for - waited)
        if now - self._last_report >= REPORT_EVERY:
            self._last_report = now
            self._report(f"{exc}; retrying in {delay:.1f} s (rows wait in the database)")
        if self.waiter.pause(delay):
            raise StopRequestedError
