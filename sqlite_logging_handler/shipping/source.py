"""Reading committed rows after a cursor, counting the ids that are gone.

The shipper's only view of the log database: a read-only connection, one short read
transaction per batch (so the writer is never blocked, and a checkpoint waits at most
one query), rows in id order as plain tuples in ``schema`` column order.

Ids only grow (``AUTOINCREMENT``: an id is never reused, and a transaction's rows get
ids above every committed row), so "every row with an id above the cursor" misses
nothing, and an id at or below the highest one ever issued (``sqlite_sequence``) that
has no row was deleted: by retention, ``max_rows``, ``prune``, or by hand.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import schema
from .._text import fetch_all
from .._tidy import tidy
from ..exceptions import SQLiteLoggingError

__all__ = ["TABLES", "Batch", "Row", "RowSource"]

#: The tables shipped, in the order each round visits them.
TABLES = ("logs", "metrics")
_SELECT = {
    "logs": ", ".join(schema.LOG_COLUMNS),
    "metrics": ", ".join(schema.METRIC_COLUMNS),
}

Row = tuple[Any, ...]


@dataclass
class Batch:
    """Rows of one table with ids in ``(after, last]``; every other id there is gone.

    (``last - after - len(rows)`` rows were deleted before they could be shipped.)
    """

    table: str
    rows: Sequence[Row]
    after: int
    last: int


class RowSource:
    """Reads a log database written by SQLiteHandler, read-only.

    Args:
        database: path of an existing log database.

    Raises:
        FileNotFoundError: there is no such file (a source never creates one).
    """

    def __init__(self, database: str | os.PathLike[str]) -> None:
        path = os.fspath(database)
        if not path.startswith("file:") and not os.path.isfile(path):
            msg = f"no log database at {path!r}"
            raise FileNotFoundError(msg)
        self.database = path
        self._conn: sqlite3.Connection | None = None
        self._opened: tuple[int, int] | None = None  # the file the connection reads

    def connection(self) -> sqlite3.Connection:
        """The read-only connection, opened on first use."""
        if self._conn is None:
            self._opened = _identity(self.database)
            try:
                self._conn = schema.connect(schema.database_uri(self.database, readonly=True))
            except sqlite3.Error as exc:
                msg = f"cannot read {self.database!r}: {exc}"
                raise SQLiteLoggingError(msg) from exc
        return self._conn

    def close(self) -> None:
        """Close the read connection (reopened on next use). Idempotent.

        The WAL files it needed go too, unless another connection uses them (``_tidy``).
        """
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            if _identity(self.database) == self._opened:  # not a file renamed over it
                tidy(self.database)

    def read(self, table: str, after: int, limit: int, upto: int | None = None) -> Batch:
        """Up to ``limit`` rows of ``table`` with ids above ``after`` (and at most ``upto``).

        When fewer than ``limit`` rows are left, the batch reaches up to the highest id
        ever issued (or ``upto``), so that rows deleted at the end are counted too.
        """
        conn = self.connection()
        bound = "" if upto is None else " AND id <= ?"
        params: tuple[int, ...] = (after, limit) if upto is None else (after, upto, limit)
        sql = f"SELECT {_SELECT[table]} FROM {table} WHERE id > ?{bound} ORDER BY id LIMIT ?"
        conn.execute("BEGIN")  # one snapshot for the rows and the highest id
        try:
            rows, _ = fetch_all(conn, sql, params)  # text that is not UTF-8 too
            if len(rows) == limit:
                last = int(rows[-1][0])
            else:
                issued = self._issued(conn, table)
                last = max(after, issued if upto is None else min(issued, upto))
                if rows:
                    last = max(last, int(rows[-1][0]))
        finally:
            conn.execute("COMMIT")
        return Batch(table, rows, after, last)

    def top(self, table: str) -> int:
        """The highest id ever issued in ``table`` (0 if none)."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            return self._issued(conn, table)
        finally:
            conn.execute("COMMIT")

    def behind(self, table: str, after: int) -> int:
        """How many rows of ``table`` have ids above ``after``."""
        row = (
            self.connection()
            .execute(f"SELECT COUNT(*) FROM {table} WHERE id > ?", (after,))
            .fetchone()
        )
        return int(row[0])

    @staticmethod
    def _issued(conn: sqlite3.Connection, table: str) -> int:
        try:
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
            seq = row.fetchone()
        except sqlite3.OperationalError:  # no AUTOINCREMENT table in this file
            seq = None
        top = conn.execute(f"SELECT coalesce(MAX(id), 0) FROM {table}").fetchone()[0]
        return max(int(top), int(seq[0]) if seq else 0)


def _identity(database: str) -> tuple[int, int] | None:
    """The device and inode of the file at ``database`` (a path or ``file:`` URI)."""
    try:
        stat = os.stat(schema.display_name(database))
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
