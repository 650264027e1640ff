"""Opening a database file: reading wherever it is readable, and the real cause when not.

Reading. A read-only connection (``mode=ro``) to a database in WAL mode needs the
``-shm`` file beside it, and creates it if missing: in a directory it may not write (a
read-only mount, a copy in someone else's directory) SQLite then fails with "attempt to
write a readonly database" or "unable to open database file". ``open_reader`` falls
back, in order:

1. ``mode=ro``: the normal way; sees what writers commit, as they commit it;
2. ``immutable=1`` when there is no WAL content beside the file (no ``-wal`` file, or an
   empty one): the file is then all there is, and nobody can be writing it in WAL mode
   there (a writer would need to create those files). SQLite takes no locks and does not
   look for changes;
3. a snapshot: the file and its ``-wal`` copied into a private temporary directory and
   read there, when the WAL holds committed records SQLite cannot read in place. The
   copy is taken once, when the store opens, and removed when it closes.

Writing. ``unusable`` turns a failure to open a database for writing into the cause a
user can act on: a missing directory, a directory the process may not write, a
read-only file system, a read-only file, a file that is not a database.

Which files are log databases. ``check_log_database`` tells a log database (of this
schema version, older or newer) from an application's database that has no log tables,
whose ``user_version`` belongs to that application.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import tempfile
import weakref
from typing import Any

from . import schema
from .exceptions import SchemaVersionError, SQLiteLoggingError

__all__ = [
    "Reader",
    "check_log_database",
    "no_database",
    "open_reader",
    "open_writer",
    "same_file",
    "unusable",
    "what_is_there",
    "write_error_cause",
]

# What SQLite says when a read-only connection cannot create or write the -shm file.
_CANNOT_OPEN_IN_PLACE = frozenset({sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN})
_WAL_HEADER = 32  # bytes of a -wal file that holds no frame


class Reader:
    """How a store reads a database: the URI to connect to, and what that means.

    ``how`` is ``"in place"``, ``"immutable"`` or ``"snapshot"`` (see the module).
    """

    def __init__(self, uri: str, how: str, snapshot: tempfile.TemporaryDirectory[str] | None):
        self.uri = uri
        self.how = how
        self._snapshot = snapshot
        if snapshot is not None:
            weakref.finalize(self, snapshot.cleanup)

    def connect(self) -> sqlite3.Connection:
        """A new read-only connection."""
        return schema.connect(self.uri)

    def close(self) -> None:
        """Remove the snapshot, if one was taken."""
        if self._snapshot is not None:
            self._snapshot.cleanup()


def open_reader(database: str) -> Reader:
    """The first way of reading ``database`` that works (see the module docstring).

    Raises:
        SQLiteLoggingError: it cannot be read at all; the message names the cause.
    """
    uri = schema.database_uri(database, readonly=True)
    try:
        _probe(uri)
        return Reader(uri, "in place", None)
    except sqlite3.Error as exc:
        if database.startswith("file:") or _code(exc) not in _CANNOT_OPEN_IN_PLACE:
            raise _unreadable(database, exc) from exc
        first = exc
    if not os.access(database, os.R_OK):
        raise _unreadable(database, first) from first
    wal = f"{database}-wal"
    try:
        if not os.path.exists(wal) or os.path.getsize(wal) <= _WAL_HEADER:
            immutable = f"{uri}&immutable=1"
            _probe(immutable)
            return Reader(immutable, "immutable", None)
        return _snapshot(database)
    except (sqlite3.Error, OSError) as exc:
        raise _unreadable(database, exc) from exc


def _probe(uri: str) -> None:
    """Open ``uri`` and read its schema, which is where opening in place fails."""
    conn = schema.connect(uri)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
    finally:
        conn.close()


def _snapshot(database: str) -> Reader:
    """Copy the file and its WAL to a private directory and read the copy."""
    directory = tempfile.TemporaryDirectory(prefix="sqlite-logs-")
    try:
        copy = os.path.join(directory.name, os.path.basename(database))
        shutil.copyfile(database, copy)
        shutil.copyfile(f"{database}-wal", f"{copy}-wal")
        uri = schema.database_uri(copy, readonly=True)
        _probe(uri)
    except BaseException:
        directory.cleanup()
        raise
    return Reader(uri, "snapshot", directory)


def _unreadable(database: str, exc: BaseException) -> SQLiteLoggingError:
    return SQLiteLoggingError(f"cannot read {database!r} as a log database: {exc}")


def _code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def no_database(path: str) -> str:
    """Why a store cannot open ``path``, which is no regular file: the path, and what is there.

    ``"no log database at 'logs': it is a directory"``; the one wording of ``LogStore``
    and the command line (which adds where the path came from).
    """
    return f"no log database at {path!r}{what_is_there(path)}"


def what_is_there(path: str) -> str:
    """Why ``path``, which is no regular file, is no database: "" when nothing is there."""
    if os.path.isdir(path):
        return ": it is a directory"
    if os.path.exists(path):
        return ": it is not a regular file"
    folder = parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):  # the nearest ancestor there is
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f": {parent!r} is a file, not a directory"
    if parent != folder:
        return f": there is no directory {folder!r}"
    return ""


def same_file(database: str) -> tuple[int, int] | None:
    """(device, inode) of the file a path or ``file:`` URI names; None if there is none."""
    try:
        stat = os.stat(schema.display_name(database))
    except (OSError, ValueError):
        return None
    return stat.st_dev, stat.st_ino


# -- writing -------------------------------------------------------------------------------


def unusable(database: str, exc: BaseException) -> str:
    """The message of a database that cannot be opened for writing: the path and the cause."""
    return f"cannot use {database!r} as a log database: {write_error_cause(database, exc)}"


def write_error_cause(database: str, exc: object) -> object:
    """What keeps ``database`` from being written, in the user's terms, where it can be told.

    ``exc`` is what SQLite (or the OS) said; it is returned as it is when the file system
    shows no cause of its own (a full disk, an I/O error, a lock), and kept in brackets
    otherwise.
    """
    said = str(exc) or type(exc).__name__
    if not isinstance(exc, sqlite3.Error | OSError):
        return exc  # a schema refusal, a count: nothing the file system explains
    if database == ":memory:" or database.startswith("file:"):
        return exc
    if "not a database" in said:
        return "the file exists and is not an SQLite database (it was not modified)"
    cause = _file_system_cause(os.path.abspath(database))
    return exc if cause is None else f"{cause} (SQLite: {said})"


def _file_system_cause(path: str) -> str | None:
    if os.path.isdir(path):
        return "it is a directory"
    directory = os.path.dirname(path)
    missing, existing = directory, directory
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        missing, existing = existing, os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{existing!r} is not a directory"
    if existing != directory:
        return (
            f"the directory {missing!r} does not exist (SQLiteHandler, like "
            "logging.FileHandler, does not create directories)"
        )
    if _read_only_file_system(directory):
        return f"the directory {directory!r} is on a read-only file system"
    exists = os.path.exists(path)
    if exists and not os.access(path, os.W_OK):
        return "the file is read-only"
    if not os.access(directory, os.W_OK | os.X_OK):
        if not exists:
            return f"the directory {directory!r} is not writable, so the file cannot be created"
        name = os.path.basename(path)
        return (
            f"the directory {directory!r} is not writable: in WAL mode SQLite must create "
            f"{name}-wal and {name}-shm beside the database"
        )
    return None


def _read_only_file_system(directory: str) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError as exc:
        return exc.errno == errno.EROFS


def open_writer(database: str, *, upgrade: bool = False) -> sqlite3.Connection:
    """A write connection to an existing log database, for ``sqlite-logs`` maintenance.

    Never creates a database; checks that it is one (``check_log_database``) and that
    it can be written, naming the cause when not.

    Raises:
        FileNotFoundError: there is no such file.
        SQLiteLoggingError, SchemaVersionError: see ``check_log_database``; or it
            cannot be written (the message names why).
    """
    if not os.path.isfile(database):
        msg = f"no log database at {database!r}"
        raise FileNotFoundError(msg)
    conn = schema.connect(schema.database_uri(database), timeout=30)
    try:
        check_log_database(conn, database, upgrade=upgrade)
        schema.check_writable(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise SQLiteLoggingError(unusable(database, exc)) from exc
    except BaseException:
        conn.close()
        raise
    return conn


# -- which files are log databases ---------------------------------------------------------


def check_log_database(conn: sqlite3.Connection, database: str, *, upgrade: bool = False) -> None:
    """Raise unless ``conn`` holds a log database that this package reads as it is.

    With ``upgrade``, an older log database passes (``sqlite-logs upgrade`` brings it
    to the current version). A database without log tables is not a log database of
    version 0, whatever its ``user_version`` says: that belongs to its application.

    Raises:
        SQLiteLoggingError: not a log database (no ``logs``/``metrics`` table, or a
            ``logs`` table of another shape).
        SchemaVersionError: a log database of a newer version, or of an older one
            (unless ``upgrade``), saying how to upgrade it.
    """
    tables = _tables(conn)
    if not tables & {"logs", "metrics"}:
        what = "an empty database" if not tables else f"its tables are {sorted(tables)}"
        msg = f"{database!r} has no log tables (logs, metrics): it is not a log database ({what})"
        raise SQLiteLoggingError(msg)
    if "logs" in tables:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(logs)")}
        if not {"id", "timestamp", "level", "message"} <= columns:
            msg = (
                f"{database!r} has a 'logs' table that is not a log table "
                f"(its columns are {sorted(columns)})"
            )
            raise SQLiteLoggingError(msg)
    version = schema.schema_version(conn)
    if version > schema.SCHEMA_VERSION:
        msg = (
            f"{database!r} has schema version {version}, newer than this "
            f"package's {schema.SCHEMA_VERSION}: upgrade sqlite-logging-handler"
        )
        raise SchemaVersionError(msg)
    if version < schema.SCHEMA_VERSION and not upgrade:
        msg = (
            f"{database!r} has schema version {version}; run 'sqlite-logs --db "
            f"{database} upgrade', or open it once with SQLiteHandler (either upgrades "
            "it in place, keeping its rows) to read it"
        )
        raise SchemaVersionError(msg)


def _tables(conn: sqlite3.Connection) -> set[Any]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
