"""A batch of rows bound for one transaction, and the INSERTs that write it.

Worker-thread helpers of ``_writer.BatchWriter``: no threads and no counting here.
"""

from __future__ import annotations

import itertools
import os
import sqlite3

from . import schema
from ._records import Row, sanitize_row

__all__ = ["Batch", "file_identity", "insert_all", "insert_each"]

# Raised while binding a row's values, before SQLite sees them.
_BIND_ERRORS = (
    UnicodeEncodeError,
    OverflowError,
    ValueError,
    TypeError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
)


class Batch:
    """Rows bound for one transaction, and whether they have been accounted for."""

    __slots__ = ("committed", "ids", "logs", "metrics", "settled", "written")

    def __init__(self, logs: list[Row], metrics: list[Row]) -> None:
        self.logs = logs
        self.metrics = metrics
        self.settled = False  # counted, as written or as failed
        self.written = False  # committed, and counted so
        self.committed = False  # its COMMIT went through (set under the close gate)
        self.ids: list[tuple[str, int, int]] = []  # (table, first id, last id) written

    def __len__(self) -> int:
        return len(self.logs) + len(self.metrics)

    def tables(self) -> list[tuple[str, list[Row]]]:
        """The non-empty tables of the batch and their rows."""
        return [(t, rows) for t, rows in (("logs", self.logs), ("metrics", self.metrics)) if rows]

    def sanitize(self) -> None:
        """Make every row bindable (see ``_records.sanitize_row``)."""
        self.logs = [sanitize_row(row) for row in self.logs]
        self.metrics = [sanitize_row(row) for row in self.metrics]


def insert_all(conn: sqlite3.Connection, batch: Batch, batch_size: int) -> None:
    """INSERT the whole batch in as few multi-row statements as the variable limit allows."""
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    batch.ids.clear()
    for table, rows in batch.tables():
        for start, stop in _chunks(len(rows), len(rows[0]), limit, batch_size):
            params = list(itertools.chain.from_iterable(rows[start:stop]))
            last = conn.execute(schema.insert_sql(table, stop - start), params).lastrowid
            # The write lock is held, so one statement's ids are consecutive.
            if last is not None:
                batch.ids.append((table, last - (stop - start) + 1, last))


def insert_each(
    conn: sqlite3.Connection, batch: Batch, batch_size: int, *, rejected: list[BaseException]
) -> None:
    """INSERT row by row; rows SQLite rejects are collected in ``rejected``, not raised."""
    rejected.clear()
    batch.ids.clear()
    for table, rows in batch.tables():
        sql = schema.insert_sql(table, 1)
        for row in rows:
            try:
                last = conn.execute(sql, sanitize_row(row)).lastrowid
                if last is not None:
                    batch.ids.append((table, last, last))
            except (sqlite3.Error, *_BIND_ERRORS) as exc:
                if not conn.in_transaction:
                    raise
                rejected.append(exc)


def file_identity(path: str | None) -> tuple[int, int] | None:
    """(device, inode) of ``path``, or None if there is no such file."""
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def _chunks(rows: int, width: int, limit: int, batch_size: int) -> list[tuple[int, int]]:
    """Row ranges for multi-row INSERTs, each within SQLite's bound-variable limit.

    Full batches go in one statement; the rest in power-of-two pieces, so a handful
    of statement texts serve every batch size (sqlite3 caches prepared statements by
    text).
    """
    most = max(1, min(batch_size, limit // width))
    sizes = [most] + [1 << i for i in range(most.bit_length() - 1, -1, -1) if 1 << i < most]
    ranges: list[tuple[int, int]] = []
    start = 0
    for size in sizes:
        while rows - start >= size:
            ranges.append((start, start + size))
            start += size
    return ranges
