"""The pipeline's lifecycle: what starts, forks and undoes a handler's queue and writer.

``Pipeline`` is the middle layer of ``SQLiteHandler`` (between ``_caller.CallerSide``,
the calling thread's side, and ``handler.SQLiteHandler``, the stdlib adapter): it opens
and checks the database at construction, picks the writer's transport (a writer thread,
or a writer process with ``writer="process"``, ``_process_transport``), starts the
listener, undoes a construction that failed half-way, and handles ``fork()``: the
writer pauses before it, and a forked child drops the parent's pipeline (letting go of
the parent's writer process) and starts its own with its first record.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from . import _access, schema
from ._caller import CallerSide
from ._lifecycle import INHERITED, LATE, LIVE
from ._listener import LISTENER_STOP, Listener
from ._process_link import LinkClosedError
from ._process_transport import ProcessTransport
from ._queue import RecordQueue
from ._reentrancy import tally
from ._rows import LogRow, MetricRow
from ._stderr import write_stderr
from ._transport import ThreadTransport, Transport, WriterSpec, open_database
from .exceptions import SQLiteLoggingError

if TYPE_CHECKING:
    from .handler import SQLiteHandler

__all__ = ["FORK_PAUSE_TIMEOUT", "OPEN_TIMEOUT", "Pipeline"]

#: Seconds the constructor waits out another connection's lock on the database.
OPEN_TIMEOUT = 25.0
#: Seconds fork() waits for a writer to finish its statement before going ahead.
FORK_PAUSE_TIMEOUT = 5.0
#: Records the listener takes from the queue at most per message to a writer process
#: (about 650 KB pickled, within the pipe). Each message ends with an ``os.write``,
#: which hands the GIL to the application's threads, and the listener then waits out
#: a switch interval (5 ms) to get it back: with 1,000 a message (the writer thread's
#: chunk) it fell behind one thread logging flat out; with 5,000 it keeps up.
LISTENER_CHUNK = 5000


class Pipeline(CallerSide):
    """Starting, undoing and forking a handler's pipeline (see the module docstring).

    The handler sets the options this reads before ``_init_state``/``_start``, and
    provides ``_run_hooks`` (called after each commit).
    """

    writer: str
    retention: float | None
    max_rows: int | None
    full_text: bool
    batch_size: int
    flush_interval: float
    _pragmas: Mapping[str, object]
    _keeper: Any
    _hooks: list[Callable[[list[LogRow | MetricRow]], object]]
    _paused: Transport | None
    _run_hooks: Callable[[sqlite3.Connection, list[tuple[str, int, int]]], None]

    def _init_state(self) -> None:
        """The handler's state before its pipeline starts (it is closed until then)."""
        self._reset_state()
        self._closed = True
        self._shut = False  # close() has stopped the threads and drained the queue
        self._close_done = threading.Event()  # set while no close() is under way
        self._close_done.set()
        self._closer: int | None = None  # the thread running close(), while it does
        self._closed_at = -math.inf  # when close() finished (monotonic)
        self._keeper = None
        self._hooks: list[Callable[[list[LogRow | MetricRow]], object]] = []

    def _reset_state(self) -> None:
        """Counters, locks and the pipeline's parts: fresh at construction and after fork."""
        # Counters the caller's path adds to are tallies: a signal handler or a
        # finalizer may count while its own thread is inside emit (see _reentrancy).
        self._dropped = tally()  # dropped, including those kept for another handler
        self._kept_taken = tally()  # kept records another handler took after all
        self._handed_over = tally()  # records emitted after close() passed to another
        self._caller_failed = tally()  # left in the queue by a close() that gave up
        # Records emit could not even queue a stand-in for: counted with "+= 1", which
        # calls nothing, since they happen at the recursion limit, where a call raises.
        self._emit_lost = 0
        self._lost_reported = 0
        self._late_written = tally()  # reached a closed handler, written directly
        self._late_failed = tally()
        self._state = threading.RLock()  # guards _closed and starting after fork
        self._failed_seen = 0
        self._dropped_said = -math.inf  # when the last drop was said on stderr
        self._queue: RecordQueue | None = None
        self._transport: Transport | None = None
        self._listener: Listener | None = None
        self._paused: Transport | None = None
        self._finalizer = None  # closes the handler in a multiprocessing child
        self._starters: set[int] = set()  # threads starting the pipeline after fork
        self._early: list[tuple[Any, ...]] = []  # records its own start logged meanwhile

    def _discard(self) -> None:
        """Undo a construction that failed half-way: stop, close and unregister all."""
        deadline = time.monotonic() + 5.0
        listener, writer, keeper = self._listener, self._transport, self._keeper
        self._queue = self._listener = self._transport = self._keeper = None
        if listener is not None:
            listener.stop_by(deadline)
        if writer is not None:
            writer.close(deadline)
        if keeper is not None:
            keeper.close()
        handler = cast("SQLiteHandler", self)  # the only subclass
        LATE.close(handler)
        LIVE.discard(handler)
        lock = getattr(logging, "_lock", None)
        if lock is not None:
            with lock:
                handlers = getattr(logging, "_handlerList", [])
                handlers[:] = [ref for ref in handlers if ref() is not self]
        forked = getattr(logging, "_at_fork_reinit_lock_weakset", None)
        if forked is not None:
            forked.discard(self)

    def _open_and_check(self) -> Any:
        """Open the database once, now, so a bad path fails here with a clear message."""
        try:
            conn = schema.retry_while_busy(self._open_writable, OPEN_TIMEOUT)
        except Exception as exc:
            error = type(exc) if isinstance(exc, SQLiteLoggingError) else SQLiteLoggingError
            raise error(_access.unusable(self.database, exc)) from exc
        if self.database == ":memory:":
            return conn  # keeps the in-memory database alive for the handler's life
        conn.close()
        return None

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
        """What the writer needs, as this handler says."""
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

    def _start(self) -> RecordQueue:
        """Start the listener and the writer; returns the queue they drain."""
        writer = self._new_transport()
        if isinstance(writer, ProcessTransport):  # see LISTENER_CHUNK
            records = RecordQueue(self.queue_size, LISTENER_STOP, chunk=LISTENER_CHUNK)
        else:
            records = RecordQueue(self.queue_size, sentinel=LISTENER_STOP)
        try:
            listener = Listener(records, writer)
            listener.start()
        except BaseException:  # no thread left behind (see _discard)
            writer.close(time.monotonic() + 5.0)
            raise
        self._queue, self._transport, self._listener = records, writer, listener
        return records

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
        if self._transport is not None:
            self._transport.abandon()  # the parent's writer process must see its EOF
        INHERITED.append((self._queue, self._transport, self._listener, self._keeper))
        self._reset_state()
