"""Writing records that reach a handler after its pipeline stopped, one thread at a time.

While the process ends (a finalizer, a daemon thread or an ``atexit`` hook after
``logging.shutdown()``), no pipeline runs any more: such a record is written on the
caller's thread, in a transaction of its own, on a short-lived connection.

That write must be re-entrant. A signal handler or a finalizer the GC runs can log on
the same thread while the write is under way (inside ``BEGIN IMMEDIATE``): a second
connection of that thread would wait for the write lock its own thread holds (and give
up, the record lost, after ``LATE_WRITE_TIMEOUT``), and nested signal handlers would
pile up to a ``RecursionError``. So a thread writes late records one call at a time:
a record logged re-entrantly goes to the thread's pending list, which the outer call
writes once its own write is done. No lock is taken: the list is the thread's own, and
appending to it is atomic under the GIL.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import TYPE_CHECKING, Any

from . import schema
from ._records import is_metric, log_row, metric_row, sanitize_row
from ._reentrancy import add
from ._stderr import write_stderr

if TYPE_CHECKING:
    from ._caller import CallerSide

__all__ = ["LATE_WRITE_TIMEOUT", "REPORT_LINES", "write_late", "write_late_in_turn"]

#: Seconds a record written after close waits for another writer's lock.
LATE_WRITE_TIMEOUT = 5.0
#: Late records that cannot be stored are said on stderr one line each, up to this many.
REPORT_LINES = 10

Items = list[tuple[Any, ...]]

# Threads writing late records now, and what was logged on each meanwhile: the
# records of re-entrant calls (signal handlers, finalizers), written by the outer one.
_PENDING: dict[int, list[tuple[CallerSide, Items]]] = {}


def write_late_in_turn(handler: CallerSide, items: Items) -> None:
    """Write ``items`` of a closed ``handler`` now, or after this thread's write under way.

    Counts them in the handler's ``_late_written`` or ``_late_failed`` once written or
    not. Never waits for anything its own thread holds. A ``BaseException`` (a
    ``KeyboardInterrupt`` from a signal handler) during a write ends the call: the
    records not written are counted as failed and said on stderr, then it propagates.
    """
    me = threading.get_ident()
    pending = _PENDING.get(me)
    if pending is not None:  # this thread is writing: it writes these next
        pending.append((handler, items))
        return
    pending = [(handler, items)]
    current: tuple[CallerSide, Items] | None = None
    connections = _Connections()  # one per database for the whole call: cheap rounds
    try:
        while pending:  # a record logged after the inner loop ended, before the pop
            _PENDING[me] = pending
            try:
                while pending:
                    current = _next_batch(pending)
                    _write_counted(*current, connections)
                    current = None
            finally:
                _PENDING.pop(me, None)
                if not pending:
                    connections.close()
    except BaseException as exc:
        connections.close()
        left = ([current] if current is not None else []) + pending
        del pending[:]
        for owner, batch in left:
            add(owner._late_failed, len(batch))
            report_unstored(owner.database, batch, f"{type(exc).__name__} while writing")
        raise


def _next_batch(pending: list[tuple[CallerSide, Items]]) -> tuple[CallerSide, Items]:
    """Take the first pending entry, with the entries of the same handler that follow it."""
    owner, items = pending.pop(0)
    batch = list(items)
    while pending and pending[0][0] is owner:
        batch.extend(pending.pop(0)[1])
    return owner, batch


class _Connections:
    """The short-lived connections of one late write, by URI, closed together.

    A round of a late write (one transaction) on an open connection takes a fraction
    of a millisecond; opening and closing one (the last connection's close checkpoints
    the WAL) takes a few: signals every millisecond must not outpace the rounds.
    """

    def __init__(self) -> None:
        self._open: dict[str, sqlite3.Connection] = {}

    def get(self, uri: str) -> sqlite3.Connection:
        conn = self._open.get(uri)
        if conn is None:
            if "mode=" not in uri:  # the existing database only: not one without tables
                uri = f"{uri}{'&' if '?' in uri else '?'}mode=rw"
            conn = sqlite3.connect(uri, uri=True, timeout=LATE_WRITE_TIMEOUT, isolation_level=None)
            conn.execute("PRAGMA synchronous=NORMAL")  # as the writer's connection
            self._open[uri] = conn
        return conn

    def discard(self, uri: str) -> None:
        conn = self._open.pop(uri, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        while self._open:
            self._open.popitem()[1].close()


def _write_counted(handler: CallerSide, items: Items, connections: _Connections) -> None:
    if write_late(handler.database, handler._uri, items, connections):
        add(handler._late_written, len(items))
    else:
        add(handler._late_failed, len(items))


def write_late(
    database: str, uri: str, items: Items, connections: _Connections | None = None
) -> bool:
    """Write records that reached a handler after its pipeline stopped; whether they were.

    They are written in one transaction on a short-lived connection. What cannot be
    written is said on stderr record by record, the message included: nothing else
    could report it any more (an in-memory database is gone once its handler closed).
    """
    if database == ":memory:":
        cause = "an in-memory database ends with its handler"
    else:
        own = connections is None
        connections = _Connections() if connections is None else connections
        try:
            _write_directly(connections.get(uri), items)
        except Exception as exc:
            cause = f"{type(exc).__name__}: {exc}"
            connections.discard(uri)  # a fresh one for the next round
        else:
            return True
        finally:
            if own:
                connections.close()
    report_unstored(database, items, cause)
    return False


def report_unstored(database: str, items: Items, cause: str) -> None:
    """Say on stderr, record by record (up to ``REPORT_LINES``), what was not stored."""
    for record, message, *_ in items[:REPORT_LINES]:
        write_stderr(
            f"not stored, logged after the handler of {database} closed ({cause}): "
            f"{record.levelname} {record.name}: {message}"
        )
    if len(items) > REPORT_LINES:
        write_stderr(f"... and {len(items) - REPORT_LINES} more record(s) not stored")


def _write_directly(conn: sqlite3.Connection, items: Items) -> None:
    """Write queued-record ``items`` in one transaction on ``conn``.

    Raises ``sqlite3.Error`` if it cannot write (the transaction is rolled back).
    """
    logs = [sanitize_row(log_row(*item)) for item in items if not is_metric(item[0])]
    metrics = [sanitize_row(metric_row(item[0])) for item in items if is_metric(item[0])]
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, rows in (("logs", logs), ("metrics", metrics)):
            if rows:
                conn.executemany(schema.insert_sql(table, 1), rows)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
