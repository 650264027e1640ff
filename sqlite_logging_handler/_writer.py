"""The batching writer: groups rows into transactions and commits them on the worker.

It knows rows, not LogRecords. ``add_rows``, ``flush`` and ``close`` are called from the
handler's listener thread (``close`` from whichever thread closes the handler);
``_commit`` and the timed work (``_on_idle``) run on the worker thread, which owns the
connection. How a batch is committed, retried and counted is in ``_transactions``.

Time-driven work runs by the clock, not on the back of new records: the worker waits
for its next job with a deadline (``_next_due``), the earliest of an open batch's
flush interval, the upkeep (retention, space, WAL, every ``maintain_every`` seconds)
and the release of the page cache after a commit.

Once ``close()`` returns nothing more is committed (see ``_transactions``): rows that
still arrive are counted as failed, jobs still queued are cancelled, a statement still
running is interrupted and a transaction still waiting for a lock rolls back.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from ._batch import Batch
from ._records import Row
from ._stderr import REPORT_EVERY, write_stderr
from ._timed import AfterCommit, Call, Maintain, TimedWork
from ._transactions import CLOSED, RETRY_FOR, WriterClosedError
from ._worker import Worker

__all__ = [
    "GATE_TIMEOUT",
    "REPORT_EVERY",
    "RETRY_FOR",
    "AfterCommit",
    "BatchWriter",
    "InTransaction",
    "OnSettled",
    "WriterClosedError",
    "write_stderr",
]

_T = TypeVar("_T")
#: ``in_transaction(connection, log_rows, metric_rows)``: more statements in a batch's
#: transaction (a writer process records how far it has written, atomically).
InTransaction = Callable[[sqlite3.Connection, int, int], None]
#: ``on_settled(log_rows, metric_rows, id_ranges)``: a batch was written (id ranges)
#: or counted as failed (no ranges); batches settle in the order of their rows.
OnSettled = Callable[[int, int, list[tuple[str, int, int]]], None]
#: Seconds ``close()`` waits for a COMMIT under way (on a stalled disk) to end.
GATE_TIMEOUT = 2.0
#: Seconds the worker sleeps at most at a time (a due time further off is re-read).
_LONGEST_WAIT = 3600.0
#: Seconds between looks at a deadline that ``give_up_at`` may bring forward.
_ROOM_SLICE = 0.25


class BatchWriter(TimedWork):
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
        maintain: the upkeep (retention, space, WAL), run on the worker by the clock
            every ``maintain_every`` seconds (also while no rows arrive), once when the
            worker starts and once at ``close()``; its errors are contained.
        describe_error: turns a write error into the cause named on stderr.
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
        describe_error: Callable[[object], object] = lambda cause: cause,
        in_transaction: InTransaction | None = None,
        on_settled: OnSettled | None = None,
    ) -> None:
        super().__init__(
            opener,
            label,
            path=path,
            batch_size=batch_size,
            describe_error=describe_error,
            after_commit=after_commit,
            maintain=maintain,
            maintain_every=maintain_every,
        )
        self._in_transaction = in_transaction
        self._on_settled = on_settled
        self._flush_interval = flush_interval
        self._logs: list[Row] = []
        self._metrics: list[Row] = []
        self._size = 0
        self._due: float | None = None
        self._inflight: Batch | None = None
        self.restarts = 0
        self._worker = self._new_worker()

    # -- listener thread ------------------------------------------------------------

    def add_rows(self, logs: list[Row], metrics: list[Row]) -> None:
        """Add rows; hand every full batch to the worker (waiting for room if need be)."""
        count = len(logs) + len(metrics)
        if not count:
            return
        opened = False
        with self._lock:
            ended = self._ended
            if not ended:
                opened = not self._size
                self._logs.extend(logs)
                self._metrics.extend(metrics)
                self._size += count
                if opened:
                    self._due = time.monotonic() + self._flush_interval
        if ended:  # the listener outlived close(): count them, never write them
            self._count_failed(count, CLOSED)
            return
        self._ship(everything=False)
        if opened and self._size:
            self._worker.wake()  # a batch is open: the worker must watch its deadline

    def flush(self, done: Callable[[], None]) -> None:
        """Commit the open batch now and call ``done`` on the worker once it is."""
        if self._ended:
            done()
            return
        self._ship(everything=True)
        if not self._submit(done, self._abort_at):
            done()  # closed meanwhile: release the waiter (close() counted the rows)

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
                while not self._ended and (
                    self._size >= self._batch_size or (everything and self._size)
                ):
                    batch = self._take_batch()
                    if not self._worker.try_submit(partial(self._commit, batch)):
                        self._put_back(batch)
                        break
                else:
                    return
            if not self._wait_for_room():
                return  # closing, or the worker died: close() and check_worker() take over

    def _wait_for_room(self) -> bool:
        """Wait for room in the worker's queue; False at ``_abort_at`` or if it died.

        Waits in slices: ``give_up_at`` may bring the deadline forward meanwhile.
        """
        worker = self._worker
        while not worker.wait_for_room(min(self._abort_at, time.monotonic() + _ROOM_SLICE)):
            if time.monotonic() >= self._abort_at or not worker.is_alive():
                return False
        return True

    def give_up_at(self, deadline: float) -> None:
        """``close()`` will give up at ``deadline``: waits for room, calls and retries end then.

        A writer process is told this before its input ends (the rows before the end
        may be waiting for room meanwhile): at ``CLOSE``, or as soon as it sees that
        its application has ended without closing.
        """
        self._abort_at = min(self._abort_at, deadline)

    def call(self, fn: Callable[[sqlite3.Connection], _T], timeout: float) -> _T:
        """Run ``fn(connection)`` on the worker, after the jobs queued so far.

        Returns what ``fn`` returns, or raises what it raised; ``TimeoutError`` if it
        has not run within ``timeout`` seconds, or by the deadline ``give_up_at`` set
        (also one set while it waits); ``SQLiteLoggingError`` if the writer was closed
        before it ran.
        """
        job = Call(self, fn)
        deadline = time.monotonic() + timeout
        if not self._submit(job, min(deadline, self._abort_at)) and self._ended:
            job.cancel(self._closed_before)
        while not job.done.wait(_ROOM_SLICE):  # in slices: give_up_at may come meanwhile
            now = time.monotonic()
            if now >= deadline:
                msg = f"the writer of {self._label} did not run the statement within {timeout} s"
                raise TimeoutError(msg)
            if now >= self._abort_at:
                msg = f"the writer of {self._label} gave up before the statement ran"
                raise TimeoutError(msg)
        assert job.outcome is not None  # set before done
        ok, value = job.outcome
        if not ok:
            raise value
        result: _T = value
        return result

    @property
    def _closed_before(self) -> str:
        return f"the handler of {self._label} was closed before the statement ran"

    def maintain_now(self, timeout: float) -> None:
        """Run the whole upkeep now, without its time budget, on the worker.

        The clock of the timed upkeep starts again from here (all of it was just done).
        """
        maintain = self._maintain
        if maintain is not None:
            self.call(partial(self._maintain_all, maintain), timeout)

    def _maintain_all(self, maintain: Maintain, conn: sqlite3.Connection) -> None:
        maintain(conn, idle=True, thorough=True, commit=self._commit_guarded)
        self._upkept_batches = self.batches
        self._upkeep_due = time.monotonic() + self._maintain_every

    def check_worker(self) -> None:
        """Replace the worker if its thread has died (it should not: it contains errors)."""
        if not self._ended and not self._worker.is_alive():
            self._replace_worker()

    def close(self, deadline: float) -> int:
        """Commit what is pending, stop the worker; by ``deadline``, else give up.

        Returns how many rows could not be written (already counted in ``failed``).
        Once it returns, nothing more is committed: rows that arrive later are counted
        as failed, and a job the worker is still stuck in rolls back.
        """
        self._abort_at = deadline
        failed_before = self.failed
        with self._lock:
            batch = self._take()
        if batch is not None and not self._submit(partial(self._commit, batch), deadline):
            self._settle(batch, written=False, cause=CLOSED)
        self._submit(Call(self, self._last_upkeep), deadline)
        self._end(stopped=self._worker.stop(deadline))
        return self.failed - failed_before

    def _end(self, *, stopped: bool) -> None:
        """Shut the gate: from now on no COMMIT gets through; count what is left as failed."""
        gate = self._gate.acquire(timeout=GATE_TIMEOUT)  # a COMMIT under way ends first
        try:  # without the gate (a COMMIT stalled on the disk), _settle corrects the counts
            with self._lock:  # _ship checks it under the lock: no batch is queued after
                self._ended = True
        finally:
            if gate:
                self._gate.release()
        if not stopped:
            self.close_report.gave_up()  # why, as it is now: before the interrupt
            self._abort.set()  # a job waiting to retry gives up at once
            self._worker.interrupt()  # a statement still running ends now
            inflight = self._inflight
            if inflight is not None and not inflight.committed:  # else the worker counts it
                self._settle(inflight, written=False, cause=CLOSED)
        self._give_up(self._worker.drain(), CLOSED)
        with self._lock:
            batch = self._take()
        if batch is not None:
            self._settle(batch, written=False, cause=CLOSED)

    def _take(self) -> Batch | None:
        """Detach all pending rows as a batch (caller holds the lock)."""
        if not self._size:
            return None
        batch = Batch(self._logs, self._metrics)
        self._logs, self._metrics = [], []
        self._size = 0
        self._due = None
        return batch

    def _put_back(self, batch: Batch) -> None:
        """Return a batch the worker had no room for to the head of pending (lock held)."""
        self._logs[:0] = batch.logs
        self._metrics[:0] = batch.metrics
        if not self._size:
            self._due = time.monotonic()  # it was due to be written already
        self._size += len(batch)

    def _take_batch(self) -> Batch:
        """Detach up to ``batch_size`` rows from the head of pending (caller holds the lock)."""
        size = self._batch_size
        logs, self._logs = self._logs[:size], self._logs[size:]
        rest = size - len(logs)
        metrics, self._metrics = self._metrics[:rest], self._metrics[rest:]
        self._size -= len(logs) + len(metrics)
        if not self._size:
            self._due = None
        return Batch(logs, metrics)

    def _submit(self, job: Callable[[], None], deadline: float) -> bool:
        """Queue a job for the worker, replacing the worker if its thread has died.

        False if it was not queued (the deadline passed, or the writer was closed); a
        job queued while ``close()`` ended the writer is taken back and given up.
        """
        while not self._ended and not self._worker.submit(job, deadline):
            if self._worker.is_alive():
                return False  # deadline passed
            self._replace_worker()
        if self._ended:
            self._give_up(self._worker.drain(), CLOSED)
            return False
        return True

    def _new_worker(self) -> Worker:
        return Worker(
            self._open, idle_due=self._next_due, on_idle=self._on_idle, on_error=self._worker_error
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
            if isinstance(job, partial) and isinstance(job.args[0], Batch):
                self._settle(job.args[0], written=False, cause=cause)
            elif isinstance(job, Call):
                job.cancel(self._closed_before)
            else:
                job()  # a flush marker: release its waiter

    # -- worker thread ----------------------------------------------------------------

    def _next_due(self) -> float | None:
        """When the worker must next act without a job: a batch, the upkeep, a release."""
        if self._ended:
            return None
        due = None
        for moment in (self._due, self._upkeep_due, self._release_due):
            if moment is not None and (due is None or moment < due):
                due = moment
        if due is not None and due - time.monotonic() > _LONGEST_WAIT:
            return time.monotonic() + _LONGEST_WAIT  # never: look again in a while
        return due

    def _on_idle(self) -> None:
        """The worker's queue stayed empty until ``_next_due()``: do what is due."""
        due = self._due
        if due is not None and time.monotonic() >= due:
            self._commit_due()
        else:
            self._timed_work(idle=True)

    def _commit_due(self) -> None:
        with self._lock:
            batch = self._take() if self._due is not None and not self._ended else None
        if batch is not None:
            self._commit(batch, idle=True)

    def _commit(self, batch: Batch, idle: bool = False) -> None:
        """Write ``batch`` in one transaction, retrying as the module docstring says."""
        self._inflight = batch
        try:
            self._write_with_retries(batch)
        finally:
            self._inflight = None
        if batch.written:
            self._committed(batch.ids, len(batch))
        self._timed_work(idle)

    def pause(self, timeout: float) -> bool:
        """Close the write connection once no statement runs, and keep it closed (fork)."""
        return self._worker.pause(timeout)

    def resume(self) -> None:
        """Undo a successful ``pause()``."""
        self._worker.resume()

    def _worker_error(self, exc: BaseException) -> None:
        write_stderr(f"writer error: {type(exc).__name__}: {exc}")
