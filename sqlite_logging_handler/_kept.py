"""What a handler has sent to its writer processes and not yet seen settled: the ledger.

The process transport (``_process_transport``) keeps every message it sends until the
writer process has settled it: rows until it reports them written or failed (by their
numbers, per table), flush markers and calls until they are answered. The ledger holds
those messages, the waiters of the flushes and calls, the numbers settled so far and
the counts the writer processes reported (summed over the dead ones). When no writer
process can serve any more, it gives what it keeps to a writer thread (``replay``),
skipping rows a writer process had committed; when the handler closes, it counts what
is left (``close``). Every method takes the ledger's lock itself; none blocks on I/O
while holding it.
"""

from __future__ import annotations

import pickle
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._transport import ThreadTransport
from ._wire import CALL, FLUSH, ROWS, finish_entries
from .exceptions import SQLiteLoggingError

__all__ = ["FALLBACK_CALL_TIMEOUT", "Counts", "Ledger", "Message", "Waiter"]

#: Seconds a call that was waiting for a writer process may take on the writer thread.
FALLBACK_CALL_TIMEOUT = 60.0
_LENGTH = 8  # bytes of a frame's length prefix (see _wire)


@dataclass
class Message:
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
        """How many rows it carries."""
        return self.logs + self.metrics

    def settled_by(self, last_log: int, last_metric: int) -> bool:
        """Whether every row of it is numbered at most (last_log, last_metric)."""
        return (
            self.first_log + self.logs - 1 <= last_log
            and self.first_metric + self.metrics - 1 <= last_metric
        )

    def rows_up_to(self, last_log: int, last_metric: int) -> int:
        """How many of its rows are numbered at most (last_log, last_metric)."""
        return up_to(self.first_log, self.logs, last_log) + up_to(
            self.first_metric, self.metrics, last_metric
        )

    def payload(self) -> Any:
        """The message as it was sent."""
        return pickle.loads(self.data[_LENGTH:])


def up_to(first: int, count: int, last: int) -> int:
    """How many of ``count`` rows numbered from ``first`` are numbered at most ``last``."""
    return max(0, min(count, last - first + 1))


@dataclass
class Counts:
    """What one writer process reported (cumulative), or the sum over dead ones."""

    written: int = 0
    failed: int = 0
    batches: int = 0
    restarts: int = 0

    def add(self, other: Counts) -> None:
        """Add ``other``'s counts to these."""
        self.written += other.written
        self.failed += other.failed
        self.batches += other.batches
        self.restarts += other.restarts


@dataclass
class Waiter:
    """A call's caller, waiting for its answer."""

    done: threading.Event = field(default_factory=threading.Event)
    outcome: tuple[bool, Any] = (False, None)

    def answer(self, ok: bool, value: Any) -> None:
        """Hand the caller ``value`` (a result, or an exception when not ``ok``)."""
        self.outcome = (ok, value)
        self.done.set()


class Ledger:
    """The messages kept, their waiters, the numbers settled and the counts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._messages: deque[Message] = deque()
        self._by_token: dict[int, Message] = {}
        self._flushes: dict[int, Callable[[], None]] = {}
        self._calls: dict[int, Waiter] = {}
        self.settled = (0, 0)  # the last (log, metric) numbers reported settled
        self.dead = Counts()  # writer processes that ended, and rows counted here
        self.live = Counts()  # what the current writer process reported
        self.failed_here = 0  # records that never reached a writer process
        self.last_commit: float | None = None
        self.closed = False  # close() has counted what was kept: nothing more is
        self._label = ""

    def keep(self, message: Message, waiter: Callable[[], None] | Waiter | None = None) -> bool:
        """Keep ``message`` (with the flush's ``done`` or the call's ``Waiter``).

        False once the ledger is closed (a listener that outlived ``close()``): its rows
        are counted as failed and its waiter released, and it must not be sent.
        """
        with self.lock:
            if not self.closed:
                self._messages.append(message)
                if message.token:
                    self._by_token[message.token] = message
                if isinstance(waiter, Waiter):
                    self._calls[message.token] = waiter
                elif waiter is not None:
                    self._flushes[message.token] = waiter
                return True
            self.failed_here += message.rows
        if isinstance(waiter, Waiter):
            waiter.answer(False, SQLiteLoggingError(_closed_before(self._label)))
        elif waiter is not None:
            waiter()
        return False

    def kept(self) -> list[Message]:
        """The messages kept, oldest first."""
        with self.lock:
            return list(self._messages)

    def empty(self) -> bool:
        """Whether everything sent is settled."""
        with self.lock:
            return not self._messages

    def count_failed(self, count: int) -> None:
        """Count records that never reached a writer process."""
        with self.lock:
            self.failed_here += count

    def report(self, message: tuple[Any, ...]) -> bool:
        """Take a ``SETTLED`` answer; whether it settled anything new."""
        _, logs, metrics, written, failed, batches, last_commit, _, restarts = message
        with self.lock:
            live = self.live  # counts are cumulative: answers may arrive out of order
            live.written = max(live.written, written)
            live.failed = max(live.failed, failed)
            live.batches = max(live.batches, batches)
            live.restarts = max(live.restarts, restarts)
            if last_commit is not None:
                self.last_commit = max(self.last_commit or 0.0, last_commit)
            settled = (max(self.settled[0], logs), max(self.settled[1], metrics))
            new = settled != self.settled
            self.settled = settled
            for kept in self._messages:
                if kept.kind == ROWS and kept.settled_by(*settled):
                    kept.done = True
            self._drop_done()
        return new

    def answered(self, token: int, outcome: tuple[bool, Any] | None = None) -> None:
        """A flush marker or a call was answered: release its waiter."""
        with self.lock:
            kept = self._by_token.pop(token, None)
            if kept is not None:
                kept.done = True
            self._drop_done()
            flushed = self._flushes.pop(token, None)
            waiter = self._calls.pop(token, None)
        if flushed is not None:
            flushed()
        if waiter is not None and outcome is not None:
            waiter.answer(*outcome)

    def _drop_done(self) -> None:
        messages = self._messages
        while messages and messages[0].done:
            messages.popleft()

    def writer_ended(self) -> None:
        """The current writer process ended: its counts join the dead ones'."""
        with self.lock:
            self.dead.add(self.live)
            self.dead.restarts += 1
            self.live = Counts()

    def fail_calls_sent(self) -> None:
        """Calls a dead writer process may or may not have run: never run them twice."""
        cause = SQLiteLoggingError("the writer process died while running the statement")
        for message in self.kept():
            if message.kind == CALL:
                self.answered(message.token, (False, cause))

    def give_up_oldest(self) -> int:
        """Settle the oldest kept message as failed; how many rows it carried."""
        with self.lock:
            oldest = next((m for m in self._messages if not m.done), None)
            if oldest is None:
                return 0
            oldest.done = True
            self.failed_here += oldest.rows
            self._drop_done()
            self._by_token.pop(oldest.token, None)
            flushed = self._flushes.pop(oldest.token, None)
            waiter = self._calls.pop(oldest.token, None)
        if flushed is not None:  # flush() then returns, and says False if rows failed
            flushed()
        if waiter is not None:
            waiter.answer(False, SQLiteLoggingError("the writer processes kept dying"))
        return oldest.rows

    def replay(self, thread: ThreadTransport, committed: tuple[int, int]) -> None:
        """Give everything kept, in order, to a writer thread.

        Rows numbered up to ``committed`` were committed by a writer process: skipped,
        and counted as written unless a writer process reported them already.
        """
        with self.lock:
            kept, self._messages = list(self._messages), deque()
            self._by_token.clear()
        for message in kept:
            if message.kind == ROWS:
                self._replay_rows(thread, message, committed)
            elif message.kind == FLUSH:
                with self.lock:
                    done = self._flushes.pop(message.token, _nothing)
                thread.flush(done)
            elif message.kind == CALL:
                self._replay_call(thread, message)

    def _replay_rows(
        self, thread: ThreadTransport, message: Message, committed: tuple[int, int]
    ) -> None:
        _, first_log, first_metric, logs, metrics = message.payload()
        skip_logs = up_to(first_log, len(logs), committed[0])
        skip_metrics = up_to(first_metric, len(metrics), committed[1])
        newly = message.rows_up_to(*committed) - message.rows_up_to(*self.settled)
        with self.lock:
            self.dead.written += max(0, newly)
        thread.add_rows(*finish_entries(logs[skip_logs:], metrics[skip_metrics:]))

    def _replay_call(self, thread: ThreadTransport, message: Message) -> None:
        with self.lock:
            waiter = self._calls.pop(message.token, None)
        if waiter is None:
            return
        _, _, fn, args = message.payload()
        try:
            if fn is None:  # the whole upkeep
                thread.maintain_now(FALLBACK_CALL_TIMEOUT)
                waiter.answer(True, None)
            else:
                waiter.answer(True, thread.call(fn, args, FALLBACK_CALL_TIMEOUT))
        except BaseException as exc:
            waiter.answer(False, exc)

    def close(self, committed: Callable[[], tuple[int, int]], label: str) -> int:
        """The handler closed: count what is kept, release every waiter; unwritten rows.

        Rows the database shows committed (``committed()`` reads it, only if rows are
        left) are counted as written; the others as failed.
        """
        with self.lock:
            self.closed, self._label = True, label
            kept, self._messages = list(self._messages), deque()
            flushes, self._flushes = list(self._flushes.values()), {}
            calls, self._calls = list(self._calls.values()), {}
        closed = SQLiteLoggingError(_closed_before(label))
        for waiter in calls:
            waiter.answer(False, closed)
        rows = [message for message in kept if message.kind == ROWS and not message.done]
        unwritten = 0
        if rows:
            stored_up_to, settled = committed(), self.settled
            newly = 0
            for message in rows:
                counted = message.rows_up_to(*settled)
                stored = max(message.rows_up_to(*stored_up_to), counted)
                newly += stored - counted
                unwritten += message.rows - stored
            with self.lock:
                self.dead.written += newly
                self.failed_here += unwritten
        for flushed in flushes:
            flushed()
        return unwritten


def _nothing() -> None:
    pass


def _closed_before(label: str) -> str:
    return f"the handler of {label} was closed before the statement ran"
