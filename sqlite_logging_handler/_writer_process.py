"""The writer process: ``python -m sqlite_logging_handler._writer_process DATA ACK CONTROL``.

Started by a handler with ``writer="process"`` (``_process_link``), from a fresh
interpreter. It reads messages (``_wire``) from the ``DATA`` pipe: first a ``HELLO`` with
the writer's ``WriterSpec`` and the session's id, then rows, flush markers and calls,
and runs the same ``BatchWriter`` as the thread writer on them. It answers on the
``ACK`` pipe: ``READY``, then after each settled batch how far it has written, with the
counters and the committed id ranges (the application runs its hooks on those),
flush replies and call results. The ``CONTROL`` pipe carries one message, ``CLOSE``:
the deadline of the handler's ``close()``, read at once (not behind the data).

It ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C or a service manager's SIGTERM to the
process group must not kill it before the application's ``logging.shutdown()`` has
flushed), and ends at end of file on ``DATA`` once it has written everything it
received: when the handler closes (by ``CLOSE``'s deadline; then it says ``ENDED``,
with the cause of what its ``close()`` left unwritten), and when the application dies
(SIGKILL, ``os._exit``, a crash), since the kernel closes the application's end of the
pipe.
Its stderr is the application's: its report lines reach the same place.

It learns of its application's end first from the control pipe (end of file without
``CLOSE``, read on a thread of its own even while the main thread waits for room behind
batches that wait for a lock): from then on it has ``_closing.DRAIN_TIMEOUT`` seconds,
and every wait (for room, for a lock, a flush, a call, its bookkeeping) gives up by
then. What it leaves unwritten with nobody left to tell, it says on its own stderr, in
one line: how many records, where, and why.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sqlite3
import sys
import threading
import time
from functools import partial
from typing import Any

from . import _closing, _sessions
from ._control import Control
from ._read_ahead import ReadAhead
from ._stderr import send_reports_to, write_stderr
from ._transport import WriterSpec, new_batch_writer
from ._wire import (
    CALL,
    ENDED,
    FLUSH,
    FLUSHED,
    GIVING_UP,
    HELLO,
    READY,
    REPORT,
    RESULT,
    ROWS,
    SETTLED,
    Entries,
    FrameReader,
    any_frame,
    finish_entries,
    frame,
)

__all__ = ["main"]

#: Seconds, at most, it spends at the end forgetting its session (see ``_sessions``).
FORGET_TIMEOUT = 5.0
#: Seconds a call (maintenance, a statement) may run.
CALL_TIMEOUT = 3600.0
#: Seconds it waits, at most, for its writer's first upkeep before taking records.
START_UPKEEP_WAIT = 5.0
#: Seconds it keeps trying to read how far a dead predecessor had written.
RESUME_TIMEOUT = 30.0
#: The GIL switch interval here: the reading thread converts while the worker waits
#: to get the GIL back from SQLite; a short interval keeps that wait short.
SWITCH_INTERVAL = 0.001


class Acks:
    """Messages to the application, from any thread; silent once it has gone."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self.broken = False

    def send(self, message: tuple[Any, ...]) -> None:
        """Frame and write ``message`` (only built-in values)."""
        self._write(frame(message))

    def send_any(self, message: tuple[Any, ...]) -> None:
        """Frame and write ``message``, which may hold exceptions or other objects."""
        try:
            data = any_frame(message)
        except Exception as exc:  # an unpicklable result: say what it was
            data = any_frame((*message[:2], False, RuntimeError(f"unpicklable result: {exc}")))
        self._write(data)

    def report(self, line: str) -> bool:
        """Send a stderr line to the application; False once it has gone."""
        if self.broken:
            return False
        self._write(frame((REPORT, line)))
        return not self.broken

    def _write(self, data: bytes) -> None:
        with self._lock:
            view = memoryview(data)
            while view and not self.broken:
                try:
                    view = view[os.write(self._fd, view) :]
                except OSError:  # the application has gone: keep writing the rows
                    self.broken = True


class WriterSession:
    """One writer process's work for a session: rows in, batches committed, acks out.

    ``rows``, ``flush``, ``call`` and ``finish`` run on the main thread, which reads
    the pipe; ``_record`` and ``_settled`` on the writer's worker thread.
    """

    def __init__(
        self, spec: WriterSpec, session: str, acks: Acks, reported: tuple[int, int] = (0, 0)
    ) -> None:
        self._session = session
        self._reported = reported  # numbers the application has counted already
        self._acks = acks
        self._lock = threading.Lock()
        self._last_log = self._last_metric = 0  # numbers settled, per table
        self._next: tuple[int, int] | None = None  # numbers of the first rows received
        self._committed = (0, 0)  # what a predecessor had committed
        self._skipped = 0
        self._last_commit: float | None = None
        self._timer: threading.Timer | None = None  # GIVING_UP at close()'s deadline
        self._deadline = math.inf  # when it gives up: close()'s, or after the application's end
        self._failed_at_end: int | None = None  # writer.failed when the end began
        self.writer = new_batch_writer(spec, in_transaction=self._record, on_settled=self._settled)

    def resume(self) -> None:
        """Read how far a dead predecessor got: rows up to there are skipped."""
        deadline = time.monotonic() + RESUME_TIMEOUT
        while True:
            try:
                self._committed = self.writer.call(
                    partial(_sessions.last_settled, session=self._session), CALL_TIMEOUT
                )
                return
            except (sqlite3.Error, TimeoutError) as exc:
                if time.monotonic() >= min(deadline, self._deadline):
                    write_stderr(f"could not read how far the last writer process got: {exc}")
                    return
                time.sleep(0.5)

    def rows(self, first_log: int, first_metric: int, logs: Entries, metrics: Entries) -> None:
        """Write these entries, numbered from ``first_log`` / ``first_metric``.

        Rows received before (a message sent twice) are dropped; rows a dead
        predecessor committed are skipped, and counted as written unless the
        application had counted them already.
        """
        if self._next is None:  # the numbers before these were settled already
            with self._lock:
                self._last_log = max(self._committed[0], first_log - 1)
                self._last_metric = max(self._committed[1], first_metric - 1)
            self._next = (first_log, first_metric)
        next_log, next_metric = self._next
        again_logs = _already(first_log, len(logs), next_log - 1)
        again_metrics = _already(first_metric, len(metrics), next_metric - 1)
        logs, metrics = logs[again_logs:], metrics[again_metrics:]
        first_log, first_metric = first_log + again_logs, first_metric + again_metrics
        self._next = (first_log + len(logs), first_metric + len(metrics))
        skip_logs = _already(first_log, len(logs), self._committed[0])
        skip_metrics = _already(first_metric, len(metrics), self._committed[1])
        if skip_logs or skip_metrics:
            counted = _already(first_log, skip_logs, self._reported[0]) + _already(
                first_metric, skip_metrics, self._reported[1]
            )
            with self._lock:
                self._skipped += skip_logs + skip_metrics - counted
            logs, metrics = logs[skip_logs:], metrics[skip_metrics:]
            self._acks.send(self._progress([]))
        if logs or metrics:
            self.writer.add_rows(*finish_entries(logs, metrics))

    def flush(self, token: int) -> None:
        """Commit what was received; tell the application once it is settled."""
        self.writer.flush(partial(self._acks.send, (FLUSHED, token)))

    def call(self, token: int, fn: Any, args: tuple[Any, ...]) -> None:
        """Run ``fn(connection, *args)`` on the writer and send back what came of it.

        ``fn`` None stands for the whole upkeep (``SQLiteHandler.maintain()``).
        """
        try:
            value = None
            if fn is None:
                self.writer.maintain_now(CALL_TIMEOUT)
            else:
                value = self.writer.call(partial(_apply, fn, args), CALL_TIMEOUT)
            outcome: tuple[Any, ...] = (RESULT, token, True, value)
        except BaseException as exc:
            outcome = (RESULT, token, False, exc)
        self._acks.send_any(outcome)

    def closing(self, deadline: float) -> None:
        """The handler's ``close()`` began: end by ``deadline``; at it, say why, if late.

        The rows before the data's end may still be in the pipe at the deadline (the
        application goes on sending until its own): ``GIVING_UP`` tells it the cause
        now (a lock held by another connection, a write error, a slow disk), in time.
        """
        self._ending(deadline)
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._giving_up)
        self._timer.daemon = True
        self._timer.start()

    def orphaned(self, deadline: float) -> None:
        """The application ended without ``close()``: end by ``deadline``, whatever waits.

        Called on the control pipe's thread, while the main thread may be stuck waiting
        for room (behind batches that wait for a lock held by another connection).
        """
        self.writer.close_report.allowed = (
            f"the {_closing.DRAIN_TIMEOUT:g} s a writer process has after its application ends"
        )
        self._ending(deadline)

    def _ending(self, deadline: float) -> None:
        with self._lock:
            if self._failed_at_end is None:
                self._failed_at_end = self.writer.failed
            self._deadline = min(self._deadline, deadline)
        self.writer.give_up_at(deadline)

    def _giving_up(self) -> None:
        report = self.writer.close_report
        report.gave_up()  # the cause as it is now; said only if rows end up unwritten
        self._acks.send((GIVING_UP, report.cause))

    def finish(self, deadline: float | None = None) -> None:
        """End of input: write everything received by ``deadline``, stop; say ``ENDED``.

        What it leaves unwritten the application says (told by ``ENDED``); if the
        application has gone, this process says it on its own stderr, once.

        Args:
            deadline: the ``time.monotonic()`` to end by: the handler's ``close()``
                gives up then (told by ``CLOSE``), or the application ended without
                closing (``DRAIN_TIMEOUT`` after that); None if the control pipe has
                not told yet (then ``DRAIN_TIMEOUT`` from now).
        """
        if deadline is None:
            self.orphaned(time.monotonic() + _closing.DRAIN_TIMEOUT)
        else:
            self._ending(deadline)
        deadline = self._deadline
        done = threading.Event()
        self.writer.flush(done.set)
        done.wait(max(0.0, deadline - time.monotonic()))
        left = min(FORGET_TIMEOUT, deadline - time.monotonic())
        if done.is_set() and left > 0:
            with contextlib.suppress(Exception):  # nothing can be sent again in this session
                self.writer.call(partial(_sessions.forget, session=self._session), left)
        self.writer.close(deadline)
        if self._timer is not None:
            self._timer.cancel()
        self._acks.send(self._progress([]))
        # Why close() left rows unwritten, as this process's writer saw it (a lock held
        # by another connection, a write error, a slow disk): the application says it.
        self._acks.send((ENDED, self.writer.close_report.cause))
        unwritten = self.writer.failed - (self._failed_at_end or 0)
        if self._acks.broken and unwritten > 0:  # nobody else is left to say it
            send_reports_to(None)
            write_stderr(self.writer.close_report.orphan_line(unwritten))

    # -- the worker thread -----------------------------------------------------------

    def _record(self, conn: sqlite3.Connection, logs: int, metrics: int) -> None:
        _sessions.record(conn, self._session, self._last_log + logs, self._last_metric + metrics)

    def _settled(self, logs: int, metrics: int, ids: list[tuple[str, int, int]]) -> None:
        with self._lock:
            self._last_log += logs
            self._last_metric += metrics
            if ids:
                self._last_commit = time.time()
            message = self._progress(ids)
        self._acks.send(message)

    def _progress(self, ids: list[tuple[str, int, int]]) -> tuple[Any, ...]:
        writer = self.writer
        return (
            SETTLED,
            self._last_log,
            self._last_metric,
            writer.written + self._skipped,
            writer.failed,
            writer.batches,
            self._last_commit,
            list(ids),
            writer.restarts,
        )


def _already(first: int, count: int, committed: int) -> int:
    """How many of ``count`` rows numbered from ``first`` are at most ``committed``."""
    return max(0, min(count, committed - first + 1))


def _apply(fn: Any, args: tuple[Any, ...], conn: sqlite3.Connection) -> Any:
    return fn(conn, *args)


def _ignore_signals() -> None:
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, signal.SIG_IGN)


def main(argv: list[str]) -> int:
    """Serve one handler's session until end of file; the process's exit status."""
    _ignore_signals()
    sys.setswitchinterval(SWITCH_INTERVAL)
    data_fd, ack_fd, control_fd = int(argv[1]), int(argv[2]), int(argv[3])
    reader = FrameReader(data_fd)
    hello = reader.read()
    if hello is None or hello[0] != HELLO:
        return 2
    _, spec, session, resuming, reported = hello
    spec.apply_tuning()
    acks = Acks(ack_fd)
    send_reports_to(acks.report)  # the application's stderr, while it lives
    writer = WriterSession(spec, session, acks, reported)
    # From here on its application's end is seen at once, whatever this thread waits for.
    control = Control(control_fd, writer.closing, writer.orphaned)
    # As a writer thread does at construction: the upkeep first, before any record
    # (a restarted application prunes what aged while it was down, not what it logs).
    writer.writer.started.wait(START_UPKEEP_WAIT)
    acks.send((READY, os.getpid()))
    if resuming:
        writer.resume()
    messages = ReadAhead(reader)  # the pipe is emptied while the writer is busy
    while (message := messages.read()) is not None:
        kind = message[0]
        if kind == ROWS:
            writer.rows(*message[1:])
        elif kind == FLUSH:
            writer.flush(message[1])
        elif kind == CALL:
            writer.call(*message[1:])
    writer.finish(control.close_at())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
