"""SQLiteHandler: the stdlib adapter of the pipeline (emit, flush, close, stats).

The calling thread does only what cannot wait (``_caller``): it merges the message's
arguments, renders exception and stack text, and puts the record on a bounded queue. A
standard ``logging.handlers.QueueListener`` thread turns records into rows and groups
them into batches; the writer thread (a sqlite-worker ``SqliteWorker``) commits each
batch; with ``writer="process"`` that writer runs in a writer process of its own
(``_process_transport``), behind the same ``Transport`` interface. ``_pipeline``
starts the pipeline and handles fork; this module flushes, closes and counts it, and
offers the writer's side: hooks, upkeep, backup.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from . import maintenance, schema
from ._lifecycle import LATE, LIVE, close_with_multiprocessing, drain
from ._listener import Listener
from ._options import check_level, check_options, check_writer, resolve
from ._own_threads import (
    close_from_own_thread,
    flush_rounds,
    refuse_on_own_thread,
    wait_for_close,
)
from ._pipeline import Pipeline
from ._queue import RecordQueue
from ._reentrancy import add, on_pipeline_thread, value
from ._stderr import write_stderr
from ._transport import Transport
from .exceptions import SQLiteLoggingError
from .query import LogRow, LogStore, MetricRow, parse_age, read_rows, release_readers

__all__ = ["CLOSE_TIMEOUT", "SQLiteHandler"]

_T = TypeVar("_T")

#: Seconds ``close()`` may spend writing what is still queued.
CLOSE_TIMEOUT = 25.0
#: Seconds without any progress after which ``flush(None)`` gives up on a stuck writer.
STALL_TIMEOUT = 35.0


class SQLiteHandler(Pipeline):
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
            exception text (``LogStore.logs(search=...)`` and ``match=...``,
            Datasette's search box).
        writer: ``"thread"`` (the default) writes from a thread of this process;
            ``"process"`` from a writer process of its own, started from a fresh
            interpreter: the work after the queue leaves this process, and what the
            writer process received is written even when this process dies. An
            in-memory database is always written by a thread (another process cannot
            reach it); where no writer process can be started, the handler says so
            once on stderr and writes in this process.

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
        # Everything that can refuse an argument runs before anything is opened or
        # registered: a bad option leaves nothing behind (not even in logging's list).
        check_level(level)
        check_options(batch_size, flush_interval, queue_size, overflow, max_rows, full_text)
        check_writer(writer)
        self.writer = writer
        self._pragmas = schema.check_pragmas(pragmas)
        self.retention = None if retention is None else parse_age(retention)
        self.max_rows: int | None = cast("int | None", max_rows)
        self.full_text: bool = bool(full_text)
        self.database, self._uri = resolve(database)
        self.batch_size = batch_size
        self.flush_interval = float(flush_interval)
        self.queue_size = queue_size
        self.overflow = overflow
        self._drop = overflow == "drop"
        self._init_state()
        self._keeper: Any = self._open_and_check()
        try:
            self._start()
            super().__init__(level)
            self._closed = True  # until LATE.open: logging.Handler set it False
            LATE.open(self)
            self._finalizer: Any = close_with_multiprocessing(self)
        except BaseException:
            self._discard()
            raise

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        return f"<{type(self).__name__} {self.database} ({level})>"

    # -- any thread -----------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Commit every record emitted so far and wait until it is visible to readers.

        Returns True once every record emitted (in any thread) before the call is
        committed; False if ``timeout`` seconds passed first, or if a record emitted
        since the previous flush could not be written (see ``stats()``). With no
        timeout it waits as long as the writer makes progress, and gives up after
        ``STALL_TIMEOUT`` seconds without any, so ``logging.shutdown()`` never hangs.
        Called on the handler's own threads (from a hook, say), it cannot wait for
        itself: it returns False at once.
        """
        if on_pipeline_thread():
            return False  # a hook or finalizer on the writer or listener: see _own_threads
        if self._closed and not wait_for_close(self, timeout):
            return False  # a close() under way on another thread (see _own_threads)
        records, writer, listener = self._queue, self._transport, self._listener
        started = time.monotonic()
        if records is not None and writer is not None and listener is not None:  # noqa: SIM102
            if not self._closed and not flush_rounds(
                functools.partial(self._round_trip, records, writer, listener),
                records.snapshot,
                lambda: listener.own_received,
                timeout,
            ):
                # A close() that began meanwhile (a hook's, say) ended the pipeline under
                # the rounds: what they waited for is then close()'s to write; wait for it.
                left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
                if not _is_closed(self) or not wait_for_close(self, left):
                    return False
        self._report_lost()
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
        # The marker goes past the bound: flush() never waits for room (a full queue
        # behind a stuck writer, or a caller it interrupted waiting for room).
        records.put_nowait_unbounded(done.set)
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
        on stderr. Records emitted afterwards go to another open handler of the same
        database if there is one (a reconfiguration); else, while the process ends,
        they are written directly (or reported on stderr), and before that they are
        dropped and counted (see ``_pass_on``). Called on the handler's own threads (a
        hook, a finalizer), it hands the closing to a thread of its own and returns;
        called while another thread closes, it waits for that close to end.
        """
        if close_from_own_thread(self):
            return
        with self._state:
            closing, self._closed = not self._closed, True
            if closing:
                self._close_done.clear()
                self._closer = threading.get_ident()
        if not closing:
            wait_for_close(self)
        LATE.close(self)  # from now on, late records go to another handler
        try:
            if closing and self._listener is not None and self._transport is not None:
                self._shut_down(self._listener, self._transport)
        finally:
            if self._keeper is not None:
                self._keeper.close()
                self._keeper = None
            LIVE.discard(self)
            finalizer, self._finalizer = self._finalizer, None
            if finalizer is not None:
                finalizer.cancel()  # closed: multiprocessing need not keep it alive
            self._closed_at = time.monotonic()
            if closing:
                self._closer = None
                self._close_done.set()
            self._report_lost()
            super().close()

    def _shut_down(self, listener: Listener, writer: Transport) -> None:
        deadline = time.monotonic() + CLOSE_TIMEOUT
        failed_before = self._failed()
        writer.closing(deadline)  # a writer process ends by it, and says what it left
        drained = listener.stop_by(deadline)
        release_readers(self.database)  # so the writer's connection closes last: no WAL left
        writer.close(deadline)
        if not drained:
            listener.stop_by(time.monotonic() + 1.0)  # the writer gave up: let it end
        # Set before the last drain: an emit whose put comes after it sees the flag
        # and passes its record on itself (see _enqueue).
        self._shut = True
        late = drain(self._queue, listener)
        if self._queue is not None:
            self._queue.release_waiters()  # callers waiting for room: it is closed
        if drained:  # emitted during close(), after the listener's last chunk
            self._pass_on(late, wait=False, closing=True)
        else:
            add(self._caller_failed, len(late))
        line = writer.close_report.line(self._failed(), failed_before)
        if line is not None:  # one line: the total, as stats() counts it, and why
            write_stderr(line)

    def _failed(self) -> int:
        """``stats()["failed"]``, without the rest of ``stats()``."""
        writer = self._transport
        not_queued = value(self._caller_failed) + self._emit_lost + value(self._late_failed)
        return (writer.failed if writer is not None else 0) + not_queued

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
        late_written = value(self._late_written)
        written = (writer.written if writer is not None else 0) + late_written
        not_queued = value(self._caller_failed) + self._emit_lost + value(self._late_failed)
        failed = self._failed()
        dropped = value(self._dropped) - value(self._kept_taken)
        emitted = received + waiting + dropped + not_queued + late_written
        db_size, wal_size = (
            (0, 0) if self._keeper is not None else maintenance.file_sizes(self.database)
        )
        return {
            "emitted": emitted,
            "written": written,
            "dropped": dropped,
            "failed": failed,
            "handed_over": value(self._handed_over),
            "batches": writer.batches if writer is not None else 0,
            "queue_depth": max(0, emitted - written - dropped - failed),
            "writer_restarts": writer.restarts if writer is not None else 0,
            "db_size": db_size,
            "wal_size": wal_size,
            "last_commit": writer.last_commit if writer is not None else None,
            "writer_pid": getattr(writer, "pid", None),
        }

    def _call_writer(
        self, fn: Callable[..., _T], args: tuple[Any, ...] = (), timeout: float = 30.0
    ) -> _T:
        """Run ``fn(connection, *args)`` on the writer once what was emitted is written.

        For maintenance that must go through the one write connection (the
        MultiThreadedLogger's ``worker.execute`` of a write statement, for instance).
        ``fn`` is a module-level function and ``args`` plain values: with
        ``writer="process"`` they are pickled to the writer process.
        """
        refuse_on_own_thread(self, "a statement on the write connection")
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

    # -- writer side: hooks and maintenance (run on the writer thread) ---------------

    def add_hook(self, hook: Callable[[list[LogRow | MetricRow]], object]) -> None:
        """Call ``hook(rows)`` in this process after each commit, with its rows.

        The rows are ``LogRow`` / ``MetricRow`` objects, as ``LogStore`` returns them.
        Hooks run on the writer thread, or with ``writer="process"`` on the thread
        reading the writer process's answers (the rows read back through a read-only
        connection). Keep hooks quick: the writer waits for them. An exception in a hook is
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
        """Run retention and space and WAL upkeep now, all of it (the writer does it by the clock).

        Runs on the writer thread, after everything emitted before the call is written:
        rows past ``retention``/``max_rows`` are deleted, their pages given back to the
        file system and the WAL checkpointed. Raises ``SQLiteLoggingError`` if the
        handler is closed, or when called on its own threads (in a hook, say).
        """
        refuse_on_own_thread(self, "maintain()")
        writer = self._transport
        if writer is None or self._closed:
            msg = f"the handler of {self.database} is closed"
            raise SQLiteLoggingError(msg)
        self.flush(timeout)
        writer.maintain_now(timeout)

    def backup(self, destination: str | os.PathLike[str], timeout: float = 60.0) -> None:
        """Copy the database, with everything emitted before the call, to ``destination``.

        Uses SQLite's ``VACUUM INTO``: one consistent snapshot, while logging goes on.
        Raises ``SQLiteLoggingError`` when called on the handler's own threads (in a
        hook, say): it would wait for the writer it runs on.
        """
        refuse_on_own_thread(self, "backup()")
        if not self.flush(timeout):
            msg = f"could not write what was queued to {self.database} before the backup"
            raise SQLiteLoggingError(msg)
        with self.store() as store:
            store.backup(destination)


def _is_closed(handler: SQLiteHandler) -> bool:
    """Whether ``close()`` was called on ``handler`` (read again, after a wait)."""
    return handler._closed
