"""The seam between the listener and the batching writer: one interface, two transports.

The listener hands each chunk of queued records to a ``Transport``, and flush markers
between them; where the writer runs is the transport's business:

- ``ThreadTransport`` (``writer="thread"``) turns the records into rows and gives them
  to a ``BatchWriter`` whose worker thread runs in this process;
- ``ProcessTransport`` (``writer="process"``, in ``_process_transport``) sends compact
  entries to a writer process that runs the same ``BatchWriter``.

``WriterSpec`` holds everything a writer needs and pickles, so either side builds the
same writer from it (``new_batch_writer``), with the same retention and WAL upkeep
(``_upkeep``). Operations on the write connection (``Transport.call``) are module-level
functions taking the connection first, so they pickle by reference.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any, Protocol

from . import _access, _closing, _stderr, _timed, _transactions, _upkeep, _writer, schema
from ._closing import CloseReport
from ._records import Row, is_metric, log_row, metric_row
from ._writer import AfterCommit, BatchWriter

__all__ = [
    "YIELD_EVERY",
    "Item",
    "ThreadTransport",
    "Transport",
    "WriterSpec",
    "new_batch_writer",
    "open_database",
]

#: Records the listener converts between two offers of the GIL (``time.sleep(0)``).
#: A thread that wants the GIL back (the application's, or the writer's returning
#: from SQLite) otherwise waits for the interpreter's switch interval, 5 ms, while
#: this thread converts records; measured here: the application's cost per call
#: drops about 10 %, and the writer's SQLite work overlaps more with this thread.
YIELD_EVERY = 32

#: A queued record: (record, message, exc_text, stack_text[, trace]), as emit made it.
Item = tuple[Any, ...]

#: Module-level settings of the writer that a writer process must share with the
#: application (tests and tuning change them there): (module, name).
_TUNABLES: tuple[tuple[ModuleType, str], ...] = (
    (_transactions, "RETRY_FOR"),
    (_stderr, "REPORT_EVERY"),
    (_timed, "RELEASE_MEMORY_EVERY"),
    (_timed, "RELEASE_MEMORY_ROWS"),
    (_writer, "GATE_TIMEOUT"),
    (_upkeep, "MAINTAIN_EVERY"),
    (_upkeep, "WAL_CHECKPOINT_SIZE"),
    (_upkeep, "BUDGET"),
    (_upkeep, "RECLAIM_PAGES"),
    (_closing, "DRAIN_TIMEOUT"),
)


@dataclass(frozen=True)
class WriterSpec:
    """What a batching writer needs, in a form that pickles (for a writer process).

    Args:
        uri: the database's ``file:`` URI.
        label: how the database is named in messages (its path).
        path: the database file, watched for removal; None for an in-memory one.
        pragmas: the write connection's PRAGMAs (defaults merged in).
        full_text: keep the ``logs_fts`` index.
        batch_size: most rows per transaction.
        flush_interval: most seconds a row waits for its commit.
        retention: seconds after which rows are pruned, or None.
        max_rows: log rows kept at most, or None.
        tuning: the writer modules' settings, as the application has them
            (``current_tuning()``), for a writer process to take on.
    """

    uri: str
    label: str
    path: str | None
    pragmas: Mapping[str, object]
    full_text: bool
    batch_size: int
    flush_interval: float
    retention: float | None = None
    max_rows: int | None = None
    tuning: Mapping[str, float] = field(default_factory=dict)

    @staticmethod
    def current_tuning() -> dict[str, float]:
        """The writer modules' settings as they are now in this process."""
        return {f"{module.__name__}.{name}": getattr(module, name) for module, name in _TUNABLES}

    def apply_tuning(self) -> None:
        """Give this process's writer modules the settings of the spec (writer process)."""
        for module, name in _TUNABLES:
            key = f"{module.__name__}.{name}"
            if key in self.tuning:
                setattr(module, name, self.tuning[key])


def open_database(spec: WriterSpec) -> sqlite3.Connection:
    """A write connection: PRAGMAs applied, schema (and full-text index) in place."""
    conn = schema.open_for_writing(spec.uri, spec.pragmas)
    if spec.full_text:
        try:
            schema.ensure_full_text(conn)
        except BaseException:
            conn.close()
            raise
    return conn


def new_batch_writer(
    spec: WriterSpec,
    *,
    after_commit: AfterCommit | None = None,
    **hooks: Any,
) -> BatchWriter:
    """The batching writer ``spec`` describes (its worker thread starts now).

    ``hooks`` are passed on to ``BatchWriter`` (``in_transaction``, ``on_settled``).
    """
    return BatchWriter(
        partial(open_database, spec),
        spec.label,
        path=spec.path,
        batch_size=spec.batch_size,
        flush_interval=spec.flush_interval,
        after_commit=after_commit,
        maintain=_upkeep.Upkeep(spec.path, spec.retention, spec.max_rows).run,
        maintain_every=_upkeep.MAINTAIN_EVERY,
        describe_error=functools.partial(_access.write_error_cause, spec.label),
        **hooks,
    )


class Transport(Protocol):
    """Where the listener's records go: a writer in this process or in a writer process.

    ``send`` and ``flush`` are called from the listener thread, in the order of the
    queue; ``call`` from any thread; ``close`` once, after the listener has stopped.
    The counters add up as the handler's ``stats()`` promise: every record passed to
    ``send`` is eventually counted once, in ``written`` or ``failed``.
    """

    @property
    def written(self) -> int:
        """Rows committed."""

    @property
    def failed(self) -> int:
        """Rows (and records) that could not be written."""

    @property
    def batches(self) -> int:
        """Transactions committed."""

    @property
    def restarts(self) -> int:
        """Writers (threads or processes) replaced after dying."""

    @property
    def last_commit(self) -> float | None:
        """``time.time()`` of the last commit, or None before one."""

    @property
    def ended(self) -> bool:
        """Whether ``close()`` has ended the writer: records sent now are not written."""

    @property
    def close_report(self) -> CloseReport:
        """Why ``close()`` left records unwritten (the line it ends with)."""

    def count_unwritten(self, count: int) -> None:
        """Count records that reached the transport after ``close()`` ended it."""

    def send(self, items: list[Item]) -> None:
        """Write these records (after everything sent before)."""

    def flush(self, done: Callable[[], None]) -> None:
        """Commit what was sent; call ``done()`` once all of it is settled."""

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> Any:
        """``fn(connection, *args)`` on the write connection; its result or exception."""

    def maintain_now(self, timeout: float) -> None:
        """The whole upkeep now (``SQLiteHandler.maintain()``), after what was sent."""

    def record_failure(self, cause: str) -> None:
        """Count a record that could not be converted."""

    def progress(self) -> int:
        """A number that changes whenever the writer settles something."""

    def check(self) -> None:
        """Replace a writer that died (thread or process)."""

    def closing(self, deadline: float) -> None:
        """``close()`` has begun, and gives up at ``deadline`` (``time.monotonic()``)."""

    def close(self, deadline: float) -> int:
        """Write what was sent and stop, by ``deadline``; how many rows were not written."""

    def pause(self, timeout: float) -> bool:
        """Before ``fork()``: close every SQLite connection of this process it holds."""

    def resume(self) -> None:
        """After ``fork()``, in the parent: undo a successful ``pause``."""

    def abandon(self) -> None:
        """In a forked child: let go of the parent's writer without touching it."""


class ThreadTransport:
    """The writer in this process: records become rows here, a worker thread commits.

    Args:
        spec: the writer to build.
        after_commit: ``after_commit(connection, id_ranges)`` on the worker after each
            commit (the handler's hooks).
    """

    def __init__(self, spec: WriterSpec, after_commit: AfterCommit | None = None) -> None:
        self.writer = new_batch_writer(spec, after_commit=after_commit)
        self.failed_here = 0

    @property
    def written(self) -> int:
        """Rows committed."""
        return self.writer.written

    @property
    def failed(self) -> int:
        """Rows (and records) that could not be written."""
        return self.writer.failed

    @property
    def batches(self) -> int:
        """Transactions committed."""
        return self.writer.batches

    @property
    def restarts(self) -> int:
        """Worker threads replaced after dying."""
        return self.writer.restarts

    @property
    def last_commit(self) -> float | None:
        """``time.time()`` of the last commit, or None."""
        return self.writer.last_commit

    @property
    def ended(self) -> bool:
        """See ``Transport.ended``."""
        return self.writer.ended

    @property
    def close_report(self) -> CloseReport:
        """See ``Transport.close_report``."""
        return self.writer.close_report

    def count_unwritten(self, count: int) -> None:
        """See ``Transport.count_unwritten``."""
        self.writer.count_unwritten(count)

    def send(self, items: list[Item]) -> None:
        """Turn the records into rows and add them to the writer's batches."""
        writer = self.writer
        logs: list[Row] = []
        metrics: list[Row] = []
        add_log, add_metric = logs.append, metrics.append
        for n, item in enumerate(items):
            if not n % YIELD_EVERY:
                time.sleep(0)  # hand the GIL over now: see YIELD_EVERY
            try:
                if is_metric(item[0]):
                    add_metric(metric_row(item[0]))
                else:
                    add_log(log_row(*item))
            except BaseException as exc:  # an extra's __repr__ that exits, say
                writer.record_failure(f"{type(exc).__name__}: {exc}")
        writer.add_rows(logs, metrics)

    def add_rows(self, logs: list[Row], metrics: list[Row]) -> None:
        """Add finished rows (a writer process's unsent work, after a fallback)."""
        self.writer.add_rows(logs, metrics)

    def flush(self, done: Callable[[], None]) -> None:
        """See ``Transport.flush``."""
        self.writer.flush(done)

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> Any:
        """See ``Transport.call``."""
        return self.writer.call(partial(_apply, fn, args), timeout)

    def maintain_now(self, timeout: float) -> None:
        """See ``Transport.maintain_now``."""
        self.writer.maintain_now(timeout)

    def record_failure(self, cause: str) -> None:
        """See ``Transport.record_failure``."""
        self.writer.record_failure(cause)

    def progress(self) -> int:
        """See ``Transport.progress``."""
        return self.writer.progress()

    def check(self) -> None:
        """See ``Transport.check``."""
        self.writer.check_worker()

    def closing(self, deadline: float) -> None:
        """See ``Transport.closing``: the writer learns it in ``close()``, in time."""

    def close(self, deadline: float) -> int:
        """See ``Transport.close``."""
        return self.writer.close(deadline)

    def pause(self, timeout: float) -> bool:
        """See ``Transport.pause``."""
        return self.writer.pause(timeout)

    def resume(self) -> None:
        """See ``Transport.resume``."""
        self.writer.resume()

    def abandon(self) -> None:
        """Nothing to let go of: the child never uses the parent's worker thread."""


def _apply(fn: Callable[..., Any], args: tuple[Any, ...], conn: sqlite3.Connection) -> Any:
    return fn(conn, *args)
