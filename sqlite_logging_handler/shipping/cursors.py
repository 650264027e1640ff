"""The ``ship_cursors`` table: where each destination's acknowledged rows end.

One row per destination. A cursor moves only after the destination acknowledged the
rows up to it, in one short write transaction that also adds to the counts, so a
shipper killed at any moment resumes exactly after what was acknowledged, and no count
is added twice. The writer waits such a write out like any other (busy timeout).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from .. import schema
from ..exceptions import SchemaVersionError, SQLiteLoggingError
from .errors import ShippingError, one_line
from .source import RowSource

__all__ = [
    "Cursor",
    "CursorStore",
    "cursor_status",
    "open_log_database",
    "read_cursors",
    "shipping_status",
]

_TABLE = schema.SHIP_CURSOR_TABLE
#: Seconds a cursor write waits out other writers before giving up (then the rows are
#: sent again later: at least once).
WRITE_TIMEOUT = 60.0
#: Longest error text kept in the table.
_MAX_ERROR = 2000
_PREFIX = {"logs": "log", "metrics": "metric"}


@dataclass
class Cursor:
    """One destination's row of ``ship_cursors``."""

    destination: str
    log_id: int = 0
    metric_id: int = 0
    logs_shipped: int = 0
    metrics_shipped: int = 0
    logs_pruned: int = 0
    metrics_pruned: int = 0
    logs_rejected: int = 0
    metrics_rejected: int = 0
    last_success: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None

    def position(self, table: str) -> int:
        """The last acknowledged id of ``table`` ("logs" or "metrics")."""
        return self.log_id if table == "logs" else self.metric_id


def open_log_database(database: str | os.PathLike[str]) -> sqlite3.Connection:
    """A write connection to an existing log database of the current schema version.

    A shipper never upgrades a database: the application writing it may still run the
    version of this package that wrote it, which could then no longer open it.

    Raises:
        FileNotFoundError: no such file (a shipper never creates a database).
        SchemaVersionError: an older schema (run ``sqlite-logs upgrade`` first) or a newer.
        SQLiteLoggingError: the file is not a log database, or cannot be written.
    """
    path = os.fspath(database)
    if not path.startswith("file:") and not os.path.isfile(path):
        msg = f"no log database at {path!r}"
        raise FileNotFoundError(msg)
    conn = schema.connect(schema.database_uri(path), timeout=WRITE_TIMEOUT)
    try:
        # A cursor update lost to a power cut only makes rows be sent again (at least
        # once), so it need not wait for the disk (WAL: durable at the next checkpoint).
        conn.execute("PRAGMA synchronous = NORMAL")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "logs" not in tables:
            msg = f"{path!r} has no log tables: is it a database written by SQLiteHandler?"
            raise SQLiteLoggingError(msg)
        _check_version(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        msg = f"cannot use {path!r} as a log database to ship from: {exc}"
        raise SQLiteLoggingError(msg) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _check_version(conn: sqlite3.Connection, path: str) -> None:
    version = schema.schema_version(conn)
    if version > schema.SCHEMA_VERSION:
        msg = (
            f"{path!r} has schema version {version}, newer than this package's "
            f"{schema.SCHEMA_VERSION}: upgrade sqlite-logging-handler to ship from it"
        )
        raise SchemaVersionError(msg)
    if version < schema.SCHEMA_VERSION:
        msg = (
            f"{path!r} has schema version {version}; shipping needs version "
            f"{schema.SCHEMA_VERSION} (its ship_cursors table). Upgrade it once the "
            f"applications writing it run this version: sqlite-logs --db {path} upgrade"
        )
        raise SchemaVersionError(msg)


class CursorStore:
    """Reads and moves the cursors of one destination, on a write connection of its own.

    Args:
        conn: a write connection (``open_log_database``); closed by ``close()``.
        destination: the destination's key, e.g. ``otlp http://collector:4318/``.
    """

    def __init__(self, conn: sqlite3.Connection, destination: str) -> None:
        self._conn = conn
        self.destination = destination
        self._write(f"INSERT OR IGNORE INTO {_TABLE} (destination) VALUES (?)", (destination,))

    def load(self) -> Cursor:
        """The destination's cursor as stored now.

        Raises:
            ShippingError: its row is gone (deleted by hand, or another file is read).
        """
        found = read_cursors(self._conn, self.destination)
        if not found:
            msg = (
                f"the cursor of {self.destination} is gone from the database (its "
                f"{_TABLE} row was deleted, or another file was put in its place): stopped "
                "rather than ship everything again"
            )
            raise ShippingError(msg)
        return found[0]

    def advance(
        self, table: str, last: int, *, shipped: int, pruned: int = 0, rejected: int = 0
    ) -> None:
        """Move ``table``'s cursor to ``last`` (never back) and add to its counts.

        ``last_success`` is the time of this move if the destination accepted a row
        (``shipped``): rows only rejected or pruned are no success.
        """
        p = _PREFIX[table]
        self._write(
            f"UPDATE {_TABLE} SET {p}_id = max({p}_id, ?), {table}_shipped = {table}_shipped + ?, "
            f"{table}_pruned = {table}_pruned + ?, {table}_rejected = {table}_rejected + ?, "
            "last_success = CASE WHEN ? > 0 THEN ? ELSE last_success END WHERE destination = ?",
            (last, shipped, pruned, rejected, shipped, time.time(), self.destination),
        )

    def record_error(self, message: str) -> None:
        """Keep ``message`` as the destination's last error (shown by ``ship --status``)."""
        self._write(
            f"UPDATE {_TABLE} SET last_error = ?, last_error_at = ? WHERE destination = ?",
            (one_line(message)[:_MAX_ERROR], time.time(), self.destination),
        )

    def close(self, *, empty_wal: bool = False) -> None:
        """Close the write connection. Idempotent.

        ``empty_wal``: first copy the WAL into the database and truncate it (for a
        database moved away: its WAL may still have the name a new file pairs with).
        """
        if empty_wal:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        self._conn.close()

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        def write() -> None:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(sql, params)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

        schema.retry_while_busy(write, WRITE_TIMEOUT)


def read_cursors(conn: sqlite3.Connection, destination: str | None = None) -> list[Cursor]:
    """The stored cursors (of ``destination`` only, if given); [] before schema version 3."""
    fields = ", ".join(Cursor.__dataclass_fields__)
    sql = f"SELECT {fields} FROM {_TABLE}"
    params: tuple[str, ...] = ()
    if destination is not None:
        sql += " WHERE destination = ?"
        params = (destination,)
    try:
        found = conn.execute(sql + " ORDER BY destination", params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    return [Cursor(*row) for row in found]


def shipping_status(database: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every destination's cursor in ``database``, as ``sqlite-logs ship --status`` shows it.

    Reads only (a database that never shipped, or an older one, has none: ``[]``).

    Raises:
        FileNotFoundError: the database does not exist.
    """
    source = RowSource(database)
    try:
        return [cursor_status(c, source) for c in read_cursors(source.connection())]
    finally:
        source.close()


def cursor_status(cursor: Cursor, source: RowSource) -> dict[str, Any]:
    """A cursor as ``ship --status`` shows it, with the rows behind it counted."""
    status: dict[str, Any] = dict(vars(cursor))
    status["logs_behind"] = source.behind("logs", cursor.log_id)
    status["metrics_behind"] = source.behind("metrics", cursor.metric_id)
    return status
