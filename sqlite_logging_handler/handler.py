"""SQLiteHandler: the logging.Handler, its bounded queue and its QueueListener.

The calling thread does only what cannot wait: it merges the message's arguments,
renders exception and stack text, and puts the record on a bounded queue. A standard
``logging.handlers.QueueListener`` thread turns records into rows and groups them into
batches; the writer thread (a sqlite-worker ``SqliteWorker``) commits each batch.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import queue
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from . import maintenance, schema
from ._bridges import active_trace, plain_record
from ._listener import LISTENER_STOP, Listener
from ._process_link import LinkClosedError
from ._process_transport import ProcessTransport
from ._queue import RecordQueue
from ._records import PLAIN_RECORD_SIZE
from ._transport import (
    MAINTAIN_EVERY,
    WAL_CHECKPOINT_SIZE,
    ThreadTransport,
    Transport,
    WriterSpec,
    open_database,
    upkeep,
)
from ._writer import write_stderr
from .exceptions import SQLiteLoggingError
from .query import LogRow, LogStore, MetricRow, parse_age, read_rows

__all__ = ["CLOSE_TIMEOUT", "SQLiteHandler"]

_T = TypeVar("_T")

#: Seconds ``close()`` may spend writing what is still queued.
CLOSE_TIMEOUT = 25.0
#: Seconds without any progress after which ``flush(None)`` gives up on a stuck writer.
STALL_TIMEOUT = 35.0


#: Seconds after ``close()`` during which a record still sent to the closed handler
#: waits for a new handler of the same database (dictConfig opens it right after).
HANDOVER_WAIT = 1.0

#: Seconds fork() waits for a writer to finish its statement before going ahead.
FORK_PAUSE_TIMEOUT = 5.0

_MODULES = sys.modules
_OWN_LOGGER = __name__.partition(".")[0]
_SQLITE_WORKER_LOGGER = "SqliteWorker"
_DEFAULT_FORMATTER = logging.Formatter()
_OVERFLOW_MODES = ("block", "drop")
_WRITERS = ("thread", "process")
# What Handler.handle returns for a record that passed: the record from Python 3.12.
_FILTER_RETURNS_RECORD = sys.version_info >= (3, 12)

# Pipelines a forked child inherited: never used, and never closed, in the child (an
# SQLite connection must not be closed by a process that did not open it).
_INHERITED: list[object] = []


class SQLiteHandler(logging.Handler):
    """A logging handler that stores records in an SQLite database, off the calling thread.

    Args:
        database: path of the database file (created if missing), or ``":memory:"``
            for a private in-memory database (read it with ``store()``).
        level: the handler's level, as for any ``logging.Handler``.
        batch_size: most records written in one transaction. Larger batches are
            cheaper per record; the writer never waits to fill one.
        flush_interval: most seconds a record waits before its batch is committed.
        queue_size: most records held in memory waiting for the writer.
        overflow: what ``emit`` does when that queue is full: ``"block"`` waits for
            room (nothing is lost), ``"drop"`` drops the record and counts it.
        pragmas: PRAGMAs set on the write connection, over the defaults
            (``journal_mode=WAL``, ``synchronous=NORMAL``, ``cache_size=-64000``,
            ``busy_timeout=1000``, ``journal_size_limit`` 64 MB).
        retention: delete log and metric rows older than this (``"30d"``, ``"12h"``, or
            seconds); pruned by the writer in small batches, every few seconds.
        max_rows: keep only the newest ``max_rows`` log rows, pruned the same way.
        full_text: maintain the full-text index ``logs_fts`` over message and
            exception text (``LogStore.logs(search=...)``, Datasette's search box).
        writer: ``"thread"`` (the default) writes from a thread of this process;
            ``"process"`` from a writer process of its own, started from a fresh
            interpreter, which takes the work after the queue off this process and
            writes what it received even when this process dies. An in-memory
            database is always written by a thread (another process cannot reach it);
            where no writer process can be started, the handler says so once on
            stderr and writes in this process.

    Raises:
        SQLiteLoggingError: the database cannot be used (a directory, not an SQLite
            file, not writable, written by a newer schema); the message names the
            path and the cause.
        ValueError, TypeError: an argument is out of range or of the wrong type.
    """

    def __init__(
        self,
        database: str | os.PathLike[str] = "logs.db",
        level: int | str = logging.NOTSET,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        queue_size: int = 100_000,
        overflow: str = "block",
        pragmas: Mapping[str, object] | None = None,
        retention: str | float | None = None,
        max_rows: object = None,
        full_text: object = False,
        writer: str = "thread",
    ) -> None:
        # Until the pipeline runs, the handler is closed: a half-built one (a bad
        # argument raised) is still in logging's list, and shutdown must skip it.
        self._state = threading.Lock()  # guards _closed and the caller-side counters
        self._closed = True
        self._shut = False  # close() has stopped the threads and drained the queue
        self._dropped = 0
        self._handed_over = 0  # records emitted after close() passed to another handler
        self._close_done = threading.Event()  # set while no close() is under way
        self._close_done.set()
        self._closed_at = -math.inf  # when close() finished (monotonic)
        self._caller_failed = 0
        self._failed_seen = 0
        self._queue: RecordQueue | None = None
        self._transport: Transport | None = None
        self._listener: Listener | None = None
        self._keeper: Any = None
        self.database = ""
        super().__init__(level)
        _check_options(batch_size, flush_interval, queue_size, overflow)
        self._pragmas = schema.check_pragmas(pragmas)
        self.retention = None if retention is None else parse_age(retention)
        if max_rows is not None and (
            not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 0
        ):
            msg = f"max_rows must be a whole number of rows, not {max_rows!r}"
            raise ValueError(msg)
        self.max_rows: int | None = max_rows
        if not isinstance(full_text, bool):
            msg = f"full_text must be True or False, not {full_text!r}"
            raise TypeError(msg)
        self.full_text: bool = full_text
        if writer not in _WRITERS:
            msg = f"writer must be 'thread' or 'process', not {writer!r}"
            raise ValueError(msg)
        self.writer = writer
        self._hooks: list[Callable[[list[LogRow | MetricRow]], object]] = []
        self.batch_size = batch_size
        self.flush_interval = float(flush_interval)
        self.queue_size = queue_size
        self.overflow = overflow
        self._drop = overflow == "drop"
        self.database, self._uri = _resolve(database)
        self._keeper = self._open_and_check()
        self._start()
        self._paused: Transport | None = None
        _LATE.open(self)

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        return f"<{type(self).__name__} {self.database} ({level})>"

    # -- the calling thread -----------------------------------------------------------

    def handle(self, record: logging.LogRecord) -> Any:
        """Filter and emit ``record``, without taking the handler lock.

        ``emit`` is thread-safe on its own, so callers never queue up on a lock.
        Records of this package's and sqlite-worker's own loggers are ignored, so
        nothing the handler does can feed back into it.
        """
        name = record.name
        if name == _SQLITE_WORKER_LOGGER or (
            name.startswith(_OWN_LOGGER) and name.partition(".")[0] == _OWN_LOGGER
        ):
            return False
        if not self.filters:  # the common case, without Filterer.filter's loop
            self.emit(record)
            return record if _FILTER_RETURNS_RECORD else True
        rv: Any = self.filter(record)
        if isinstance(rv, logging.LogRecord):  # Python 3.12+: a filter may replace it
            record = rv
        if rv:
            self.emit(record)
        return rv

    def emit(self, record: logging.LogRecord) -> None:
        """Queue ``record`` for writing. Never raises; blocks only while the queue is full.

        The message is merged with its arguments now, and exception and stack text are
        rendered now (with this handler's formatter if it has one), so later changes
        to the arguments change nothing.
        """
        try:
            if len(record.__dict__) != PLAIN_RECORD_SIZE:  # extras: maybe structlog's, loguru's
                record = plain_record(record)
            message = record.getMessage()
            if record.exc_info or record.exc_text or record.stack_info:
                item = self._snapshot(record, message)
            else:
                item = (record, message, None, None)
            tracing = _MODULES.get("opentelemetry.trace")
            if tracing is not None:  # the span active now, in this thread
                item = (*item, active_trace(tracing))
        except RecursionError:  # as logging.StreamHandler.emit does (bpo-36272)
            raise
        except Exception:
            with self._state:
                self._caller_failed += 1
            self.handleError(record)
            return
        if self._closed:
            self._hand_over(item)
            return
        self._enqueue(item)

    def _enqueue(self, item: tuple[Any, ...]) -> None:
        """Put a snapshotted record on the queue, as ``overflow`` says when it is full."""
        records = self._queue
        if records is None:
            records = self._start_after_fork()
            if records is None:
                self._count_dropped()
                return
        try:
            records.put_nowait(item)
        except queue.Full:
            if self._drop:
                self._count_dropped()
            else:
                self._put_waiting(records, item)
        if self._shut:  # close() finished, maybe just before this put: pass it on
            self._hand_over_queued(records)

    def _hand_over_queued(self, records: RecordQueue) -> None:
        """Pass on what reached the queue after close() drained it for the last time."""
        for item in _drain(records):
            self._hand_over(item, wait=False)

    def _snapshot(self, record: logging.LogRecord, message: str) -> tuple[Any, ...]:
        """The queued item of a record with exception or stack information."""
        formatter = self.formatter or _DEFAULT_FORMATTER
        exc_text = record.exc_text
        if record.exc_info and not exc_text:
            exc_text = formatter.formatException(record.exc_info)
        stack_text = formatter.formatStack(record.stack_info) if record.stack_info else None
        if record.exc_info:
            # Don't keep the traceback's frames (and their locals) alive in the queue.
            record = copy.copy(record)
            record.exc_info = None
        return (record, message, exc_text or None, stack_text)

    def _put_waiting(self, records: RecordQueue, item: tuple[Any, ...]) -> None:
        while True:
            try:
                records.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._closed:
                    self._hand_over(item)
                    return

    def _hand_over(self, item: tuple[Any, ...], *, wait: bool = True) -> None:
        """A record that reached this handler after ``close()``: pass it on if it can be.

        ``dictConfig`` closes the old handlers before it detaches them, so threads
        that log meanwhile still reach this one. Such a record goes to another open
        handler of the same database in this process, and is counted there (here
        only in ``handed_over``). While logging is being reconfigured (its module
        lock is held, as dictConfig and fileConfig hold it) and with
        ``overflow="block"``, a logging thread (``wait``) first waits for ``close()``
        to finish writing, so late callers do not starve it, then up to
        ``HANDOVER_WAIT`` s for the new handler to open; records the closing thread
        found in the queue are kept for that handler. Anything else is dropped and
        counted, as the contract says.
        """
        configuring = _configuring()
        wait_until = None
        if wait and configuring == "elsewhere" and not self._drop:
            self._close_done.wait(CLOSE_TIMEOUT)
            wait_until = self._closed_at + HANDOVER_WAIT
        keep = not wait and configuring is not None and self.database != ":memory:"
        self._count_dropped()  # until another handler takes it
        _LATE.hand_over(self, item, wait_until, keep=keep)

    def _handed_over_one(self) -> None:
        """Another handler took a record counted as dropped here."""
        with self._state:
            self._dropped -= 1
            self._handed_over += 1

    def _count_dropped(self) -> None:
        with self._state:
            self._dropped += 1

    # -- any thread -----------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Commit every record emitted so far and wait until it is visible to readers.

        Returns True once every record emitted (in any thread) before the call is
        committed; False if ``timeout`` seconds passed first, or if a record emitted
        since the previous flush could not be written (see ``stats()``). With no
        timeout it waits as long as the writer makes progress, and gives up after
        ``STALL_TIMEOUT`` seconds without any, so ``logging.shutdown()`` never hangs.
        """
        records, writer, listener = self._queue, self._transport, self._listener
        if records is not None and writer is not None and listener is not None:  # noqa: SIM102
            if not self._closed and not self._round_trip(records, writer, listener, timeout):
                return False
        failed: int = self.stats()["failed"]
        ok = failed == self._failed_seen
        self._failed_seen = failed
        return ok

    def _round_trip(
        self,
        records: RecordQueue,
        writer: Transport,
        listener: Listener,
        timeout: float | None,
    ) -> bool:
        done = threading.Event()
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        try:
            # A full queue behind a stuck writer must not hang flush() either.
            records.put(done.set, timeout=STALL_TIMEOUT if timeout is None else max(0.0, timeout))
        except queue.Full:
            return False
        progress, since = writer.progress(), time.monotonic()
        while not done.wait(0.05):
            now = time.monotonic()
            if now >= deadline or not listener.is_alive():
                return False
            writer.check()
            if writer.progress() != progress:
                progress, since = writer.progress(), now
            elif timeout is None and now - since > STALL_TIMEOUT:
                return False
        return True

    def close(self) -> None:
        """Write what is queued (for at most ``CLOSE_TIMEOUT`` s), stop the threads.

        Idempotent. What could not be written is counted in ``failed`` and reported
        on stderr. Records emitted afterwards are dropped and counted.
        """
        with self._state:
            closing, self._closed = not self._closed, True
            if closing:
                self._close_done.clear()
        _LATE.close(self)  # from now on, late records go to another handler
        try:
            if closing and self._listener is not None and self._transport is not None:
                self._shut_down(self._listener, self._transport)
        finally:
            if self._keeper is not None:
                self._keeper.close()
                self._keeper = None
            _LIVE.discard(self)
            self._closed_at = time.monotonic()
            self._close_done.set()
            super().close()

    def _shut_down(self, listener: Listener, writer: Transport) -> None:
        deadline = time.monotonic() + CLOSE_TIMEOUT
        drained = listener.stop_by(deadline)
        unwritten = writer.close(deadline)
        if not drained:
            listener.stop_by(time.monotonic() + 1.0)  # the writer gave up: let it end
        # Set before the last drain: an emit whose put comes after it sees the flag
        # and passes its record on itself (see _enqueue).
        self._shut = True
        late = _drain(self._queue)
        if drained:  # emitted during close(), after the listener's last chunk
            for item in late:
                self._hand_over(item, wait=False)
        else:
            with self._state:
                self._caller_failed += len(late)
        if unwritten or (late and not drained):
            write_stderr(f"closed {self.database} with {unwritten + len(late)} record(s) unwritten")

    def stats(self) -> dict[str, Any]:
        """Counters of this handler; once ``flush()`` returns, written+dropped+failed == emitted.

        ``emitted`` counts every record handed to ``emit`` (dropped ones included),
        ``batches`` the committed transactions, ``queue_depth`` the records accepted
        but not yet written; ``db_size`` and ``wal_size`` are the files' bytes,
        ``last_commit`` the ``time.time()`` of the last commit (None before one) and
        ``writer_pid`` the writer process's id (None when writing in this process).
        """
        records, writer, listener = self._queue, self._transport, self._listener
        received = listener.received if listener is not None else 0
        waiting = records.qsize() if records is not None else 0
        written = writer.written if writer is not None else 0
        failed = (writer.failed if writer is not None else 0) + self._caller_failed
        emitted = received + waiting + self._dropped + self._caller_failed
        db_size, wal_size = (
            (0, 0) if self._keeper is not None else maintenance.file_sizes(self.database)
        )
        return {
            "emitted": emitted,
            "written": written,
            "dropped": self._dropped,
            "failed": failed,
            "handed_over": self._handed_over,
            "batches": writer.batches if writer is not None else 0,
            "queue_depth": max(0, emitted - written - self._dropped - failed),
            "writer_restarts": writer.restarts if writer is not None else 0,
            "db_size": db_size,
            "wal_size": wal_size,
            "last_commit": writer.last_commit if writer is not None else None,
            "writer_pid": getattr(writer, "pid", None),
        }

    def _call_writer(
        self,
        fn: Callable[..., _T],
        args: tuple[Any, ...] = (),
        timeout: float = 30.0,
    ) -> _T:
        """Run ``fn(connection, *args)`` on the writer once what was emitted is written.

        For maintenance that must go through the one write connection (the
        MultiThreadedLogger's ``worker.execute`` of a write statement, for instance).
        ``fn`` is a module-level function and ``args`` plain values: with
        ``writer="process"`` they are pickled to the writer process.
        """
        if self._transport is None and not self._closed:
            self._start_after_fork()
        writer = self._transport
        if writer is None or self._closed:
            msg = f"the handler of {self.database} is closed"
            raise SQLiteLoggingError(msg)
        self.flush(timeout)
        result: _T = writer.call(fn, args, timeout)
        return result

    def store(self) -> LogStore:
        """A LogStore on this database that flushes this handler before each query."""
        return LogStore(self._uri, before_query=self.flush)

    # -- threads, and fork ----------------------------------------------------------

    def _open_and_check(self) -> Any:
        """Open the database once, now, so a bad path fails here with a clear message."""
        try:
            conn = schema.retry_while_busy(self._open_writable, CLOSE_TIMEOUT)
        except Exception as exc:
            error = type(exc) if isinstance(exc, SQLiteLoggingError) else SQLiteLoggingError
            raise error(_unusable(self.database, exc)) from exc
        if self.database == ":memory:":
            return conn  # keeps the in-memory database alive for the handler's life
        conn.close()
        return None

    # -- writer side: hooks and maintenance (run on the writer thread) ---------------

    def add_hook(self, hook: Callable[[list[LogRow | MetricRow]], object]) -> None:
        """Call ``hook(rows)`` on the writer thread after each commit, with its rows.

        The rows are ``LogRow`` / ``MetricRow`` objects, as ``LogStore`` returns them.
        Keep hooks quick: the writer waits for them. An exception in a hook is
        reported on stderr (rate-limited) and contained; logging goes on.
        """
        self._hooks.append(hook)

    def remove_hook(self, hook: Callable[[list[LogRow | MetricRow]], object]) -> None:
        """Stop calling ``hook``."""
        self._hooks.remove(hook)

    def _run_hooks(self, conn: sqlite3.Connection, ids: list[tuple[str, int, int]]) -> None:
        hooks = list(self._hooks)
        if not hooks:
            return
        committed = read_rows(conn, ids)
        failures = []
        for hook in hooks:  # one failing hook does not keep the others from running
            try:
                hook(committed)
            except Exception as exc:
                failures.append(f"hook {hook!r} failed: {type(exc).__name__}: {exc}")
        if failures:  # reported, rate-limited, by the writer
            raise RuntimeError("; ".join(failures))

    def maintain(self, timeout: float = 60.0) -> None:
        """Run retention and WAL upkeep now (the writer does it every few seconds).

        Runs on the writer, after everything emitted before the call is written.
        """
        self._call_writer(upkeep, (self._spec(), True), timeout)

    def backup(self, destination: str | os.PathLike[str], timeout: float = 60.0) -> None:
        """Copy the database, with everything emitted before the call, to ``destination``.

        Uses SQLite's online backup API: one consistent snapshot, while logging goes on.
        """
        if not self.flush(timeout):
            msg = f"could not write what was queued to {self.database} before the backup"
            raise SQLiteLoggingError(msg)
        with self.store() as store:
            store.backup(destination)

    def _open_writable(self) -> sqlite3.Connection:
        conn = self._opener()
        try:
            schema.check_writable(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _opener(self) -> sqlite3.Connection:
        return open_database(self._spec())

    def _spec(self) -> WriterSpec:
        """What the writer needs, as this handler and the module's settings say now."""
        return WriterSpec(
            uri=self._uri,
            label=self.database,
            path=None if self._keeper is not None else self.database,
            pragmas=self._pragmas,
            full_text=self.full_text,
            batch_size=self.batch_size,
            flush_interval=self.flush_interval,
            retention=self.retention,
            max_rows=self.max_rows,
            maintain_every=MAINTAIN_EVERY,
            wal_checkpoint_size=WAL_CHECKPOINT_SIZE,
        )

    def _new_transport(self) -> Transport:
        """A writer process's transport if asked for and possible, else a thread's."""
        spec = self._spec()
        if self.writer == "process" and spec.path is not None:
            try:
                return ProcessTransport(spec, self._run_hooks)
            except LinkClosedError as exc:
                write_stderr(
                    f"cannot start a writer process for {self.database} ({exc}); "
                    "writing in this process instead"
                )
        return ThreadTransport(spec, self._run_hooks)

    def _start(self) -> None:
        records = RecordQueue(self.queue_size, sentinel=LISTENER_STOP)
        writer = self._new_transport()
        listener = Listener(records, writer)
        listener.start()
        self._queue, self._transport, self._listener = records, writer, listener

    def _pause_for_fork(self) -> None:
        """Before fork(): close the write connection while no statement runs.

        SQLite's docs forbid carrying SQLite state (open connections, held locks) into
        a child; with our connection closed, the child starts from nothing.
        """
        writer = self._transport
        if writer is not None and writer.pause(FORK_PAUSE_TIMEOUT):
            self._paused = writer

    def _resume_after_fork(self) -> None:
        """After fork(), in the parent: let the writer reopen its connection."""
        writer, self._paused = self._paused, None
        if writer is not None:
            writer.resume()

    def _at_fork_reinit(self) -> None:
        """In a forked child: drop the parent's pipeline; start a fresh one on first use.

        Called by ``logging`` in the child right after ``fork()``. The parent's queue
        and threads are not usable there (their locks may be held by threads that
        do not exist in the child), and the parent writes its own queued records.
        """
        super()._at_fork_reinit()  # type: ignore[misc]
        self._state = threading.Lock()
        if self._transport is not None:
            self._transport.abandon()  # the parent's writer process must see its EOF
        _INHERITED.append((self._queue, self._transport, self._listener, self._keeper))
        self._queue = self._transport = self._listener = None
        self._paused = None
        self._dropped = self._caller_failed = self._failed_seen = 0

    def _start_after_fork(self) -> RecordQueue | None:
        with self._state:
            if self._closed:
                return None
            if self._queue is None:
                self._start()
                _close_with_multiprocessing(self)
        return self._queue


def _configuring() -> str | None:
    """Who holds logging's module lock, as dictConfig and fileConfig do while they run.

    ``"here"`` (this thread), ``"elsewhere"``, or None when it is free.
    """
    lock = getattr(logging, "_lock", None)  # private, but the one both configs hold
    if lock is None or not hasattr(lock, "_is_owned"):
        return None
    if lock._is_owned():
        return "here"
    if not lock.acquire(blocking=False):
        return "elsewhere"
    lock.release()
    return None


def _check_options(
    batch_size: object, flush_interval: object, queue_size: object, overflow: object
) -> None:
    """Refuse bad constructor arguments with a message naming the argument."""
    for name, value in (("batch_size", batch_size), ("queue_size", queue_size)):
        if not isinstance(value, int) or isinstance(value, bool):
            msg = f"{name} must be an int, not {type(value).__name__}"
            raise TypeError(msg)
        if value < 1:
            msg = f"{name} must be at least 1, not {value}"
            raise ValueError(msg)
    if not isinstance(flush_interval, int | float) or isinstance(flush_interval, bool):
        msg = f"flush_interval must be a number of seconds, not {type(flush_interval).__name__}"
        raise TypeError(msg)
    if not (0 < flush_interval < math.inf):
        msg = f"flush_interval must be a positive number of seconds, not {flush_interval}"
        raise ValueError(msg)
    if overflow not in _OVERFLOW_MODES:
        msg = f"overflow must be 'block' or 'drop', not {overflow!r}"
        raise ValueError(msg)


def _resolve(database: object) -> tuple[str, str]:
    """The database's display name and its URI (a fresh memdb one for ``:memory:``)."""
    if not isinstance(database, str | os.PathLike):
        msg = f"database must be a path, not {type(database).__name__}"
        raise TypeError(msg)
    path = os.fspath(database)
    if isinstance(path, bytes):
        msg = "database must be a str path, not bytes"
        raise TypeError(msg)
    if path == ":memory:":
        return path, schema.memory_uri()
    if path.startswith("file:"):
        return path, path
    absolute = os.path.abspath(path)
    return absolute, schema.database_uri(absolute)


def _unusable(database: str, exc: Exception) -> str:
    cause = str(exc) or type(exc).__name__
    if os.path.isdir(database):
        cause = "it is a directory"
    elif "not a database" in cause:
        cause = "the file exists and is not an SQLite database (it was not modified)"
    return f"cannot use {database!r} as a log database: {cause}"


def _drain(records: RecordQueue | None) -> list[tuple[Any, ...]]:
    """Empty ``records``, returning the log records it held (flush markers are released)."""
    items: list[tuple[Any, ...]] = []
    while records is not None:
        try:
            chunk = records.get_nowait()
        except queue.Empty:
            break
        for item in chunk if isinstance(chunk, list) else ():
            if type(item) is tuple:
                items.append(item)
            else:
                item()  # a flush marker: release its waiter
    return items


def _close_with_multiprocessing(handler: SQLiteHandler) -> None:
    """In a multiprocessing child, close the handler before the child's ``os._exit``.

    multiprocessing runs its finalizers before ``os._exit``, but not ``atexit``
    (so not ``logging.shutdown``).
    """
    util = sys.modules.get("multiprocessing.util")
    process = sys.modules.get("multiprocessing.process")
    if util is None or process is None:
        return
    if getattr(process, "_parent_process", None) is None:
        return  # not a multiprocessing child
    util.Finalize(handler, handler.close, exitpriority=100)


class _LateRecords:
    """Open handlers by database, and records kept for the next handler to open.

    One lock orders the two events that race during a reconfiguration: a closed
    handler handing a record over, and a new handler of the same database opening.
    Either the record finds the new handler, or the new handler finds the record.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened = threading.Condition(self._lock)
        self._open: dict[str, list[SQLiteHandler]] = {}
        self._kept: dict[str, list[tuple[SQLiteHandler, tuple[Any, ...]]]] = {}

    def reinit_after_fork(self) -> None:
        """In a forked child: fresh locks (a parent thread may have held them at fork)."""
        self._lock = threading.Lock()
        self._opened = threading.Condition(self._lock)

    def open(self, handler: SQLiteHandler) -> None:
        """Mark ``handler`` open and give it the records kept for its database."""
        with self._lock:
            handler._closed = False
            self._open.setdefault(handler._uri, []).append(handler)
            kept = self._kept.pop(handler._uri, [])
            self._opened.notify_all()
        _LIVE.add(handler)
        for closed, item in kept:
            closed._handed_over_one()
            handler._enqueue(item)

    def close(self, handler: SQLiteHandler) -> None:
        """Forget ``handler`` (it takes no more records)."""
        with self._lock:
            handlers = self._open.get(handler._uri, [])
            if handler in handlers:
                handlers.remove(handler)
            if not handlers:
                self._open.pop(handler._uri, None)

    def hand_over(
        self,
        closed: SQLiteHandler,
        item: tuple[Any, ...],
        wait_until: float | None,
        *,
        keep: bool,
    ) -> None:
        """Pass ``item`` from ``closed`` to an open handler of its database, if any.

        Until the monotonic time ``wait_until``, waits for one to open. Without one,
        ``keep`` keeps the record (up to ``queue_size`` of them) for the next.
        """
        uri = closed._uri
        with self._lock:
            while not (handlers := self._open.get(uri)):
                left = -1.0 if wait_until is None else wait_until - time.monotonic()
                if left > 0:
                    self._opened.wait(left)
                    continue
                kept = self._kept.setdefault(uri, [])
                if keep and len(kept) < closed.queue_size:
                    kept.append((closed, item))
                return
            successor = handlers[-1]
        closed._handed_over_one()
        successor._enqueue(item)


_LATE = _LateRecords()

# Handlers whose threads may run, until close() has ended (paused around fork()); the
# _LATE registry holds only those still taking records, until close() begins.
_LIVE: weakref.WeakSet[SQLiteHandler] = weakref.WeakSet()


def _before_fork() -> None:
    for handler in list(_LIVE):
        handler._pause_for_fork()


def _after_fork_in_parent() -> None:
    for handler in list(_LIVE):
        handler._resume_after_fork()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_LATE.reinit_after_fork,
)
