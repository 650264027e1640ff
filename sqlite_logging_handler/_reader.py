"""A read-only connection to a log database: opening, checking, querying, backing up.

The base of ``LogStore``: a store never creates, upgrades or modifies a database, and
never takes the write lock, so in WAL mode its queries do not wait for writers and
writers do not wait for it. One connection, opened on first use and reopened after a
``fork()`` (``_forks``); ``_stream`` reads large results through a connection of its
own, in one consistent snapshot.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Self, TypeVar

from . import _forks, schema
from ._access import check_log_database, no_database, open_reader, same_file
from ._backup import BackupProgress, check_destination, copy
from ._filters import add_functions
from ._text import fetch_all, iterate
from ._tidy import close_at_exit, tidy
from .exceptions import SQLiteLoggingError

__all__ = ["BackupProgress", "Reader", "release_readers"]

_RowT = TypeVar("_RowT")


class Reader:
    """A read-only connection to an existing log database at this package's version.

    Args:
        database: path (or ``file:`` URI) of an existing database.
        before_query: called before every query (``SQLiteHandler.store()`` passes its
            ``flush``).

    Raises:
        FileNotFoundError: there is no file at the path (a reader never creates one);
            the message says what is there instead (a directory, no such directory).
        SQLiteLoggingError: the database is not at this package's schema version.
    """

    def __init__(
        self,
        database: str | os.PathLike[str],
        *,
        before_query: Callable[[], object] | None = None,
    ) -> None:
        path = os.fspath(database)
        if not path.startswith("file:") and not os.path.isfile(path):
            raise FileNotFoundError(no_database(path))
        self.database = path
        self._before_query = before_query
        # Re-entrant: a Ctrl-C or SIGTERM raised (as KeyboardInterrupt, cli's Terminated)
        # inside contextlib's __exit__ can leave _read_transaction's generator suspended,
        # holding the lock; close() on the same thread must not then wait for ever.
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._access = open_reader(path)  # also where SQLite cannot read it in place
        self._uri = self._access.uri
        self._conn: sqlite3.Connection | None = None
        try:
            self._check_version()
        except BaseException:
            self.close()
            raise
        _forks.register(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the read connection (and end any ``follow()``). Idempotent.

        Leaves one clean file: the ``-wal`` and ``-shm`` files the read connection
        needed go too, unless another connection still uses them (``_tidy``).
        """
        self._closed.set()
        with self._lock:
            self._disconnect()
        self._access.close()
        _forks.unregister(self)
        tidy(self.database)

    def release(self, wait: float = 0.5) -> None:
        """Close the read connection now, if no query holds it for ``wait`` s; reopened on use."""
        if self._lock.acquire(timeout=wait):
            try:
                self._disconnect()
            finally:
                self._lock.release()

    def backup(
        self, destination: str | os.PathLike[str], *, progress: BackupProgress | None = None
    ) -> None:
        """Copy the database to ``destination`` with SQLite's ``VACUUM INTO``.

        One consistent snapshot (one read transaction), taken while writers go on: it
        holds every record committed before it began. An existing ``destination`` is
        replaced, as ``cp`` replaces a file, if it is empty or a log database; any
        other file there is left alone. Nothing is left behind if the copy fails (see ``_backup``).

        Args:
            destination: the path of the copy.
            progress: called with (pages copied, pages in all) as the copy goes, on
                this thread; an exception it raises stops the copy and is raised.

        Raises:
            SQLiteLoggingError: ``destination`` cannot be written, or must not be
                replaced (a file that is not a log database, this database itself);
                the message names it and why.
        """
        target = os.fspath(destination)
        check_destination(self.database, target)
        if self._before_query is not None:
            self._before_query()
        with self._lock:
            copy(self._connection(), self.database, target, progress)

    # -- the connection ------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """The read connection, (re)opened on first use (caller holds ``_lock``)."""
        if self._conn is None:
            if self._closed.is_set():
                msg = "Cannot operate on a closed LogStore."
                raise sqlite3.ProgrammingError(msg)
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        try:
            conn = schema.connect(self._uri)
        except sqlite3.Error as exc:
            msg = f"cannot read {self.database!r} as a log database: {exc}"
            raise SQLiteLoggingError(msg) from exc
        conn.row_factory = sqlite3.Row
        add_functions(conn)
        return conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _check_version(self) -> None:
        try:
            with self._lock:
                check_log_database(self._connection(), self.database)
        except sqlite3.DatabaseError as exc:
            msg = f"cannot read {self.database!r} as a log database: {exc}"
            raise SQLiteLoggingError(msg) from exc

    # -- running statements ------------------------------------------------------------

    def _query(self, sql: str, params: Iterable[Any] | Mapping[str, Any]) -> list[sqlite3.Row]:
        if self._before_query is not None:
            self._before_query()
        with self._lock:
            rows, _ = fetch_all(self._connection(), sql, params)
            return rows

    @contextlib.contextmanager
    def _read_transaction(self) -> Iterator[sqlite3.Connection]:
        """The read connection in one read transaction: its queries see one state of the file.

        Holds ``_lock`` throughout; the transaction ends (nothing to commit) on leaving.
        """
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")

    def _run(self, sql: str, params: Any) -> tuple[bool, list[tuple[Any, ...]]]:
        """Run one statement: whether it returns rows, and its rows as plain tuples."""
        if self._before_query is not None:
            self._before_query()
        with self._lock:
            rows, description = fetch_all(self._connection(), sql, params)
            return description is not None, [tuple(row) for row in rows]

    def _stream(
        self, sql: str, params: list[Any], build: Callable[[sqlite3.Row], _RowT]
    ) -> Iterator[_RowT]:
        """Rows of ``sql`` one at a time, through a connection of their own."""
        conn = self._open()
        try:
            for row in iterate(conn, sql, params):
                yield build(row)
        finally:
            conn.close()


def release_readers(database: str) -> None:
    """Close this process's idle read connections to ``database``; they reopen on use.

    ``SQLiteHandler.close()`` calls it, so that its write connection closes last and
    SQLite removes the WAL and shared-memory files: one clean file, whatever the entry
    point (``MultiThreadedLogger``'s getters, ``handler.store()``, a ``LogStore``).
    """
    target = same_file(database)
    if target is None:
        return
    for reader in _live_readers():
        if same_file(reader.database) == target:
            reader.release()


def _live_readers() -> list[Reader]:
    return [reader for reader in _forks.live() if isinstance(reader, Reader)]


close_at_exit(_live_readers)  # a store left open at exit leaves one clean file too
