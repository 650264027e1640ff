"""What the calling thread does with a record: the caller's side of ``SQLiteHandler``.

``handle`` and ``emit`` run in the application's threads, in signal handlers, in
finalizers the GC runs on any thread (the handler's own included) and in hooks on the
writer. So the path never raises into its caller, never waits for a lock its own thread
may hold, and never waits for a queue its own thread drains:

- a part of the record that cannot be rendered gets a stand-in (``_salvage``), and is
  reported once, as ``handleError`` reports;
- the queue's producer side takes no lock (``_queue``), and counts are ``tally()``s;
- a record that must not wait goes past a full queue (``PAST_THE_BOUND``);
- a record that reaches a closed handler goes to another handler of its database, is
  written directly while the process ends, or is dropped and counted (``_lifecycle``).
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ._bridges import active_trace, plain_record
from ._late_write import write_late_in_turn
from ._lifecycle import (
    LATE,
    close_with_multiprocessing,
    configuring,
    drain,
    process_ending,
)
from ._listener import Listener
from ._own_threads import wait_for_close
from ._queue import RecordQueue, Reentered
from ._records import PLAIN_RECORD_SIZE, exception_text
from ._reentrancy import add, on_pipeline_thread
from ._salvage import describe, salvage
from ._stderr import write_stderr
from ._transport import Transport

__all__ = ["HANDOVER_WAIT", "PAST_THE_BOUND", "CallerSide"]

#: Seconds after ``close()`` during which a record still sent to the closed handler
#: waits for a new handler of the same database (dictConfig opens it right after).
HANDOVER_WAIT = 1.0
#: Seconds a late caller waits, at most, for ``close()`` to finish (it takes at most
#: its ``CLOSE_TIMEOUT``).
CLOSE_WAIT = 30.0

#: Records that must not wait (logged on the handler's own threads, in both overflow
#: modes, or by code that interrupted a caller waiting for room) go past a full queue
#: by up to this many, or by ``queue_size`` if larger; beyond that they are dropped,
#: counted and said. The
#: listener takes at most a chunk of 1000 records at a time, so one record logged per
#: record it converts (an extra's ``__repr__`` that logs) stays within this.
PAST_THE_BOUND = 1000
#: Seconds between two stderr lines about records dropped because they were logged
#: from within the handler (its own threads, a signal handler) while its queue was full.
REPORT_EVERY = 10.0

_MODULES = sys.modules
_OWN_LOGGER = __name__.partition(".")[0]
_SQLITE_WORKER_LOGGER = "SqliteWorker"
_DEFAULT_FORMATTER = logging.Formatter()
# Threads reporting a record that failed at emit time (handleError prints a traceback,
# which takes a while): a record that fails in code interrupting that report gets one
# line instead, so that signal handlers cannot pile up on each other's reports.
_REPORTING: set[int] = set()
# What Handler.handle returns for a record that passed: the record from Python 3.12.
_FILTER_RETURNS_RECORD = sys.version_info >= (3, 12)


class CallerSide(logging.Handler):
    """The calling thread's half of ``SQLiteHandler``: from ``handle`` to the queue.

    ``SQLiteHandler`` sets the state below and starts the pipeline (``_start``).
    """

    database: str
    queue_size: int
    _uri: str
    _drop: bool
    _closed: bool
    _shut: bool
    _close_done: threading.Event
    _closer: int | None
    _closed_at: float
    _state: threading.RLock
    _queue: RecordQueue | None
    _transport: Transport | None
    _listener: Listener | None
    _finalizer: Any
    _starters: set[int]
    _early: list[tuple[Any, ...]]
    _dropped: itertools.count[int]  # tally()s: see _reentrancy
    _kept_taken: itertools.count[int]
    _handed_over: itertools.count[int]
    _late_written: itertools.count[int]
    _late_failed: itertools.count[int]
    _emit_lost: int
    _lost_reported: int
    _dropped_said: float
    _start: Callable[[], RecordQueue]
    # Records stored with stand-ins: the first is reported in full (handleError), the
    # next ones within REPORT_EVERY s are counted and summed up in one short line.
    _stand_ins_said: float = -math.inf
    _stand_ins_unsaid: int = 0

    def handle(self, record: logging.LogRecord) -> Any:
        """Filter and emit ``record``, without taking the handler lock.

        ``emit`` is thread-safe on its own, so callers never queue up on a lock.
        Records of this package's and sqlite-worker's own loggers are ignored, so
        nothing the handler does can feed back into it.
        """
        try:
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
        except RecursionError:  # at the recursion limit, before emit could catch it
            self._emit_lost += 1
            return False

    def emit(self, record: logging.LogRecord) -> None:
        """Queue ``record`` for writing. Never raises; blocks only while the queue is full.

        The message is merged with its arguments now, and exception and stack text are
        rendered now (with this handler's formatter if it has one), so later changes
        to the arguments change nothing. A part that fails to render is stored as a
        stand-in and reported once, as ``handleError`` reports (see ``_salvage``).
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
        except KeyboardInterrupt:  # the user's Ctrl-C: it goes on, the record is counted
            self._emit_lost += 1
            raise
        except BaseException:  # SystemExit or any BaseException from an argument's __str__
            try:
                item = self._salvaged(record)
            except KeyboardInterrupt:  # Ctrl-C now: it goes on, the record is counted
                self._emit_lost += 1
                raise
            except BaseException:  # not even a stand-in (at the recursion limit, say)
                self._emit_lost += 1
                return
        try:
            if self._closed:
                self._pass_on([item], wait=True)
            else:
                self._enqueue(item)
        except Exception:  # before the record was queued (_enqueue sees to that)
            self._emit_lost += 1
            try:  # noqa: SIM105 - contextlib.suppress is a call, which can fail here
                self._report_lost()
            except Exception:
                pass

    def _snapshot(self, record: logging.LogRecord, message: str) -> tuple[Any, ...]:
        """The queued item of a record with exception or stack information."""
        formatter = self.formatter or _DEFAULT_FORMATTER
        exc_text = exception_text(record, formatter)
        stack_text = formatter.formatStack(record.stack_info) if record.stack_info else None
        if record.exc_info:
            # Don't keep the traceback's frames (and their locals) alive in the queue.
            record = copy.copy(record)
            record.exc_info = None
        return (record, message, exc_text, stack_text)

    def _salvaged(self, record: logging.LogRecord) -> tuple[Any, ...]:
        """The item of a record ``_snapshot`` failed on, with stand-ins; reported once.

        Called while the failure is being handled, so ``handleError`` reports it.
        """
        item = salvage(record, self.formatter)
        tracing = _MODULES.get("opentelemetry.trace")
        if tracing is not None:
            item = (*item, active_trace(tracing))
        me = threading.get_ident()
        if me in _REPORTING:  # it interrupted a report on this thread: a signal handler
            if logging.raiseExceptions:  # one line, fast, so handlers cannot pile up
                error = describe(sys.exc_info()[1] or Exception())
                write_stderr(f"a record of {record.name!r} stored with stand-ins: {error}")
        elif time.monotonic() - self._stand_ins_said < REPORT_EVERY:
            self._stand_ins_unsaid += 1  # said by the next report (or flush, close)
        else:
            self._stand_ins_said = time.monotonic()
            self._say_stand_ins()
            try:  # marked inside the try: a Ctrl-C between the two must not leave it
                _REPORTING.add(me)
                self.handleError(record)
            except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
                raise
            except BaseException as exc:  # a RecursionError, an args repr that exits
                if logging.raiseExceptions:
                    error = describe(exc)
                    write_stderr(f"a record of {record.name!r} could not be reported: {error}")
            finally:
                _REPORTING.discard(me)
        self._report_lost(stand_ins=False)
        return item

    def _say_stand_ins(self) -> None:
        """One line for the records stored with stand-ins since the last full report."""
        unsaid = self._stand_ins_unsaid
        if unsaid and logging.raiseExceptions:
            self._stand_ins_unsaid = 0
            write_stderr(
                f"{unsaid} more record(s) stored with stand-ins since the last report "
                "(a value or a formatter failed while rendering them; see above)"
            )

    def _report_lost(self, *, stand_ins: bool = True) -> None:
        """Say on stderr how many records emit could not handle at all, once each.

        Tried again by the next emit that fails, ``flush()`` and ``close()`` until a
        line gets through (at the recursion limit, writing one can fail too). Says the
        records stored with stand-ins that were not reported one by one (``stand_ins``).
        """
        if stand_ins and self._stand_ins_unsaid:
            self._say_stand_ins()
        lost = self._emit_lost - self._lost_reported
        if lost > 0 and _said(
            f"{lost} record(s) could not be handled at emit time (at the recursion "
            f"limit, or out of memory); counted in failed"
        ):
            self._lost_reported += lost

    def _enqueue(self, item: tuple[Any, ...]) -> None:
        """Put a snapshotted record on the queue, as ``overflow`` says when it is full."""
        records = self._queue
        if records is None:
            records = self._start_after_fork(item)
            if records is None:
                return
        try:
            records.put_nowait(item)
        except queue.Full:
            if on_pipeline_thread():  # whatever overflow says: see PAST_THE_BOUND
                self._put_past_the_bound(records, item)
            elif self._drop:
                next(self._dropped)
            else:
                self._put_waiting(records, item)
        if self._shut:  # close() finished, maybe just before this put: pass it on
            try:  # noqa: SIM105 - it is queued: nothing may raise now (not even a call)
                self._pass_on(drain(records, self._listener), wait=False)
            except Exception:
                pass

    def _put_waiting(self, records: RecordQueue, item: tuple[Any, ...]) -> None:
        """Wait for room (``overflow="block"``), unless waiting could be waiting for itself.

        A record logged on the handler's own threads (which drain the queue), or
        from code that interrupted a caller waiting here (a signal handler, a
        finalizer), goes past the bound instead.
        """
        if on_pipeline_thread():
            self._put_past_the_bound(records, item)
            return
        try:
            while True:
                try:
                    records.put(item, timeout=0.1)
                    return
                except Reentered:
                    self._put_past_the_bound(records, item)
                    return
                except queue.Full:
                    if self._closed:
                        self._pass_on([item], wait=True)
                        return
        except KeyboardInterrupt:  # Ctrl-C while it waited: not queued, counted in failed
            self._emit_lost += 1
            raise

    def _put_past_the_bound(self, records: RecordQueue, item: tuple[Any, ...]) -> None:
        """Queue a record that must not wait: past ``queue_size`` by ``PAST_THE_BOUND``."""
        if records.qsize() < records.maxsize + max(records.maxsize, PAST_THE_BOUND):
            records.put_nowait_unbounded(item)
            return
        next(self._dropped)
        try:  # it is counted: nothing may raise now (not even a call)
            now = time.monotonic()
            if now - self._dropped_said >= REPORT_EVERY:
                self._dropped_said = now
                write_stderr(
                    f"dropped record(s) logged from within the handler of {self.database} "
                    "(its own threads, a signal handler) while its queue was full; "
                    "counted in dropped"
                )
        except Exception:
            pass

    def _pass_on(self, items: list[tuple[Any, ...]], *, wait: bool, closing: bool = False) -> None:
        """Records that reached this handler after ``close()``: never lost silently.

        ``dictConfig`` closes the old handlers before it detaches them, so threads
        that log meanwhile still reach this one. Such a record goes to another open
        handler of the same database in this process, and is counted there (here
        only in ``handed_over``). While logging is being reconfigured (its module
        lock is held, as dictConfig and fileConfig hold it) and with
        ``overflow="block"``, a logging thread (``wait``) first waits for ``close()``
        to finish writing, so late callers do not starve it, then up to
        ``HANDOVER_WAIT`` s for the new handler to open; records the closing thread
        found in the queue are kept for that handler. What no handler takes is
        written directly if ``close()`` itself found it (``closing``) or the process
        is ending (nothing else will write it); otherwise it is dropped and counted.
        """
        state = configuring()
        wait_until = None
        if wait and state == "elsewhere" and not self._drop:
            wait_for_close(self, CLOSE_WAIT)  # never again on a thread waiting already
            wait_until = self._closed_at + HANDOVER_WAIT
        keep = not wait and state is not None and self.database != ":memory:"
        left = []
        for item in items:
            taken = LATE.hand_over(self, item, wait_until, keep=keep)
            if taken == "passed":
                next(self._handed_over)
            elif taken == "kept":
                next(self._dropped)  # until the next handler takes it
            else:
                left.append(item)
        if left and (closing or process_ending()):
            self._write_late(left)
        elif left:
            add(self._dropped, len(left))

    def _took_kept(self) -> None:
        """Another handler took a record this one kept (and counted as dropped)."""
        next(self._kept_taken)
        next(self._handed_over)

    def _write_late(self, items: list[tuple[Any, ...]]) -> None:
        """Write records that came after the pipeline stopped (see ``_late_write``)."""
        write_late_in_turn(self, items)

    def _start_after_fork(self, item: tuple[Any, ...]) -> RecordQueue | None:
        """The queue of a fresh pipeline, started by the child's first record.

        A record logged while this thread is starting it (a signal handler, a
        finalizer) is kept aside and queued once the pipeline runs: it must not wait
        for the start it interrupted. Returns None when ``item`` was taken care of.
        """
        me = threading.get_ident()
        if me in self._starters:
            self._early.append(item)
            return None
        try:  # marked inside the try: a Ctrl-C between the two must not leave it
            self._starters.add(me)
            with self._state:
                if self._closed:
                    add(self._dropped, 1 + len(self._early))
                    self._early = []
                    return None
                records = self._queue
                if records is None:
                    records = self._start()
                    self._finalizer = close_with_multiprocessing(self)
                early, self._early = self._early, []
                for waiting in early:
                    records.put_nowait_unbounded(waiting)
        finally:
            self._starters.discard(me)
        return records


def _said(text: str) -> bool:
    """Write one line on stderr; whether it got there (stderr may be closed, or full)."""
    try:
        sys.stderr.write(f"sqlite_logging_handler: {text}\n")
        sys.stderr.flush()
    except Exception:
        return False
    return True
