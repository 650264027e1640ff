"""How far each writer-process session has written: the ``writer_sessions`` table.

A handler in ``writer="process"`` mode numbers the rows it sends, per table, for the
life of its pipeline (a *session*, named by a random id). Its writer process records
the last numbers it has settled in the same transaction as the rows, so that after a
writer process dies, the next one skips the rows the dead one had already committed:
nothing is stored twice. A session's row is deleted when its writer process ends
normally; rows of sessions idle for ``FORGET_AFTER`` seconds are deleted then too.

The table is created by a writer process with its first commit, beside the log tables
(``CREATE TABLE IF NOT EXISTS``: the schema version does not change);
docs/schema.md describes it.
"""

from __future__ import annotations

import sqlite3
import time

from . import schema

__all__ = ["FORGET_AFTER", "TABLE", "forget", "last_settled", "read_last_settled", "record"]

TABLE = "writer_sessions"
#: Seconds after which a session that settled nothing more is forgotten.
FORGET_AFTER = 7 * 24 * 3600.0

_CREATE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    session TEXT PRIMARY KEY,           -- a handler pipeline's random id
    last_log INTEGER NOT NULL,          -- log rows numbered up to this are settled
    last_metric INTEGER NOT NULL,       -- metric rows numbered up to this are settled
    updated REAL NOT NULL               -- time.time() of the last change
)"""
_RECORD = (
    f"INSERT INTO {TABLE} (session, last_log, last_metric, updated) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (session) DO UPDATE SET last_log = excluded.last_log, "
    "last_metric = excluded.last_metric, updated = excluded.updated"
)


def last_settled(conn: sqlite3.Connection, session: str) -> tuple[int, int]:
    """The last (log, metric) numbers committed for ``session``; (0, 0) if none."""
    try:
        row = conn.execute(
            f"SELECT last_log, last_metric FROM {TABLE} WHERE session = ?", (session,)
        ).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return (0, 0)
        raise
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def record(conn: sqlite3.Connection, session: str, last_log: int, last_metric: int) -> None:
    """Record how far ``session`` has settled, inside the batch's transaction.

    The table is created here when missing (the transaction holds the write lock
    already; a database replaced while the handler runs gets it back).
    """
    conn.execute(_CREATE)
    conn.execute(_RECORD, (session, last_log, last_metric, time.time()))


def forget(conn: sqlite3.Connection, session: str) -> None:
    """Delete ``session``'s row, and those of sessions idle for ``FORGET_AFTER`` s.

    Its writer ended, so nothing can be sent again in it; idle sessions are those of
    applications that died.
    """
    try:
        conn.execute(
            f"DELETE FROM {TABLE} WHERE session = ? OR updated < ?",
            (session, time.time() - FORGET_AFTER),
        )
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise


def read_last_settled(uri: str, session: str) -> tuple[int, int]:
    """``last_settled`` read through a connection of its own; (0, 0) if it cannot be."""
    try:
        conn = schema.connect(schema.database_uri(uri, readonly=True), timeout=1.0)
        try:
            return last_settled(conn, session)
        finally:
            conn.close()
    except sqlite3.Error:
        return (0, 0)
