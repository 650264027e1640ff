"""The batching writer: groups rows into transactions and commits them on the worker.

It knows rows, not LogRecords. ``add_rows``, ``flush`` and ``close`` are called from the
handler's listener thread (``close`` from whichever thread closes the handler);
``_commit`` and ``_commit_due`` run on the worker thread, which owns the connection.

Failure semantics, in one place:

- lock contention (``SQLITE_BUSY``) is waited out: the batch is retried until it is
  written or the handler is closing past its deadline;
- a row SQLite cannot bind (lone surrogates, huge ints, odd objects) is sanitised and
  the batch retried; a row SQLite rejects (a user's constraint) is isolated by writing
  the batch row by row, so it never takes the other rows of its batch with it;
- any other error (disk full, read-only, I/O, a vanished file) is retried with a fresh
  connection for up to ``RETRY_FOR`` seconds from the start of the fault; after that,
  batches are tried once each and counted as failed until a write succeeds again;
- every failure is counted and reported on stderr, at most once per ``REPORT_EVERY``.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from . import schema
from ._records import Row, sanitize_row
from ._worker import Worker

__all__ = [
    "RELEASE_MEMORY_EVERY",
    "REPORT_EVERY",
    "RETRY_FOR",
    "BatchWriter",
    "Reporter",
    "send_reports_to",
    "write_line",
    "write_stderr",
]

_T = TypeVar("_T")
AfterCommit = Callable[[sqlite3.Connection, list[tuple[str, int, int]]], None]
Maintain = Callable[[sqlite3.Connection, bool], None]
#: ``in_transaction(connection, log_rows, metric_rows)``: more statements in a batch's
#: transaction (a writer process records how far it has written, atomically).
InTransaction = Callable[[sqlite3.Connection, int, int], None]
#: ``on_settled(log_rows, metric_rows, id_ranges)``: a batch was written (id ranges)
#: or counted as failed (no ranges); batches settle in the order of their rows.
OnSettled = Callable[[int, int, list[tuple[str, int, int]]], None]

#: Seconds a failing write (other than lock contention) is retried before counting.
RETRY_FOR = 30.0
#: Seconds between two stderr lines about failed writes.
REPORT_EVERY = 10.0
#: Seconds between two releases of the write connection's unused page cache. The
#: writer appends, so it only ever needs the right edges of its B-trees; without the
#: release the cache (``cache_size``, 64 MB by default) fills with pages it will not
#: read again, and the process's memory grows with the database.
RELEASE_MEMORY_EVERY = 1.0

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


class _Batch:
    """Rows bound for one transaction, and whether they have been accounted for."""

    __slots__ = ("ids", "logs", "metrics", "settled")

    def __init__(self, logs: list[Row], metrics: list[Row]) -> None:
        self.logs = logs
        self.metrics = metrics
        self.settled = False
        self.ids: list[tuple[str, int, int]] = []  # (table, first id, last id) written

    def __len__(self) -> int:
        return len(self.logs) + len(self.metrics)

    def tables(self) -> list[tuple[str, list[Row]]]:
        return [(t, rows) for t, rows in (("logs", self.logs), ("metrics", self.metrics)) if rows]

    def sanitize(self) -> None:
        self.logs = [sanitize_row(row) for row in self.logs]
        self.metrics = [sanitize_row(row) for row in self.metrics]


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
        self._unreported += count
        now = time.monotonic()
        if now - self._last < REPORT_EVERY:
            return
        self._last = now
        count, self._unreported = self._unreported, 0
        write_stderr(self._describe(count, cause))


#: Where ``write_stderr`` sends its lines first (a writer process sends them to its
#: application, which writes them to its own ``sys.stderr``); it returns whether it
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


def _code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


class BatchWriter:
    """Groups rows into batches of up to ``batch_size`` and commits each in one transaction.

    Args:
        opener: opens a write connection with the schema in place (worker thread).
        label: how the database is named in messages.
        path: the database file, watched so that a file removed or replaced while the
            handler runs is noticed (writing goes on into a new file at that path);
            None for an in-memory database.
        batch_size: rows per transaction at most.
        flush_interval: seconds a row may wait before its batch is committed.
        after_commit: called on the worker after each commit with the connection and
            the id ranges written (for the handler's hooks); its errors are contained.
        maintain: called on the worker every ``maintain_every`` seconds after a
            commit, with the connection and whether the writer is idle (retention,
            WAL checkpoints); its errors are contained.
        in_transaction: see ``InTransaction``; its errors fail the transaction.
        on_settled: see ``OnSettled``; called on the thread that settled the batch.
    """

    def __init__(
        self,
        opener: Callable[[], sqlite3.Connection],
        label: str,
        *,
        path: str | None = None,
        batch_size: int,
        flush_interval: float,
        after_commit: AfterCommit | None = None,
        maintain: Maintain | None = None,
        maintain_every: float = 5.0,
        in_transaction: InTransaction | None = None,
        on_settled: OnSettled | None = None,
    ) -> None:
        self._after_commit = after_commit
        self._in_transaction = in_transaction
        self._on_settled = on_settled
        self._maintain = maintain
        self._maintain_every = maintain_every
        self._maintained = self._released = time.monotonic()
        self.last_commit: float | None = None  # time.time() of the last commit
        self._opener = opener
        self._path = path
        self._file_identity: tuple[int, int] | None = None
        self._label = label
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._lock = threading.Lock()  # guards the pending rows and the counters
        self._logs: list[Row] = []
        self._metrics: list[Row] = []
        self._size = 0
        self._due: float | None = None
        self._inflight: _Batch | None = None
        self._fault_since: float | None = None
        self._abort_at = float("inf")
        self._abort = threading.Event()
        self._reporter = Reporter(
            lambda count, cause: f"{count} record(s) could not be written to {label}: {cause}"
        )
        self._after_reporter = Reporter(
            lambda count, cause: f"{count} error(s) after writing to {label}, last: {cause}"
        )
        self.written = 0
        self.failed = 0
        self.batches = 0
        self.restarts = 0
        self._worker = self._new_worker()

    # -- listener thread ------------------------------------------------------------

    def add_rows(self, logs: list[Row], metrics: list[Row]) -> None:
        """Add rows; hand every full batch to the worker (waiting for room if need be)."""
        count = len(logs) + len(metrics)
        if not count:
            return
        with self._lock:
            opened = not self._size
            self._logs.extend(logs)
            self._metrics.extend(metrics)
            self._size += count
            if opened:
                self._due = time.monotonic() + self._flush_interval
        self._ship(everything=False)
        if opened and self._size:
            self._worker.wake()  # a batch is open: the worker must watch its deadline

    def flush(self, done: Callable[[], None]) -> None:
        """Commit the open batch now and call ``done`` on the worker once it is."""
        self._ship(everything=True)
        self._submit(done, self._abort_at)

    def _ship(self, *, everything: bool) -> None:
        """Move full batches (or all rows) from pending into the worker's queue, in order.

        Rows leave ``pending`` only under the lock and straight into the worker's queue
        (or, on the worker, through ``_commit_due``), so everything in the worker's
        queue is older than everything pending: batches commit in the order records
        were emitted. When the worker's queue is full, the rows stay pending while
        this waits for room.
        """
        self.check_worker()
        while True:
            with self._lock:
                while self._size >= self._batch_size or (everything and self._size):
                    batch = self._take_batch()
                    if not self._worker.try_submit(partial(self._commit, batch)):
                        self._put_back(batch)
                        break
                else:
                    return
            if not self._worker.wait_for_room(self._abort_at):
                return  # closing, or the worker died: close() and check_worker() take over

    def record_failure(self, cause: str) -> None:
        """Count a record that could not even be turned into a row."""
        self._count_failed(1, cause)

    def progress(self) -> int:
        """A number that changes whenever a batch is settled (to detect a stuck writer)."""
        return self.written + self.failed + self.batches

    def call(self, fn: Callable[[sqlite3.Connection], _T], timeout: float) -> _T:
        """Run ``fn(connection)`` on the worker, after the jobs queued so far.

        Returns what ``fn`` returns, or raises what it raised; ``TimeoutError`` if it
        has not run within ``timeout`` seconds.
        """
        done = threading.Event()
        outcome: list[Any] = []

        def job() -> None:
            try:
                with self._worker.io:
                    outcome.append((True, fn(self._connection())))
            except BaseException as exc:
                outcome.append((False, exc))
            finally:
                done.set()

        deadline = time.monotonic() + timeout
        if not self._submit(job, deadline) or not done.wait(max(0.0, deadline - time.monotonic())):
            msg = f"the writer of {self._label} did not run the statement within {timeout} s"
            raise TimeoutError(msg)
        ok, value = outcome[0]
        if not ok:
            raise value
        result: _T = value
        return result

    def check_worker(self) -> None:
        """Replace the worker if its thread has died (it should not: it contains errors)."""
        if not self._worker.is_alive():
            self._replace_worker()

    def close(self, deadline: float) -> int:
        """Commit what is pending, stop the worker; by ``deadline``, else give up.

        Returns how many rows could not be written (already counted in ``failed``).
        """
        self._abort_at = deadline
        failed_before = self.failed
        with self._lock:
            batch = self._take()
        if batch is not None and not self._submit(partial(self._commit, batch), deadline):
            self._settle(batch, written=False, cause="the handler closed before it was written")
        if not self._worker.stop(deadline):
            self._abort.set()  # a job still retrying gives up at once
            self._give_up(self._worker.drain(), "the database stayed unavailable")
            inflight = self._inflight
            if inflight is not None:
                self._settle(inflight, written=False, cause="the handler was closed")
        return self.failed - failed_before

    def _take(self) -> _Batch | None:
        """Detach all pending rows as a batch (caller holds the lock)."""
        if not self._size:
            return None
        batch = _Batch(self._logs, self._metrics)
        self._logs, self._metrics = [], []
        self._size = 0
        self._due = None
        return batch

    def _put_back(self, batch: _Batch) -> None:
        """Return a batch the worker had no room for to the head of pending (lock held)."""
        self._logs[:0] = batch.logs
        self._metrics[:0] = batch.metrics
        if not self._size:
            self._due = time.monotonic()  # it was due to be written already
        self._size += len(batch)

    def _take_batch(self) -> _Batch:
        """Detach up to ``batch_size`` rows from the head of pending (caller holds the lock)."""
        size = self._batch_size
        logs, self._logs = self._logs[:size], self._logs[size:]
        rest = size - len(logs)
        metrics, self._metrics = self._metrics[:rest], self._metrics[rest:]
        self._size -= len(logs) + len(metrics)
        if not self._size:
            self._due = None
        return _Batch(logs, metrics)

    def _submit(self, job: Callable[[], None], deadline: float) -> bool:
        """Queue a job for the worker, replacing the worker if its thread has died."""
        while not self._worker.submit(job, deadline):
            if self._worker.is_alive():
                return False  # deadline passed
            self._replace_worker()
        return True

    def _new_worker(self) -> Worker:
        return Worker(
            self._open,
            idle_due=lambda: self._due,
            on_idle=self._commit_due,
            on_error=self._worker_error,
        )

    def _replace_worker(self) -> None:
        """Start a new worker after the old thread died; its queued jobs move over."""
        old = self._worker
        self.restarts += 1
        inflight = self._inflight
        if inflight is not None:
            self._settle(inflight, written=False, cause="the writer thread died")
        self._worker = self._new_worker()
        for job in old.drain():
            self._worker.submit(job, self._abort_at)

    def _give_up(self, jobs: list[Callable[[], None]], cause: str) -> None:
        for job in jobs:
            if isinstance(job, partial) and isinstance(job.args[0], _Batch):
                self._settle(job.args[0], written=False, cause=cause)
            else:
                job()  # a flush marker: release its waiter

    # -- worker thread ----------------------------------------------------------------

    def _commit_due(self) -> None:
        with self._lock:
            batch = self._take() if self._due is not None else None
        if batch is not None:
            self._commit(batch, idle=True)

    def _commit(self, batch: _Batch, idle: bool = False) -> None:
        """Write ``batch`` in one transaction, retrying as the module docstring says."""
        self._inflight = batch
        try:
            self._write_with_retries(batch)
        finally:
            self._inflight = None
        if batch.ids:
            self.last_commit = time.time()
            if self._after_commit is not None:
                self._contained(self._after_commit, batch.ids)
        if self._maintain is not None and (
            time.monotonic() - self._maintained >= self._maintain_every
        ):
            self._maintained = time.monotonic()
            self._contained(self._maintain, idle)
        if time.monotonic() - self._released >= RELEASE_MEMORY_EVERY:
            self._released = time.monotonic()
            self._contained(_release_memory)

    def _contained(self, action: Callable[..., None], *args: Any) -> None:
        """Run ``action(connection, *args)`` holding the connection; report its errors."""
        try:
            with self._worker.io:
                action(self._connection(), *args)
        except Exception as exc:
            self._after_reporter.report(1, exc)

    def _write_with_retries(self, batch: _Batch) -> None:
        sanitized = False
        while not batch.settled:
            try:
                self._transaction(batch, self._insert_all)
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
                    self._settle(batch, written=False, cause=exc)
                    return
            else:
                self._fault_since = None
                self._settle(batch, written=True)
                return

    def _retry_after(self, exc: sqlite3.Error) -> bool:
        """Whether to try again after ``exc``; waits a little before a retry."""
        now = time.monotonic()
        if self._abort.is_set() or now >= self._abort_at:
            return False
        if schema.is_busy(exc):
            return True  # the busy timeout has already waited; lock contention is waited out
        with self._worker.io:
            self._worker.reset_connection()
        if self._fault_since is None:
            self._fault_since = now
        elapsed = now - self._fault_since
        if elapsed >= RETRY_FOR:
            return False  # still failing: count this batch, try the next one once
        self._abort.wait(min(1.0, 0.05 * 2 ** min(elapsed, 5)))
        return True

    def _open(self) -> sqlite3.Connection:
        conn = self._opener()
        self._file_identity = _file_identity(self._path)
        return conn

    def _connection(self) -> sqlite3.Connection:
        """The write connection, re-opened if the file was removed or replaced."""
        conn = self._worker.connection()
        if self._path is not None and _file_identity(self._path) != self._file_identity:
            write_stderr(f"{self._label} was removed or replaced; writing to a new file there")
            self._worker.reset_connection()
            conn = self._worker.connection()
        return conn

    def _transaction(
        self, batch: _Batch, body: Callable[[sqlite3.Connection, _Batch], None]
    ) -> None:
        with self._worker.io:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                body(conn, batch)
                if self._in_transaction is not None:
                    self._in_transaction(conn, len(batch.logs), len(batch.metrics))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        self._worker.reset_connection()
                raise

    def pause(self, timeout: float) -> bool:
        """Close the write connection once no statement runs, and keep it closed (fork)."""
        return self._worker.pause(timeout)

    def resume(self) -> None:
        """Undo a successful ``pause()``."""
        self._worker.resume()

    def _insert_all(self, conn: sqlite3.Connection, batch: _Batch) -> None:
        limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        batch.ids.clear()
        for table, rows in batch.tables():
            for start, stop in _chunks(len(rows), len(rows[0]), limit, self._batch_size):
                params = list(itertools.chain.from_iterable(rows[start:stop]))
                last = conn.execute(schema.insert_sql(table, stop - start), params).lastrowid
                # The write lock is held, so one statement's ids are consecutive.
                if last is not None:
                    batch.ids.append((table, last - (stop - start) + 1, last))

    def _write_row_by_row(self, batch: _Batch) -> None:
        """Write each row alone, in one transaction, so a rejected row fails alone."""
        rejected: list[BaseException] = []

        def insert_each(conn: sqlite3.Connection, batch: _Batch) -> None:
            rejected.clear()
            batch.ids.clear()
            for table, rows in batch.tables():
                sql = schema.insert_sql(table, 1)
                for row in rows:
                    try:
                        last = conn.execute(sql, sanitize_row(row)).lastrowid
                        if last is not None:
                            batch.ids.append((table, last, last))
                    except (sqlite3.Error, *_BIND_ERRORS) as exc:
                        if not conn.in_transaction:
                            raise
                        rejected.append(exc)

        while True:
            try:
                self._transaction(batch, insert_each)
            except sqlite3.Error as exc:
                if self._retry_after(exc):
                    continue
                self._settle(batch, written=False, cause=exc)
                return
            break
        with self._lock:
            if batch.settled:
                return
            batch.settled = True
            self.written += len(batch) - len(rejected)
            self.batches += 1
        if rejected:
            self._count_failed(len(rejected), f"rejected by SQLite: {rejected[0]}")
        self._tell_settled(batch)

    def _settle(self, batch: _Batch, *, written: bool, cause: object = None) -> None:
        """Count ``batch`` once, as written or failed, whoever gets there first."""
        with self._lock:
            if batch.settled:
                return
            batch.settled = True
            if written:
                self.written += len(batch)
                self.batches += 1
            else:
                batch.ids.clear()  # nothing of it was committed
        if not written:
            self._count_failed(len(batch), cause)
        self._tell_settled(batch)

    def _tell_settled(self, batch: _Batch) -> None:
        if self._on_settled is not None:
            self._on_settled(len(batch.logs), len(batch.metrics), batch.ids)

    def _count_failed(self, count: int, cause: object) -> None:
        with self._lock:
            self.failed += count
        self._reporter.report(count, cause)

    def _worker_error(self, exc: BaseException) -> None:
        write_stderr(f"writer error: {type(exc).__name__}: {exc}")


def _release_memory(conn: sqlite3.Connection) -> None:
    """Give back the page cache the connection is not using (``PRAGMA shrink_memory``).

    SQLite frees only pages it can read again: an in-memory database keeps its data.
    """
    conn.execute("PRAGMA shrink_memory").fetchall()


def _file_identity(path: str | None) -> tuple[int, int] | None:
    """(device, inode) of ``path``, or None if there is no such file."""
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def _chunks(rows: int, width: int, limit: int, batch_size: int) -> list[tuple[int, int]]:
    """Row ranges for multi-row INSERTs, each within SQLite's bound-variable limit.

    Full batches go in one statement; the rest in power-of-two pieces, so a handful
    of statement texts serve every batch size (sqlite3 caches prepared statements by
    text).
    """
    most = max(1, min(batch_size, limit // width))
    sizes = [most] + [1 << i for i in range(most.bit_length() - 1, -1, -1) if 1 << i < most]
    ranges: list[tuple[int, int]] = []
    start = 0
    for size in sizes:
        while rows - start >= size:
            ranges.append((start, start + size))
            start += size
    return ranges
