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
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from . import _sessions, schema
from ._closing import CloseReport
from ._kept import Ledger, Message, Waiter
from ._process_link import LinkClosedError, WriterLink
from ._process_restarts import MAX_DEATHS, MAX_UNREADY, RESTART_PAUSES, Restarts
from ._stderr import Reporter, write_line, write_stderr
from ._transport import Item, ThreadTransport, WriterSpec
from ._wire import (
    CALL,
    CLOSE,
    ENDED,
    FLUSH,
    FLUSHED,
    GIVING_UP,
    READY,
    REPORT,
    RESULT,
    ROWS,
    SETTLED,
    any_frame,
    capture,
    frame,
    rows_message,
)
from ._writer import AfterCommit

__all__ = ["MAX_DEATHS", "MAX_UNREADY", "RESTART_PAUSES", "ProcessTransport"]


class ProcessTransport(Restarts):
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
        self._ledger = Ledger()  # what is kept until settled, and the counts
        self._send = threading.RLock()  # one sender at a time; held across restarts
        self._tokens = itertools.count(1)
        self._next_log = self._next_metric = 1
        self._deaths = 0  # deaths of ready writer processes since something was settled
        self._unready = 0  # deaths of writer processes not yet ready, since one was
        self._closing = False
        self._stopped = False  # close() ended it all: nothing is restarted or sent
        self._abort_at = math.inf  # close(): writes give up at this time.monotonic()
        self._restarting: WriterLink | None = None
        self._ever_ready = False
        self._thread: ThreadTransport | None = None  # after a fallback
        self._ended = False  # close() has ended: records sent now are counted, not sent
        self._told_deadline = False  # CLOSE was sent
        self._close_message: bytes | None = None  # CLOSE, for a writer process started later
        label = spec.label
        self._close_report = CloseReport(label, str)  # the cause comes from the process
        self._reporter = Reporter(
            lambda count, cause: f"{count} record(s) could not be written to {label}: {cause}"
        )
        self._hooks_lock = threading.Lock()
        self._hooks_conn: sqlite3.Connection | None = None
        self._link = self._start(resuming=False)
        self._link.start_reading()

    # -- counters ---------------------------------------------------------------------

    def _total(self, name: str) -> int:
        ledger = self._ledger
        value: int = getattr(ledger.dead, name) + getattr(ledger.live, name)
        thread = self._thread
        return value + (getattr(thread, name) if thread is not None else 0)

    @property
    def written(self) -> int:
        """Rows committed, by every writer process of this pipeline."""
        return self._total("written")

    @property
    def failed(self) -> int:
        """Rows and records that could not be written."""
        return self._total("failed") + self._ledger.failed_here

    @property
    def batches(self) -> int:
        """Transactions committed."""
        return self._total("batches")

    @property
    def restarts(self) -> int:
        """Writer processes started after one died, and worker threads replaced in them."""
        return self._total("restarts")

    @property
    def last_commit(self) -> float | None:
        """``time.time()`` of the last commit a writer (process or thread) reported."""
        thread = self._thread
        ours = self._ledger.last_commit
        theirs = thread.last_commit if thread is not None else None
        return max(ours or 0.0, theirs or 0.0) or None

    @property
    def pid(self) -> int | None:
        """The writer process's id (None while there is none, or writing in this process)."""
        link = self._link
        return None if self._thread is not None or not link.alive() else link.pid

    def progress(self) -> int:
        """A number that changes whenever something is settled."""
        return self.written + self.failed + self.batches

    @property
    def ended(self) -> bool:
        """Whether ``close()`` has ended: records sent now are counted, never sent."""
        thread = self._thread
        return thread.ended if thread is not None else self._ended

    @property
    def close_report(self) -> CloseReport:
        """Why ``close()`` left records unwritten, as the writer process told it."""
        thread = self._thread
        return thread.close_report if thread is not None else self._close_report

    def count_unwritten(self, count: int) -> None:
        """Count records that reached the listener after ``close()`` ended."""
        thread = self._thread
        if thread is not None:
            thread.count_unwritten(count)
        elif count:
            self._ledger.count_failed(count)
            self._close_report.gave_up()

    def record_failure(self, cause: str) -> None:
        """Count a record that could not be converted (reported like the writer's)."""
        self._ledger.count_failed(1)
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
        self._push(Message(ROWS, data, first_log, len(logs), first_metric, len(metrics)))

    def flush(self, done: Callable[[], None]) -> None:
        """Send a flush marker; ``done()`` runs once everything before it is settled."""
        thread = self._thread
        if thread is not None:
            thread.flush(done)
            return
        token = next(self._tokens)
        self._push(Message(FLUSH, frame((FLUSH, token)), token=token), done)

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
        waiter = Waiter()
        self._push(Message(CALL, data, token=token), waiter)
        if not waiter.done.wait(timeout):
            msg = f"the writer of {self._spec.label} did not run the statement within {timeout} s"
            raise TimeoutError(msg)
        ok, value = waiter.outcome
        if not ok:
            raise value
        return value

    def _push(self, message: Message, waiter: Callable[[], None] | Waiter | None = None) -> None:
        if not self._ledger.keep(message, waiter):
            return  # closed already: counted as failed
        if not self._send.acquire(timeout=_left(self._abort_at)):
            return  # closing, and the sender is stuck: close() counts what is kept
        try:
            thread = self._thread
            if thread is not None:  # fell back meanwhile: what is kept goes there
                self._ledger.replay(thread, self._committed())
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
            if self._ledger.report(message):
                self._deaths = self._unready = 0
            ids = message[7]
            if ids and self._after_commit is not None:
                self._run_hooks(ids)
        elif kind == FLUSHED:
            self._ledger.answered(message[1])
        elif kind == RESULT:
            self._ledger.answered(message[1], (message[2], message[3]))
        elif kind == REPORT:
            write_line(message[1])
        elif kind in (ENDED, GIVING_UP):
            if kind == ENDED:
                link.ended = True  # what it left unsettled is counted by close()
            if message[1] is not None:  # its close() gave up: why, as it saw it
                self._close_report.gave_up(message[1])
        elif kind == READY:
            self._ever_ready = True
            self._unready = 0
            link.mark_ready()

    def _run_hooks(self, ids: list[tuple[str, int, int]]) -> None:
        assert self._after_commit is not None
        with self._hooks_lock:
            try:
                if self._hooks_conn is None:
                    uri = schema.database_uri(self._spec.uri, readonly=True)
                    self._hooks_conn = schema.connect(uri)
                self._after_commit(self._hooks_conn, ids)
            except BaseException as exc:  # a hook's: never let the thread die
                write_stderr(f"error after writing to {self._spec.label}: {exc}")

    # -- the handler: liveness, close, fork ------------------------------------------

    def closing(self, deadline: float) -> None:
        """``CLOSE`` on the control pipe: the writer process ends by ``deadline``.

        It gives up a little before, to tell why it leaves rows unwritten (``GIVING_UP``,
        ``ENDED``); sends to it give up at ``deadline``.
        """
        if self._told_deadline:
            return
        self._told_deadline = True
        self._abort_at = min(self._abort_at, deadline)
        gives_up_at = time.time() + (deadline - time.monotonic())
        self._close_message = frame((CLOSE, gives_up_at))
        if self._thread is None:
            self._link.tell(self._close_message)

    def close(self, deadline: float) -> int:
        """End of input; wait until everything is settled or ``deadline``; unwritten rows.

        A writer process still busy at ``deadline`` is killed, and what it had not
        reported settled is counted as failed (less what the database shows it had
        committed).
        """
        self.closing(deadline)
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
        """Count what is kept (said by the handler's one line at close, see _closing)."""
        self._stopped = True
        unwritten = self._ledger.close(
            lambda: _sessions.read_last_settled(self._spec.uri, self._session), self._spec.label
        )
        if unwritten:
            self._close_report.gave_up()  # the writer process's cause, if it told one
        self._ended = True
        return unwritten

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
