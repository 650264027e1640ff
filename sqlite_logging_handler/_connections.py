"""URIs of log databases, connections to them, and waiting out another connection's lock.

Every connection the package opens is made here (``connect``): by ``file:`` URI, in
autocommit mode (transactions are begun explicitly), usable from the thread that is
handed it. ``schema`` re-exports these names, as it did before they moved here.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import quote, unquote

__all__ = [
    "busy_timeout",
    "connect",
    "database_uri",
    "display_name",
    "is_busy",
    "memory_uri",
    "retry_while_busy",
]


def database_uri(database: str | os.PathLike[str], *, readonly: bool = False) -> str:
    """The ``file:`` URI of a database path, made absolute (``mode=ro`` if readonly)."""
    path = os.fspath(database)
    if path.startswith("file:"):
        if readonly and "mode=" not in path:
            return f"{path}{'&' if '?' in path else '?'}mode=ro"
        return path
    # Built here rather than by pathlib, which imports urllib lazily (Python 3.13):
    # a process that drops privileges or chroots after import must still get a URI.
    uri = "file:" + quote(os.path.abspath(path))
    return f"{uri}?mode=ro" if readonly else uri


def display_name(uri: str) -> str:
    """The path a ``file:`` URI stands for, as messages name it."""
    if not uri.startswith("file:"):
        return uri
    return unquote(uri.removeprefix("file:").partition("?")[0])


def memory_uri() -> str:
    """A fresh in-memory database shared by this process's connections (memdb VFS)."""
    return f"file:/sqlite-logging-handler-{uuid.uuid4().hex}?vfs=memdb"


def connect(uri: str, *, timeout: float = 5.0) -> sqlite3.Connection:
    """Open ``uri`` in autocommit mode: transactions are begun explicitly.

    The connection may be used from another thread than the one that opened it
    (the writer opens it on its own thread; readers guard theirs with a lock).
    """
    return sqlite3.connect(
        uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
    )


_T = TypeVar("_T")
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` means another connection holds a lock (worth waiting out)."""
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF in _BUSY


def retry_while_busy(action: Callable[[], _T], timeout: float) -> _T:
    """Run ``action`` until it does not fail on lock contention, for up to ``timeout`` s.

    Each attempt already waits ``busy_timeout`` inside SQLite; busy writers elsewhere
    are not fair to newcomers, so one attempt is not enough under load.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise


@contextmanager
def busy_timeout(conn: sqlite3.Connection, seconds: float) -> Iterator[None]:
    """Wait at most ``seconds`` for another connection's lock within the block.

    Sets ``PRAGMA busy_timeout`` (sqlite.org/pragma.html#pragma_busy_timeout) for the
    block and puts the connection's own back after it.
    """
    before = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA busy_timeout = {before}")
