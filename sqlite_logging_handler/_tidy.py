"""Readers leave one clean file: the ``-wal`` and ``-shm`` files they made go with them.

In WAL mode a read-only connection (``mode=ro``) needs ``app.db-wal`` and
``app.db-shm`` beside the database and creates them when they are missing, but unlike
a read-write connection it never removes them when it closes: a ``LogStore``,
``sqlite-logs stats`` or ``tail -f`` on a clean one-file database left an empty WAL and
a 32 KB shared-memory file behind.

``tidy`` asks SQLite to remove them the way it does itself: once the reader's own
connections are closed, a read-write connection (``mode=rw``, which never creates a
database) reads the schema and closes. If it is the last connection to the database,
SQLite removes both files as it closes; if any other connection is open (a writer,
another reader, in any process) it leaves them to the last one, as it must.

It does so only while the WAL holds no frame: closing then copies nothing into the
database, so a reader never writes to it. A WAL with frames holds committed records
(a writer that was killed, a copy taken off a server) and is left for a writer to
checkpoint. Where the directory is read-only there is nothing to remove, and nothing is
done; any error is ignored (tidying is never worth failing a reader for).

``close_at_exit`` does the same at interpreter exit for stores the program left open.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterable

from . import schema

__all__ = ["close_at_exit", "tidy"]

_WAL_HEADER = 32  # bytes of a -wal file that holds no frame
_TIMEOUT = 0.2  # seconds the tidying connection waits for a lock: never worth more


def tidy(database: str) -> None:
    """Remove the empty WAL files beside ``database`` if no connection uses them.

    Args:
        database: a path or ``file:`` URI (in-memory databases are left alone).
    """
    if database == ":memory:" or "vfs=memdb" in database:
        return
    path = schema.display_name(database)
    wal, shm = f"{path}-wal", f"{path}-shm"
    try:
        if not os.path.isfile(path) or not (os.path.exists(wal) or os.path.exists(shm)):
            return
        if os.path.exists(wal) and os.path.getsize(wal) > _WAL_HEADER:
            return  # committed records not yet in the file: a writer's to checkpoint
        uri = schema.database_uri(path) + "?mode=rw"
        conn = sqlite3.connect(uri, uri=True, timeout=_TIMEOUT, isolation_level=None)
    except (OSError, sqlite3.Error):
        return
    try:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # opens the WAL
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.close()  # the last connection to close removes -wal and -shm


def close_at_exit(readers: Callable[[], Iterable[object]]) -> None:
    """At interpreter exit, close the connections of the stores left open, then tidy.

    ``readers`` gives the live readers; each has ``release()`` (drop its connections,
    waiting a moment for a query that runs) and ``database``.
    """

    def at_exit() -> None:
        paths = set()
        for reader in list(readers()):
            with contextlib.suppress(Exception):
                reader.release()  # type: ignore[attr-defined]
                paths.add(reader.database)  # type: ignore[attr-defined]
        for path in paths:
            tidy(path)

    atexit.register(at_exit)
