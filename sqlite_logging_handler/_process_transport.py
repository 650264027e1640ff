"""The process transport: the batching writer in a writer process of its own.

The listener turns each chunk of records into entries (``_wire.capture``), numbers
their rows per table, and writes them in one framed message to the writer process
(``_process_link``). Every message is kept until the writer process has settled it:
rows until it reports them committed (or counted as failed), flush markers and calls
until they are answered. When the writer process dies, a new one is started (with a
growing pause, ``RESTART_PAUSES``), everything kept is sent to it again, and it skips
the rows its predecessor had committed (``_sessions``): nothing is stored twice. A
message whose writer processes keep dying without settling anything is given up after
``MAX_DEATHS`` deaths and its rows counted as failed. Where no writer process can be
started, everything kept goes to a writer thread in this process instead
(``ThreadTransport``), after one line on stderr.

Hooks run here, on the thread reading the writer process's answers, after each
commit, with the committed rows read through a read-only connection.
"""

from __future__ import annotations

import itertools
import math
import pickle
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from . import _sessions, schema
from ._process_link import LinkClosedError, WriterLink
from ._records import Row
from ._stderr import Reporter, write_line, write_stderr
from ._transport import Item, ThreadTransport, WriterSpec
from ._wire import (
    CALL,
    FLUSH,
    FLUSHED,
    HELLO,
    READY,
    REPORT,
    RESULT,
    ROWS,
    SETTLED,
    any_frame,
    capture,
    finish_entries,
    frame,
    rows_message,
)
from ._writer import AfterCommit
from .exceptions import SQLiteLoggingError

__all__ = ["MAX_DEATHS", "MAX_UNREADY", "RESTART_PAUSES", "ProcessTransport"]

#: Seconds to wait before each restart of a writer process that died (the last
#: repeats): a process killed for its memory gets a moment before the next one.
RESTART_PAUSES = (0.0, 0.1, 0.5, 2.0)
#: Deaths of writer processes that were ready (had been sent what is kept), without
#: anything settled in between, after which the oldest unsettled message is given up
#: (its rows counted as failed): a message that kills every writer process must not
#: be sent again for ever.
MAX_DEATHS = 3
#: Writer processes in a row that die before they are ready (killed as soon as they
#: start, say) after which the handler writes in this process instead.
MAX_UNREADY = 5
#: Seconds a call that was waiting for a writer process may take on the writer thread.
FALLBACK_CALL_TIMEOUT = 60.0


@dataclass
class _Message:
    """A framed message kept until the writer process has settled it."""

    kind: int
    data: bytes
    first_log: int = 1  # ROWS: the numbers of its rows, per table
    logs: int = 0
    first_metric: int = 1
    metrics: int = 0
    token: int = 0  # FLUSH, CALL: the answer it waits for
    done: bool = False
    sent_to: object = None  # the link it was last written to

    @property
    def rows(self) -> int:
        return self.logs + self.metrics

    def settled_by(self, last_log: int, last_metric: int) -> bool:
        """Whether every row of it is numbered at most (last_log, last_metric)."""
        return (
            self.first_log + self.logs - 1 <= last_log
            and self.first_metric + self.metrics - 1 <= last_metric
        )

    def rows_up_to(self, last_log: int, last_metric: int) -> int:
        """How many of its rows are numbered at most (last_log, last_metric)."""
        return _up_to(self.first_log, self.logs, last_log) + _up_to(
            self.first_metric, self.metrics, last_metric
        )


def _up_to(first: int, count: int, last: int) -> int:
    return max(0, min(count, last - first + 1))


@dataclass
class _Counts:
    """What one writer process reported (cumulative), or the sum over dead ones."""

    written: int = 0
    failed: int = 0
    batches: int = 0
    restarts: int = 0

    def add(self, other: _Counts) -> None:
        self.written += other.written
        self.failed += other.failed
        self.batches += other.batches
        self.restarts += other.restarts


@dataclass
class _Call:
    done: threading.Event = field(default_factory=threading.Event)
    outcome: tuple[bool, Any] = (False, None)


class ProcessTransport:
    """Sends records to a writer process; see the module docstring.

    Args:
        spec: the writer the writer process builds.
        after_commit: the handler's hooks, called as ``after_commit(connection,
            id_ranges)`` on the answer-reading thread after each commit (a read-only
            connection to the database).

    Raises:
        LinkClosedError: no writer process could be started (the caller writes in-process).
    """

    def __init__(self, spec: WriterSpec, after_commit: AfterCommit | None = None) -> None:
        self._spec = replace(spec, tuning=WriterSpec.current_tuning())
        self._after_commit = after_commit
        self._session = uuid.uuid4().hex
        self._lock = threading.Lock()  # kept messages, counters, waiters
        self._send = threading.RLock()  # one sender at a time; held across restarts
        self._kept: deque[_Message] = deque()
        self._by_token: dict[int, _Message] = {}
        self._flushes: dict[int, Callable[[], None]] = {}
        self._calls: dict[int, _Call] = {}
        self._tokens = itertools.count(1)
        self._next_log = self._next_metric = 1
        self._settled = (0, 0)
        self._dead = _Counts()  # counts of writer processes that ended
        self._live = _Counts()  # counts the current one reported
        self.last_commit: float | None = None
        self._failed_here = 0  # records that never reached a writer process
        self._deaths = 0  # deaths of ready writer processes since something was settled
        self._unready = 0  # deaths of writer processes not yet ready, since one was
        self._closing = False
        self._stopped = False  # close() ended it all: nothing is restarted or sent
        self._abort_at = math.inf  # close(): writes give up at this time.monotonic()
        self._restarting: WriterLink | None = None
        self._ever_ready = False
        self._committed = (0, 0)  # what writer processes had committed, at a fallback
        self._thread: ThreadTransport | None = None  # after a fallback
        label = spec.label
        self._reporter = Reporter(
            lambda count, cause: f"{count} record(s) could not be written to {label}: {cause}"
        )
        self._hooks_lock = threading.Lock()
        self._hooks_conn: sqlite3.Connection | None = None
        self._link = self._start(resuming=False)

    # -- counters ---------------------------------------------------------------------

    def _total(self, name: str) -> int:
        value: int = getattr(self._dead, name) + getattr(self._live, name)
        thread = self._thread
        return value + (getattr(thread, name) if thread is not None else 0)

    @property
    def written(self) -> int:
        """Rows committed, by every writer process of this pipeline."""
        return self._total("written")

    @property
    def failed(self) -> int:
        """Rows and records that could not be written."""
        return self._total("failed") + self._failed_here

    @property
    def batches(self) -> int:
        """Transactions committed."""
        return self._total("batches")

    @property
    def restarts(self) -> int:
        """Writer processes started after one died, and worker threads replaced in them."""
        return self._total("restarts")

    @property
    def pid(self) -> int | None:
        """The writer process's id (None while there is none, or writing in this process)."""
        link = self._link
        return None if self._thread is not None or not link.alive() else link.pid

    def progress(self) -> int:
        """A number that changes whenever something is settled."""
        return self.written + self.failed + self.batches

    def record_failure(self, cause: str) -> None:
        """Count a record that could not be converted (reported like the writer's)."""
        with self._lock:
            self._failed_here += 1
        self._reporter.report(1, cause)

    # -- the listener thread ----------------------------------------------------------

    def send(self, items: list[Item]) -> None:
        """Capture these records and send them to the writer process in one message."""
        thread = self._thread
        if thread is not None:
            thread.send(items)
            return
        logs, metrics, failures = capture(items)
        for cause in failures:
            self.record_failure(cause)
        if not logs and not metrics:
            return
        first_log, first_metric = self._next_log, self._next_metric
        self._next_log += len(logs)
        self._next_metric += len(metrics)
        data = rows_message(first_log, first_metric, logs, metrics)
        message = _Message(ROWS, data, first_log, len(logs), first_metric, len(metrics))
        self._push(message)

    def flush(self, done: Callable[[], None]) -> None:
        """Send a flush marker; ``done()`` runs once everything before it is settled."""
        thread = self._thread
        if thread is not None:
            thread.flush(done)
            return
        token = next(self._tokens)
        with self._lock:
            self._flushes[token] = done
        self._push(_Message(FLUSH, frame((FLUSH, token)), token=token))

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> Any:
        """``fn(connection, *args)`` in the writer process; its result, or its exception.

        ``fn`` must be a module-level function (it is pickled by reference).

        Raises:
            TimeoutError: no answer within ``timeout`` seconds.
            SQLiteLoggingError: the writer process died while it ran.
        """
        thread = self._thread
        if thread is not None:
            return thread.call(fn, args, timeout)
        return self._request(fn, args, timeout)

    def maintain_now(self, timeout: float) -> None:
        """The whole upkeep in the writer process, after what was sent."""
        thread = self._thread
        if thread is not None:
            thread.maintain_now(timeout)
        else:
            self._request(None, (), timeout)

    def _request(self, fn: Callable[..., Any] | None, args: tuple[Any, ...], timeout: float) -> Any:
        """A ``CALL`` and its answer (``fn`` None: the upkeep)."""
        token = next(self._tokens)
        data = any_frame((CALL, token, fn, args))
        waiter = _Call()
        with self._lock:
            self._calls[token] = waiter
        self._push(_Message(CALL, data, token=token))
        if not waiter.done.wait(timeout):
            msg = f"the writer of {self._spec.label} did not run the statement within {timeout} s"
            raise TimeoutError(msg)
        ok, value = waiter.outcome
        if not ok:
            raise value
        return value

    def _push(self, message: _Message) -> None:
        with self._lock:
            self._kept.append(message)
            if message.token:
                self._by_token[message.token] = message
        if not self._send.acquire(timeout=_left(self._abort_at)):
            return  # closing, and the sender is stuck: close() counts what is kept
        try:
            thread = self._thread
            if thread is not None:  # fell back meanwhile: what is kept goes there
                self._forward_kept(thread)
                return
            link = self._link
            if message.sent_to is not link:  # else a restart has sent it already
                message.sent_to = link
                link.write(message.data, self._abort_at)
        except LinkClosedError:
            if not self._link.closed:  # it died (input we closed ourselves is no death)
                self._restart(self._link)
        except TimeoutError:
            pass  # close() gave up on the writer process: it counts what is kept
        finally:
            self._send.release()

    # -- answers (the link's reading thread) ----------------------------------------

    def _on_message(self, link: WriterLink, message: tuple[Any, ...]) -> None:
        if link is not self._link:
            return
        kind = message[0]
        if kind == SETTLED:
            self._on_settled(message)
        elif kind == FLUSHED:
            self._answered(message[1])
        elif kind == RESULT:
            self._answered(message[1], (message[2], message[3]))
        elif kind == REPORT:
            write_line(message[1])
        elif kind == READY:
            self._ever_ready = True
            self._unready = 0
            link.mark_ready()

    def _on_settled(self, message: tuple[Any, ...]) -> None:
        _, logs, metrics, written, failed, batches, last_commit, ids, restarts = message
        with self._lock:
            live = self._live
            live.written = max(live.written, written)
            live.failed = max(live.failed, failed)
            live.batches = max(live.batches, batches)
            live.restarts = max(live.restarts, restarts)
            if last_commit is not None:
                self.last_commit = max(self.last_commit or 0.0, last_commit)
            settled = (max(self._settled[0], logs), max(self._settled[1], metrics))
            if settled != self._settled:
                self._deaths = self._unready = 0
            self._settled = settled
            for kept in self._kept:
                if kept.kind == ROWS and kept.settled_by(logs, metrics):
                    kept.done = True
            self._drop_done()
        if ids and self._after_commit is not None:
            self._run_hooks(ids)

    def _answered(self, token: int, outcome: tuple[bool, Any] | None = None) -> None:
        with self._lock:
            kept = self._by_token.pop(token, None)
            if kept is not None:
                kept.done = True
            self._drop_done()
            flushed = self._flushes.pop(token, None)
            waiter = self._calls.pop(token, None)
        if flushed is not None:
            flushed()
        if waiter is not None and outcome is not None:
            waiter.outcome = outcome
            waiter.done.set()

    def _drop_done(self) -> None:
        kept = self._kept
        while kept and kept[0].done:
            kept.popleft()

    def _run_hooks(self, ids: list[tuple[str, int, int]]) -> None:
        assert self._after_commit is not None
        with self._hooks_lock:
            try:
                if self._hooks_conn is None:
                    uri = schema.database_uri(self._spec.uri, readonly=True)
                    self._hooks_conn = schema.connect(uri)
                self._after_commit(self._hooks_conn, ids)
            except Exception as exc:
                write_stderr(f"error after writing to {self._spec.label}: {exc}")

    def _on_exit(self, link: WriterLink) -> None:
        while link is self._link and self._restarting is not link and not self._stopped:
            if self._closing_done(link):
                return
            if self._send.acquire(timeout=0.1):  # else whoever holds it may restart it
                try:
                    self._restart(link)
                finally:
                    self._send.release()
                return

    def _closing_done(self, link: WriterLink) -> bool:
        """Whether ``link`` ended as asked, with everything settled."""
        if not self._closing:
            return False
        with self._lock:
            return not self._kept

    # -- starting, restarting, falling back -------------------------------------------

    def _start(self, *, resuming: bool) -> WriterLink:
        # The numbers settled so far: a new writer process counts, among the rows it
        # skips as committed already, only those beyond (the dead one reported them).
        hello = any_frame((HELLO, self._spec, self._session, resuming, self._settled))
        return WriterLink(hello, self._on_message, self._on_exit)

    def _restart(self, dead: WriterLink) -> None:
        """A writer process died: start another and send it what is kept (holding _send)."""
        if dead is not self._link or self._thread is not None or self._stopped:
            return  # someone else restarted it already, or close() gave up on it
        self._restarting = dead
        if not dead.join(time.monotonic() + 1.0):  # its last answers are read first
            dead.kill()
            dead.join(time.monotonic() + 5.0)
        if dead.failed_to_start():
            self._fall_back(dead.exit_cause())
            return
        with self._lock:
            self._dead.add(self._live)
            self._dead.restarts += 1
            self._live = _Counts()
            if dead.ready.is_set():  # it had what is kept, and settled none of it
                self._deaths += 1
            else:
                self._unready += 1
            deaths, unready = self._deaths, self._unready
        if unready >= MAX_UNREADY:
            self._fall_back(f"{unready} writer processes in a row died before they were ready")
            return
        if deaths >= MAX_DEATHS:
            self._give_up_oldest(deaths)
        time.sleep(RESTART_PAUSES[min(deaths + unready, len(RESTART_PAUSES)) - 1])
        write_stderr(f"the writer process of {self._spec.label} died; starting another")
        try:
            link = self._start(resuming=True)
        except LinkClosedError as exc:
            self._fall_back(str(exc))
            return
        self._link = link
        self._resend(link)

    def _resend(self, link: WriterLink) -> None:
        with self._lock:
            kept = list(self._kept)
        calls = [message for message in kept if message.kind == CALL]
        for message in calls:  # it may or may not have run: never run it twice
            cause = SQLiteLoggingError("the writer process died while running the statement")
            self._answered(message.token, (False, cause))
        try:
            for message in kept:
                if message.kind != CALL:
                    message.sent_to = link
                    link.write(message.data)
            if self._closing:
                link.close_input()
        except LinkClosedError:
            pass  # this one died too: its reading thread restarts again

    def _give_up_oldest(self, deaths: int) -> None:
        """Writer processes keep dying on the oldest kept message: settle it as failed."""
        with self._lock:
            oldest = next((m for m in self._kept if not m.done), None)
            if oldest is None:
                return
            oldest.done = True
            self._failed_here += oldest.rows
            self._deaths = 0
            self._drop_done()
            self._by_token.pop(oldest.token, None)
            flushed = self._flushes.pop(oldest.token, None)
        if flushed is not None:  # flush() then returns, and says False if rows failed
            flushed()
        if oldest.rows:
            write_stderr(
                f"{oldest.rows} record(s) could not be written to {self._spec.label}: "
                f"{deaths} writer processes died writing them"
            )

    def _fall_back(self, cause: str) -> None:
        """Write in this process from now on; what is kept goes to a writer thread."""
        write_stderr(
            f"cannot start a writer process for {self._spec.label} ({cause}); "
            "writing in this process instead"
        )
        thread = ThreadTransport(self._spec, self._after_commit)
        if self._ever_ready:  # a writer process may have committed rows it did not report
            self._committed = _committed(thread, self._session)
        self._forward_kept(thread)
        self._thread = thread
        if self._closing:
            self._link.close_input()

    def _forward_kept(self, thread: ThreadTransport) -> None:
        """Give everything kept, in order, to the writer thread (holding _send)."""
        with self._lock:
            kept, self._kept = list(self._kept), deque()
            self._by_token.clear()
        for message in kept:
            if message.kind == ROWS:
                self._replay_rows(thread, message)
            elif message.kind == FLUSH:
                with self._lock:
                    done = self._flushes.pop(message.token, _nothing)
                thread.flush(done)
            elif message.kind == CALL:
                self._replay_call(thread, message)

    def _replay_call(self, thread: ThreadTransport, message: _Message) -> None:
        with self._lock:
            waiter = self._calls.pop(message.token, None)
        if waiter is None:
            return
        _, _, fn, args = pickle.loads(message.data[8:])
        try:
            if fn is None:
                thread.maintain_now(FALLBACK_CALL_TIMEOUT)
                waiter.outcome = (True, None)
            else:
                waiter.outcome = (True, thread.call(fn, args, FALLBACK_CALL_TIMEOUT))
        except BaseException as exc:
            waiter.outcome = (False, exc)
        waiter.done.set()

    def _replay_rows(self, thread: ThreadTransport, message: _Message) -> None:
        _, first_log, first_metric, logs, metrics = pickle.loads(message.data[8:])
        committed = self._committed
        skip_logs = _up_to(first_log, len(logs), committed[0])
        skip_metrics = _up_to(first_metric, len(metrics), committed[1])
        newly = message.rows_up_to(*committed) - message.rows_up_to(*self._settled)
        with self._lock:
            self._dead.written += max(0, newly)
        rows: tuple[list[Row], list[Row]] = finish_entries(logs[skip_logs:], metrics[skip_metrics:])
        thread.add_rows(*rows)

    # -- the handler: liveness, close, fork ------------------------------------------

    def check(self) -> None:
        """Restart a writer process that died; give up on one that never got ready.

        ``flush()`` calls this while it waits.
        """
        link = self._link
        if self._thread is not None:
            self._thread.check()
        elif link.overdue():
            link.give_up()  # its reading thread then falls back to a writer thread
        elif not link.alive() and not link.closed and self._send.acquire(timeout=0.1):
            try:
                self._restart(link)
            finally:
                self._send.release()

    def close(self, deadline: float) -> int:
        """End of input; wait until everything is settled or ``deadline``; unwritten rows.

        A writer process still busy at ``deadline`` is killed, and what it had not
        reported settled is counted as failed (less what the database shows it had
        committed).
        """
        self._abort_at = deadline
        self._closing = True
        # The writer process's connection must be the last to close: it then copies
        # the WAL in and removes it (one clean file, as with the writer thread).
        self._close_hooks_connection()
        if self._send.acquire(timeout=_left(deadline)):
            try:
                if self._thread is None:
                    self._link.close_input()
            finally:
                self._send.release()
        while True:
            link = self._link
            if self._thread is not None:
                return self._thread.close(deadline) + self._count_unsettled()
            if link.join(deadline):
                if link is self._link:
                    break
                continue  # it died and was replaced: wait for the new one
            self._stopped = True  # given up: no restart, what is kept is counted
            link.kill()
            link.join(time.monotonic() + 2.0)
            break
        self._close_hooks_connection()
        return self._count_unsettled()

    def _count_unsettled(self) -> int:
        self._stopped = True
        with self._lock:
            kept, self._kept = list(self._kept), deque()
            flushes, self._flushes = list(self._flushes.values()), {}
            calls, self._calls = list(self._calls.values()), {}
        closed = f"the handler of {self._spec.label} was closed before the statement ran"
        for waiter in calls:
            waiter.outcome = (False, SQLiteLoggingError(closed))
            waiter.done.set()
        rows = [message for message in kept if message.kind == ROWS and not message.done]
        unsettled = 0
        if rows:
            committed = _read_committed(self._spec.uri, self._session)
            settled = self._settled
            newly = 0
            for message in rows:
                stored = max(message.rows_up_to(*committed), message.rows_up_to(*settled))
                newly += stored - message.rows_up_to(*settled)
                unsettled += message.rows - stored
            with self._lock:
                self._dead.written += newly
                self._failed_here += unsettled
            if unsettled:
                write_stderr(f"{unsettled} record(s) could not be written to {self._spec.label}")
        for flushed in flushes:
            flushed()
        return unsettled

    def pause(self, timeout: float) -> bool:
        """Before fork(): close the hooks' read connection (no SQLite state may cross)."""
        thread = self._thread
        if thread is not None:
            return thread.pause(timeout)
        if not self._hooks_lock.acquire(timeout=timeout):
            return False
        self._close_hooks_connection(locked=True)
        return True

    def resume(self) -> None:
        """After fork(), in the parent."""
        thread = self._thread
        if thread is not None:
            thread.resume()
        else:
            self._hooks_lock.release()

    def abandon(self) -> None:
        """In a forked child: close the copies of the parent's pipes (see WriterLink)."""
        self._link.abandon()
        self._thread = None

    def _close_hooks_connection(self, *, locked: bool = False) -> None:
        if not locked:
            self._hooks_lock.acquire()
        try:
            conn, self._hooks_conn = self._hooks_conn, None
            if conn is not None:
                conn.close()
        finally:
            if not locked:
                self._hooks_lock.release()


def _nothing() -> None:
    pass


def _left(deadline: float) -> float:
    """Seconds until ``deadline`` as ``Lock.acquire`` takes them (-1: no limit)."""
    return -1 if deadline == math.inf else max(0.0, deadline - time.monotonic())


def _committed(thread: ThreadTransport, session: str) -> tuple[int, int]:
    try:
        result: tuple[int, int] = thread.call(_sessions.last_settled, (session,), 30.0)
    except Exception:
        return (0, 0)
    return result


def _read_committed(uri: str, session: str) -> tuple[int, int]:
    """How far ``session`` was committed, read through a connection of our own."""
    try:
        conn = schema.connect(schema.database_uri(uri, readonly=True), timeout=1.0)
        try:
            return _sessions.last_settled(conn, session)
        finally:
            conn.close()
    except sqlite3.Error:
        return (0, 0)
