"""Reading the next batch while the current one is being sent.

A shipper waits for its destination a good part of the time (the collector's answer,
PostgreSQL's insert). Meanwhile a thread of its own, with a read connection of its own,
reads the batch that follows, so that the next request can go out as soon as the
current one is acknowledged. The batch read ahead is used only if the cursor ended up
where it was read from; otherwise it is dropped.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor

from .source import Batch, RowSource

__all__ = ["ReadAhead"]

_Key = tuple[int, int, int | None]  # after, limit, upto


class ReadAhead:
    """One batch per table read ahead, on one thread (``sqlite-logs-ship-read``)."""

    def __init__(self, database: str) -> None:
        self._source = RowSource(database)
        self._executor: ThreadPoolExecutor | None = None
        self._pending: dict[str, tuple[_Key, Future[Batch]]] = {}

    def start(self, table: str, after: int, limit: int, upto: int | None) -> None:
        """Begin reading the batch of ``table`` after ``after``."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-logs-ship-read")
        self._drop(table)
        future = self._executor.submit(self._source.read, table, after, limit, upto)
        self._pending[table] = ((after, limit, upto), future)

    def take(self, table: str, after: int, limit: int, upto: int | None) -> Batch | None:
        """The batch read ahead, if it was read from ``after`` (else None: read it now)."""
        pending = self._pending.pop(table, None)
        if pending is None:
            return None
        key, future = pending
        if key != (after, limit, upto):
            _settle(future)
            return None
        return future.result()

    def close(self) -> None:
        """Wait for a read in progress, then close the connection. Idempotent."""
        for table in list(self._pending):
            self._drop(table)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._source.close()

    def _drop(self, table: str) -> None:
        pending = self._pending.pop(table, None)
        if pending is not None:
            _settle(pending[1])


def _settle(future: Future[Batch]) -> None:
    """Wait for a read nobody needs any more; its failure, if any, does not matter."""
    with contextlib.suppress(Exception):
        future.result()
