"""Keeping a log database in shape: retention, space, the WAL, backups.

Plain functions over a connection, shared by the handler's writer (which prunes as it
goes) and the ``sqlite-logs`` command line. Deletes run in small transactions, so a
writer elsewhere never waits long for the lock.
"""

from __future__ import annotations

import os
import sqlite3
import time

from . import schema
from .query import parse_age

__all__ = [
    "PRUNE_CHUNK",
    "checkpoint",
    "file_sizes",
    "parse_age",
    "prune",
    "reclaim_space",
    "vacuum",
]

#: Rows deleted per transaction when pruning: short enough that writers barely wait.
PRUNE_CHUNK = 1000


def prune(
    conn: sqlite3.Connection,
    *,
    older_than: float | None = None,
    keep_rows: int | None = None,
    dry_run: bool = False,
    now: float | None = None,
) -> dict[str, int]:
    """Delete rows older than ``older_than`` s, and log rows beyond the newest ``keep_rows``.

    Returns how many rows of each table went (or, with ``dry_run``, would go).

    Each chunk of ``PRUNE_CHUNK`` rows is its own transaction (``conn`` must be in
    autocommit mode), so concurrent writers wait at most one chunk.
    """
    deleted = {"logs": 0, "metrics": 0}
    if older_than is not None:
        epoch = (time.time() if now is None else now) - older_than
        cutoff = conn.execute(f"SELECT {schema.TIMESTAMP_SQL.format('?')}", (epoch,)).fetchone()[0]
        for table in deleted:
            condition = f"id IN (SELECT id FROM {table} WHERE timestamp < ? ORDER BY id LIMIT ?)"
            deleted[table] += _delete(conn, table, condition, (cutoff,), dry_run)
    if keep_rows is not None:
        row = conn.execute(
            "SELECT id FROM logs ORDER BY id DESC LIMIT 1 OFFSET ?", (keep_rows,)
        ).fetchone()
        if row is not None:
            condition = "id IN (SELECT id FROM logs WHERE id <= ? ORDER BY id LIMIT ?)"
            deleted["logs"] += _delete(conn, "logs", condition, (row[0],), dry_run)
    return deleted


def _delete(
    conn: sqlite3.Connection, table: str, condition: str, params: tuple[object, ...], dry_run: bool
) -> int:
    if dry_run:
        counted = conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE {condition}", (*params, -1)
        ).fetchone()[0]
        return int(counted)
    total = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            count = conn.execute(
                f"DELETE FROM {table} WHERE {condition}", (*params, PRUNE_CHUNK)
            ).rowcount
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        total += count
        if count < PRUNE_CHUNK:
            return total


def reclaim_space(conn: sqlite3.Connection, pages: int = 2000) -> None:
    """Return up to ``pages`` free pages to the file system (``auto_vacuum=INCREMENTAL``)."""
    conn.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()


def checkpoint(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """``PRAGMA wal_checkpoint(TRUNCATE)``: copy the WAL into the database and empty it.

    Never waits for readers: with one in a read transaction it does what it can and
    returns ``(busy, wal_frames, checkpointed_frames)``.
    """
    busy, frames, done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return int(busy), int(frames), int(done)


def vacuum(conn: sqlite3.Connection) -> None:
    """Rebuild the database file, returning all free space (takes the write lock)."""
    conn.execute("VACUUM")


def file_sizes(path: str) -> tuple[int, int]:
    """Bytes in the database file and in its WAL (0 for a missing file)."""

    def size(name: str) -> int:
        try:
            return os.path.getsize(name)
        except OSError:
            return 0

    return size(path), size(path + "-wal")
