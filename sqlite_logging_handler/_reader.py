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
from ._access import check_log_database, open_reader, same_file
from ._filters import add_functions
from .exceptions import SQLiteLoggingError

__all__ = ["BackupProgress", "Reader", "release_readers"]

_RowT = TypeVar("_RowT")
#: Called during a backup with (pages copied, pages in all).
BackupProgress = Callable[[int, int], object]
_BACKUP_STEP = 1024  # pages copied between two progress calls


class Reader:
    """A read-only connection to an existing log database at this package's version.

    Args:
        database: path (or ``file:`` URI) of an existing database.
        before_query: called before every query (``SQLiteHandler.store()`` passes its
            ``flush``).

    Raises:
        FileNotFoundError: the file does not exist (a reader never creates one).
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
            msg = f"no log database at {path!r}"
            raise FileNotFoundError(msg)
        self.database = path
        self._before_query = before_query
        self._lock = threading.Lock()
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
        """Close the read connection (and end any ``follow()``). Idempotent."""
        self._closed.set()
        with self._lock:
            self._disconnect()
        self._access.close()
        _forks.unregister(self)

    def backup(
        self, destination: str | os.PathLike[str], *, progress: BackupProgress | None = None
    ) -> None:
        """Copy the database to ``destination`` with SQLite's online backup API.

        One consistent snapshot, taken while writers go on: it holds every record
        committed before it began. An existing ``destination`` is replaced, as ``cp``
        replaces a file; nothing is left behind if the copy fails.

        Args:
            destination: the path of the copy.
            progress: called with (pages copied, pages in all) as the copy goes.

        Raises:
            SQLiteLoggingError: ``destination`` cannot be written (naming it and why),
                or is this database itself.
        """
        target_path = os.fspath(destination)
        self._check_destination(target_path)
        existed = os.path.exists(target_path)
        if self._before_query is not None:
            self._before_query()
        try:
            target = sqlite3.connect(target_path)
            try:
                with self._lock:
                    self._connection().backup(
                        target,
                        pages=_BACKUP_STEP if progress else -1,
                        progress=(lambda _, left, total: progress(total - left, total))
                        if progress
                        else None,
                    )
            finally:
                target.close()
        except sqlite3.Error as exc:
            if not existed:
                _remove(target_path)
            msg = f"cannot back up {self.database!r} to {target_path!r}: {exc}"
            raise SQLiteLoggingError(msg) from exc

    def _check_destination(self, path: str) -> None:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            msg = f"cannot back up to {path!r}: there is no directory {folder!r}"
            raise SQLiteLoggingError(msg)
        if os.path.isdir(path):
            msg = f"cannot back up to {path!r}: it is a directory"
            raise SQLiteLoggingError(msg)
        source = self.database
        if os.path.exists(path) and os.path.exists(source) and os.path.samefile(path, source):
            msg = f"cannot back up {source!r} onto itself"
            raise SQLiteLoggingError(msg)

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
            return self._connection().execute(sql, params).fetchall()  # type: ignore[arg-type]

    def _run(self, sql: str, params: Any) -> tuple[bool, list[tuple[Any, ...]]]:
        """Run one statement: whether it returns rows, and its rows as plain tuples."""
        if self._before_query is not None:
            self._before_query()
        with self._lock:
            cursor = self._connection().execute(sql, params)
            rows = [tuple(row) for row in cursor.fetchall()]
            return cursor.description is not None, rows

    def _stream(
        self, sql: str, params: list[Any], build: Callable[[sqlite3.Row], _RowT]
    ) -> Iterator[_RowT]:
        """Rows of ``sql`` one at a time, through a connection of their own."""
        conn = self._open()
        try:
            cursor = conn.execute(sql, params)
            while rows := cursor.fetchmany(1000):
                yield from (build(row) for row in rows)
        finally:
            conn.close()


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


def release_readers(database: str) -> None:
    """Close this process's idle read connections to ``database``; they reopen on use.

    ``SQLiteHandler.close()`` calls it, so that its write connection closes last and
    SQLite removes the WAL and shared-memory files: one clean file, whatever the entry
    point (``MultiThreadedLogger``'s getters, ``handler.store()``, a ``LogStore``).
    """
    target = same_file(database)
    if target is None:
        return
    for reader in _forks.live():
        if not isinstance(reader, Reader) or same_file(reader.database) != target:
            continue
        if reader._lock.acquire(timeout=0.5):
            try:
                reader._disconnect()
            finally:
                reader._lock.release()
