"""How a batch is committed: retries, sanitising, rejected rows, the close gate, counts.

The worker-thread half of ``_writer.BatchWriter`` (its base class). Failure semantics:

- lock contention (``SQLITE_BUSY``) is waited out: the batch is retried until it is
  written or the handler is closing past its deadline;
- a row SQLite cannot bind (lone surrogates, huge ints, odd objects) is sanitised and
  the batch retried; a row SQLite rejects (a user's constraint) is isolated by writing
  the batch row by row, so it never takes the other rows of its batch with it;
- any other error (disk full, read-only, I/O, a vanished file) is retried with a fresh
  connection for up to ``RETRY_FOR`` seconds from the start of the fault; after that,
  batches are tried once each and counted as failed until a write succeeds again;
- every failure is counted and reported on stderr, at most once per ``REPORT_EVERY``,
  except those ``close()`` leaves (cause ``CLOSED``): ``_closing`` says those in one
  line, with the cause it keeps;
- once ``close()`` has counted what it could not write, nothing is committed any more:
  every COMMIT passes a gate that ``close()`` shuts (``WriterClosedError``), so a job still
  waiting for a lock when the handler closed rolls back instead of writing records it
  was reported to have lost.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import partial

from . import schema
from ._batch import Batch, file_identity, insert_all, insert_each
from ._closing import CLOSED, CloseReport
from ._stderr import Reporter, write_stderr
from ._worker import Worker

__all__ = ["CLOSED", "RETRY_FOR", "Transactions", "WriterClosedError"]

#: Seconds a failing write (other than lock contention) is retried before counting.
RETRY_FOR = 30.0

_REJECT_CODES = frozenset(
    {sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG}
)
# Raised while binding values, before SQLite sees them.
_BIND_ERRORS = (
    UnicodeEncodeError,
    OverflowError,
    ValueError,
    TypeError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
)


class WriterClosedError(Exception):
    """Raised instead of a COMMIT once the writer has been closed: the caller rolls back."""


def _code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


class Transactions:
    """Commits batches on the worker and keeps the counts (``written``, ``failed``, ...).

    Args:
        opener: opens a write connection with the schema in place (worker thread).
        label: how the database is named in messages.
        path: the database file, watched so that a file removed or replaced while the
            handler runs is noticed; None for an in-memory database.
        batch_size: rows per INSERT statement at most.
        describe_error: turns a write error into the cause named on stderr.
    """

    _worker: Worker  # the subclass starts it
    # Hooks the subclass sets (see _writer.InTransaction and _writer.OnSettled).
    _in_transaction: Callable[[sqlite3.Connection, int, int], None] | None = None
    _on_settled: Callable[[int, int, list[tuple[str, int, int]]], None] | None = None

    def __init__(
        self,
        opener: Callable[[], sqlite3.Connection],
        label: str,
        *,
        path: str | None,
        batch_size: int,
        describe_error: Callable[[object], object],
    ) -> None:
        self._opener = opener
        self._label = label
        self._path = path
        self._batch_size = batch_size
        self._file_identity: tuple[int, int] | None = None
        self._lock = threading.Lock()  # guards the pending rows and the counters
        self._gate = threading.Lock()  # orders every COMMIT against close() ending it all
        self._ended = False  # set once, by close()
        self._fault_since: float | None = None
        self._abort_at = math.inf
        self._abort = threading.Event()
        self._reporter = Reporter(
            lambda count, cause: (
                f"{count} record(s) could not be written to {label}: {describe_error(cause)}"
            )
        )
        self.close_report = CloseReport(label, describe_error)
        self.written = 0
        self.failed = 0
        self.batches = 0

    def record_failure(self, cause: str) -> None:
        """Count a record that could not even be turned into a row."""
        self._count_failed(1, cause)

    @property
    def ended(self) -> bool:
        """Whether ``close()`` has ended the writer: nothing more is written."""
        return self._ended

    def count_unwritten(self, count: int) -> None:
        """Count records that reached the writer after ``close()`` ended it."""
        if count:
            self._count_failed(count, CLOSED)

    def progress(self) -> int:
        """A number that changes whenever a batch is settled (to detect a stuck writer)."""
        return self.written + self.failed + self.batches

    def _commit_guarded(self, conn: sqlite3.Connection, batch: Batch | None = None) -> None:
        """COMMIT, unless ``close()`` has ended the writer (then raise ``WriterClosedError``).

        ``batch`` is marked committed under the gate: ``close()`` then knows, when it
        ends the writer, whether the batch under way is in the database already.
        """
        with self._gate:
            if self._ended:
                raise WriterClosedError(CLOSED)
            conn.execute("COMMIT")
            if batch is not None:
                batch.committed = True

    def _write_with_retries(self, batch: Batch) -> None:
        sanitized = False
        while not batch.settled:
            try:
                self._transaction(batch, insert_all)
            except WriterClosedError:
                self._settle(batch, written=False, cause=CLOSED)
                return
            except _BIND_ERRORS:
                if sanitized:
                    self._write_row_by_row(batch)
                    return
                batch.sanitize()
                sanitized = True
            except sqlite3.Error as exc:
                if _code(exc) in _REJECT_CODES:
                    self._write_row_by_row(batch)
                    return
                if not self._retry_after(exc):
                    self._settle(batch, written=False, cause=self._unwritten_cause(exc))
                    return
            else:
                self._written_again()
                self._settle(batch, written=True)
                return

    def _retry_after(self, exc: sqlite3.Error) -> bool:
        """Whether to try again after ``exc``; waits a little before a retry."""
        now = time.monotonic()
        if self._closing():
            return False
        if schema.is_busy(exc):
            return True  # the busy timeout has already waited; lock contention is waited out
        self.close_report.failing(exc)
        with self._worker.io:
            self._worker.reset_connection()
        if self._fault_since is None:
            self._fault_since = now
        elapsed = now - self._fault_since
        if elapsed >= RETRY_FOR:
            return False  # still failing: count this batch, try the next one once
        self._abort.wait(min(1.0, 0.05 * 2 ** min(elapsed, 5)))
        return True

    def _closing(self) -> bool:
        """Whether ``close()`` has given up waiting (its deadline passed, or it ended)."""
        return self._abort.is_set() or time.monotonic() >= self._abort_at

    def _unwritten_cause(self, exc: sqlite3.Error) -> object:
        """Why a batch that was not retried is not written: ``close()``, or ``exc``."""
        return CLOSED if self._closing() else exc

    def _written_again(self) -> None:
        self._fault_since = None
        self.close_report.failing(None)

    def _open(self) -> sqlite3.Connection:
        conn = self._opener()
        self._file_identity = file_identity(self._path)
        return conn

    def _connection(self) -> sqlite3.Connection:
        """The write connection, re-opened if the file was removed or replaced."""
        conn = self._worker.connection()
        if self._path is not None and file_identity(self._path) != self._file_identity:
            write_stderr(f"{self._label} was removed or replaced; writing to a new file there")
            self._worker.reset_connection()
            conn = self._worker.connection()
        return conn

    def _transaction(
        self, batch: Batch, body: Callable[[sqlite3.Connection, Batch, int], None]
    ) -> None:
        with self._worker.io:
            conn = self._connection()
            self._begin(conn)
            try:
                body(conn, batch, self._batch_size)
                if self._in_transaction is not None:
                    self._in_transaction(conn, len(batch.logs), len(batch.metrics))
                self._commit_guarded(conn, batch)
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        self._worker.reset_connection()
                raise

    def _begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``: take the write lock, telling the close report how long it waits."""
        report = self.close_report
        report.waiting_for_lock()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if not schema.is_busy(exc):
                report.got_lock()
            raise
        report.got_lock()

    def _write_row_by_row(self, batch: Batch) -> None:
        """Write each row alone, in one transaction, so a rejected row fails alone."""
        rejected: list[BaseException] = []
        while True:
            try:
                self._transaction(batch, partial(insert_each, rejected=rejected))
            except WriterClosedError:
                self._settle(batch, written=False, cause=CLOSED)
                return
            except sqlite3.Error as exc:
                if self._retry_after(exc):
                    continue
                self._settle(batch, written=False, cause=self._unwritten_cause(exc))
                return
            break
        self._written_again()
        cause = f"rejected by SQLite: {rejected[0]}" if rejected else None
        self._settle(batch, written=True, rejected=len(rejected), cause=cause)

    def _settle(
        self, batch: Batch, *, written: bool, cause: object = None, rejected: int = 0
    ) -> None:
        """Count ``batch`` once, as written (less ``rejected`` rows, failed) or failed.

        Whoever gets there first counts it. Should a batch already counted as failed
        (by ``close()``) turn out to be committed after all (a COMMIT stalled on the
        disk past ``GATE_TIMEOUT``), the counts are corrected and stderr says so.
        """
        stored = len(batch) - rejected
        with self._lock:
            late = batch.settled and written and not batch.written
            if late:
                self.failed -= len(batch)
            elif batch.settled:
                return
            batch.settled = True
            if written:
                batch.written = True
                self.written += stored
                self.batches += 1
            else:
                batch.ids.clear()  # nothing of it was committed
        if late:
            write_stderr(
                f"{stored} record(s) counted as unwritten when {self._label} was closed "
                "were written after all"
            )
            return
        if not written:
            self._count_failed(len(batch), cause)
        elif rejected:
            self._count_failed(rejected, cause)
        if self._on_settled is not None:  # told once the counts are complete
            self._on_settled(len(batch.logs), len(batch.metrics), batch.ids)

    def _count_failed(self, count: int, cause: object) -> None:
        with self._lock:
            self.failed += count
        if cause is CLOSED:  # said by close(), in one line (see _closing)
            self.close_report.gave_up()
        else:
            self._reporter.report(count, cause)
