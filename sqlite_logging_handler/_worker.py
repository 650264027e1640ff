"""The one place that touches sqlite-worker: a SqliteWorker made safe to write logs with.

sqlite-worker 0.0.4, as released, is not safe as a log writer used naively: its thread
starts before ``execute_init``/``max_count`` exist (it died with ``AttributeError`` in
a third of constructions), statement errors are only logged through ``logging`` (which
feeds a logging handler back into itself), any non-``sqlite3.Error`` kills the thread,
it keeps an Event per statement forever, commits only when its queue is momentarily
empty, and ``close()`` joins without a timeout. ``Worker`` keeps its queue and thread
and replaces the rest:

- the thread waits on a gate until construction has finished;
- jobs are callables that run whole transactions (asking ``connection()`` for the
  connection, so they can count their rows as failed if it cannot be opened);
  nothing is kept per job;
- every exception is contained and handed to ``on_error``; nothing is logged;
- the connection is opened (and re-opened after a fault) by the caller's ``opener``,
  with the caller's busy timeout and pragmas, in autocommit mode;
- the queue is waited on with a deadline supplied by ``idle_due`` so batches are
  committed on time even when no more rows arrive;
- stopping is bounded: ``stop(deadline)`` never joins without a timeout.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Callable

import sqlite_worker

from ._reentrancy import add_pipeline_thread
from .exceptions import SQLiteLoggingError

__all__ = ["Job", "Worker"]

Job = Callable[[], None]

_STOP = object()
_WAKE = object()


def _check_sqlite_worker() -> None:
    """Fail loudly at import if sqlite-worker no longer has what Worker builds on."""
    cls = sqlite_worker.SqliteWorker
    params = inspect.signature(cls.__init__).parameters
    needed = {"file_name", "max_queue_size", "execute_init", "max_count"}
    missing = sorted(needed - set(params))
    missing += [name for name in ("_run", "_process_queries") if not hasattr(cls, name)]
    if missing:
        msg = (
            f"sqlite-worker's SqliteWorker lacks {missing}; this package is built on "
            "the 0.0.4 API: install sqlite-worker==0.0.4"
        )
        raise SQLiteLoggingError(msg)


_check_sqlite_worker()


class Worker(sqlite_worker.SqliteWorker):  # type: ignore[misc]
    """The writer thread: the only code that uses the write connection.

    ``submit``, ``wake`` and ``stop`` are called from other threads; ``_run`` runs on
    the worker's own (daemon) thread, which owns the connection. Jobs run in order.

    Args:
        opener: opens the write connection (called on the worker thread).
        idle_due: returns the ``time.monotonic()`` at which ``on_idle`` must run, or
            None when nothing is waiting.
        on_idle: called on the worker thread when ``idle_due`` has passed.
        on_error: told of any exception a job or the thread itself let escape.
        max_jobs: how many jobs may wait in the worker's queue.
    """

    def __init__(
        self,
        opener: Callable[[], sqlite3.Connection],
        *,
        idle_due: Callable[[], float | None],
        on_idle: Job,
        on_error: Callable[[BaseException], None],
        max_jobs: int = 4,
        name: str = "sqlite-logging-writer",
    ) -> None:
        # sqlite-worker starts its thread inside __init__, before it has finished
        # assigning attributes: the gate holds our _run until we are done.
        self._gate = threading.Event()
        self._opener = opener
        self._idle_due = idle_due
        self._on_idle = on_idle
        self._on_error = on_error
        self._conn: sqlite3.Connection | None = None
        #: Held by whoever uses the connection; pause() takes it to quiesce I/O.
        self.io = threading.Lock()
        super().__init__("", max_queue_size=max_jobs, execute_init=(), max_count=1)
        self._thread.name = name
        self._gate.set()

    # -- called from other threads ------------------------------------------------

    def submit(self, job: Job, deadline: float = math.inf) -> bool:
        """Queue ``job``; wait for room until ``deadline``. False if it was not queued."""
        return self._put(job, deadline)

    def try_submit(self, job: Job) -> bool:
        """Queue ``job`` if there is room now; never waits."""
        try:
            self._sql_queue.put_nowait(job)
        except queue.Full:
            return False
        return True

    def wait_for_room(self, deadline: float) -> bool:
        """Wait until the queue has room; False at ``deadline`` or if the thread died."""
        jobs = self._sql_queue
        with jobs.not_full:
            while len(jobs.queue) >= jobs.maxsize:  # qsize() would take the held mutex
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                jobs.not_full.wait(min(left, 0.25))
        return True

    def wake(self) -> None:
        """Make the worker look at ``idle_due`` again (a batch has just opened)."""
        # A full queue means a busy worker: it re-reads idle_due after its job anyway.
        with contextlib.suppress(queue.Full):
            self._sql_queue.put_nowait(_WAKE)

    def stop(self, deadline: float) -> bool:
        """Finish queued jobs, close the connection and end the thread, by ``deadline``.

        Returns whether the thread ended in time. It never joins without a timeout.
        """
        self._close_event.set()  # ends the thread once the queue is empty, even
        self._put(_STOP, deadline)  # if the STOP marker found no room
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()

    def interrupt(self) -> None:
        """Abort the statement the worker is running now, if any (any thread may call it).

        SQLite's ``sqlite3_interrupt``: the statement fails with ``SQLITE_INTERRUPT``. A
        wait for another connection's lock (the busy timeout) is not cut short by it.
        """
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.interrupt()

    def is_alive(self) -> bool:
        """Whether the worker thread is running."""
        return bool(self._thread.is_alive())

    def drain(self) -> list[Job]:
        """Remove and return the jobs still queued (used once the thread is gone)."""
        jobs: list[Job] = []
        while True:
            try:
                item = self._sql_queue.get_nowait()
            except queue.Empty:
                return jobs
            if callable(item):
                jobs.append(item)

    def _put(self, item: object, deadline: float) -> bool:
        while True:
            wait = max(0.0, min(deadline - time.monotonic(), 0.25))
            try:
                self._sql_queue.put(item, timeout=wait)
                return True
            except queue.Full:
                if not self._thread.is_alive() or time.monotonic() >= deadline:
                    return False

    # -- the worker thread ----------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """The write connection, opened on first use (worker thread, holding ``io``)."""
        if self._conn is None:
            self._conn = self._opener()
        return self._conn

    def reset_connection(self) -> None:
        """Close the connection so the next use opens a fresh one (holding ``io``)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def pause(self, timeout: float) -> bool:
        """Wait until no job uses the connection, then close it and keep it closed.

        For ``fork()``: SQLite state must not be carried into a child process, so
        the connection is closed while no statement is running. False if a job kept
        it busy longer than ``timeout`` (the fork then goes ahead regardless).
        """
        if not self.io.acquire(timeout=timeout):
            return False
        self.reset_connection()
        return True

    def resume(self) -> None:
        """Let jobs use the database again after ``pause()`` returned True."""
        self.io.release()

    def _run(self) -> None:
        add_pipeline_thread(threading.current_thread())  # see _reentrancy
        self._gate.wait()
        try:
            self._process_queries()
        except BaseException as exc:  # never let the thread die silently
            self._on_error(exc)
        finally:
            self.reset_connection()

    def _process_queries(self) -> None:
        jobs = self._sql_queue
        while True:
            due = self._idle_due()
            timeout = None if due is None else max(0.0, due - time.monotonic())
            try:
                item = jobs.get(timeout=timeout)
            except queue.Empty:
                item = self._on_idle
            if item is _STOP:
                return
            if item is not _WAKE:
                self._run_job(item)
            if self._close_event.is_set() and jobs.empty():
                return

    def _run_job(self, job: Job) -> None:
        try:
            job()
        except Exception as exc:
            self._on_error(exc)
