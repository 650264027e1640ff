"""The writer's work by the clock, on its worker thread: the upkeep and the page cache.

The upkeep (retention, space, WAL) runs every ``maintain_every`` seconds, also while
no rows arrive, once when the worker starts and once at ``close()``; after a commit,
the write connection's unused page cache is given back every
``RELEASE_MEMORY_ROWS`` rows, and at most ``RELEASE_MEMORY_EVERY`` seconds after the
first commit since the last release. ``BatchWriter`` (``_writer``) builds on this: it
decides when the worker wakes; this decides what is due then. Errors of the upkeep and
of the hooks run after a commit are contained and reported, never raised.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from . import schema
from ._connections import busy_timeout
from ._stderr import Reporter
from ._transactions import Transactions, WriterClosedError
from ._worker import Worker
from .exceptions import SQLiteLoggingError

__all__ = [
    "RELEASE_MEMORY_EVERY",
    "RELEASE_MEMORY_ROWS",
    "AfterCommit",
    "Call",
    "Maintain",
    "TimedWork",
]

_T = TypeVar("_T")
AfterCommit = Callable[[sqlite3.Connection, list[tuple[str, int, int]]], None]
#: ``maintain(connection, idle=..., thorough=..., commit=...)``: one slice of upkeep;
#: returns whether more is due at once (``_upkeep.Upkeep.run``).
Maintain = Callable[..., bool]

#: Seconds between two releases of the write connection's unused page cache. The
#: writer appends, so it only ever needs the right edges of its B-trees; without the
#: release the cache (``cache_size``, 64 MB by default) fills with pages it will not
#: read again, and the process's memory grows with the database.
RELEASE_MEMORY_EVERY = 1.0
#: Rows committed after which the page cache is given back at once: a fast writer (a
#: writer process commits 100,000 rows a second and more) otherwise fills tens of MB
#: of cache within ``RELEASE_MEMORY_EVERY``; measured: about 0.35 KiB of cache per
#: row, so this bounds the growth to a few MiB. Each release costs the next commit
#: a few page reads (the right edges of the B-trees), from the OS's cache.
RELEASE_MEMORY_ROWS = 10_000
#: Seconds close() waits for readers so that its checkpoint can empty the WAL (a
#: follower such as ``tail -F`` reads for milliseconds every quarter of a second).
CLOSE_CHECKPOINT_WAIT = 1.0


class Call:
    """``fn(connection)`` run on the worker for another thread; cancelled by ``close()``."""

    def __init__(self, writer: TimedWork, fn: Callable[[sqlite3.Connection], Any]) -> None:
        self._writer = writer
        self._fn = fn
        self.done = threading.Event()
        self.outcome: tuple[bool, Any] | None = None

    def __call__(self) -> None:
        try:
            with self._writer._worker.io:
                self.outcome = (True, self._fn(self._writer._connection()))
        except BaseException as exc:
            self.outcome = (False, exc)
        finally:
            self.done.set()

    def cancel(self, cause: str) -> None:
        """Never run it: its caller gets ``SQLiteLoggingError(cause)``."""
        self.outcome = (False, SQLiteLoggingError(cause))
        self.done.set()


class TimedWork(Transactions):
    """The upkeep and the page-cache release of a writer, when their time has come.

    Args (beside ``Transactions``'):
        after_commit: see ``BatchWriter``.
        maintain: the upkeep; see ``BatchWriter``.
        maintain_every: seconds between two runs of the upkeep.
    """

    _worker: Worker

    def __init__(
        self,
        opener: Callable[[], sqlite3.Connection],
        label: str,
        *,
        path: str | None,
        batch_size: int,
        describe_error: Callable[[object], object],
        after_commit: AfterCommit | None,
        maintain: Maintain | None,
        maintain_every: float,
    ) -> None:
        super().__init__(
            opener, label, path=path, batch_size=batch_size, describe_error=describe_error
        )
        self._after_commit = after_commit
        self._maintain = maintain
        self._maintain_every = maintain_every
        now = time.monotonic()
        self._upkeep_due: float | None = now if maintain is not None else None
        self._upkept_batches = 0  # self.batches when the upkeep last ran
        self.started = threading.Event()  # the upkeep a starting writer does is done
        if maintain is None:
            self.started.set()
        self._released = now
        self._release_due: float | None = None  # set by a commit
        self._unreleased_rows = 0  # rows committed since the last release
        self.last_commit: float | None = None  # time.time() of the last commit
        self._after_reporter = Reporter(
            lambda count, cause: f"{count} error(s) after writing to {label}, last: {cause}"
        )

    def _committed(self, ids: list[tuple[str, int, int]], rows: int) -> None:
        """After a commit of ``rows`` rows (worker thread): the hooks; the release due."""
        self.last_commit = time.time()
        self._unreleased_rows += rows
        if self._unreleased_rows >= RELEASE_MEMORY_ROWS:
            self._release_due = self._released
        elif self._release_due is None:
            self._release_due = self._released + RELEASE_MEMORY_EVERY
        if self._after_commit is not None and ids:
            self._contained(self._after_commit, ids)

    def _timed_work(self, idle: bool) -> None:
        """The upkeep and the page-cache release, when their time has come."""
        now = time.monotonic()
        if self._upkeep_due is not None and now >= self._upkeep_due:
            self._upkept_batches = self.batches
            more = self._contained(self._upkeep, idle)
            self._upkeep_due = time.monotonic() + (0.0 if more else self._maintain_every)
            self.started.set()
        if self._release_due is not None and now >= self._release_due:
            self._release_due = None
            self._released = now
            self._unreleased_rows = 0
            self._contained(_release_memory)

    def _upkeep(self, conn: sqlite3.Connection, idle: bool) -> bool:
        """One slice of upkeep; lock contention and a close under way just end it early."""
        assert self._maintain is not None
        try:
            return self._maintain(conn, idle=idle, commit=self._commit_guarded)
        except WriterClosedError:
            return False
        except sqlite3.OperationalError as exc:
            if schema.is_busy(exc):
                return False  # another connection holds the lock: the next run goes on
            raise

    def _last_upkeep(self, conn: sqlite3.Connection) -> None:
        """At close: the upkeep if rows came since it last ran; the WAL into the file.

        Runs as a ``Call`` (holding the connection already), so a short-lived program
        prunes too, and the last connection to close finds the WAL already copied: a
        copy of the database file alone holds every row, even where another connection
        keeps the WAL alive. The checkpoint also empties the WAL (TRUNCATE), waiting
        for readers at most ``CLOSE_CHECKPOINT_WAIT``: frames left in a WAL that a
        reader (``tail -F``) keeps alive would be read over a file copied onto the
        database later (``cp backup.db app.db``: "mispairing",
        sqlite.org/howtocorrupt.html). Past the wait it copies what it can (PASSIVE).
        """
        try:
            if self._maintain is not None and self.batches != self._upkept_batches:
                self._upkeep(conn, True)
            if self._path is not None:
                with busy_timeout(conn, CLOSE_CHECKPOINT_WAIT):
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except Exception as exc:
            self._after_reporter.report(1, exc)

    def _contained(self, action: Callable[..., _T], *args: Any) -> _T | None:
        """Run ``action(connection, *args)`` holding the connection; report its errors."""
        if self._ended:
            return None
        try:
            with self._worker.io:
                return action(self._connection(), *args)
        except Exception as exc:
            self._after_reporter.report(1, exc)
            return None


def _release_memory(conn: sqlite3.Connection) -> None:
    """Give back the page cache the connection is not using (``PRAGMA shrink_memory``).

    SQLite frees only pages it can read again: an in-memory database keeps its data.
    """
    conn.execute("PRAGMA shrink_memory").fetchall()
