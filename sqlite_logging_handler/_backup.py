"""Backing a log database up: SQLite's online backup API, into a destination fit for it.

The destination is checked before anything is written, and every refusal or failure
is a ``SQLiteLoggingError`` naming the destination and the cause, as the handler's own
opening does (``_access.write_error_cause``):

- its directory must exist (it is not created, as ``cp`` does not), and the path must
  not be a directory;
- it must not be the database being copied, by any path (a link, a ``file:`` URI);
- an existing file there is replaced, as ``cp`` replaces it, only if nothing but logs
  can be lost: an empty file, a log database, or an SQLite database without tables. A
  file that is not an SQLite database, or an application's database, is never touched;
- a copy that cannot be written names why: a read-only directory or file system, a
  read-only file, a full disk.

A copy that fails leaves nothing behind where there was nothing before.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable

from . import schema
from ._access import same_file, write_error_cause
from .exceptions import SQLiteLoggingError

__all__ = ["BackupProgress", "check_destination", "copy"]

#: Called during a backup with (pages copied, pages in all).
BackupProgress = Callable[[int, int], object]
_STEP = 1024  # pages copied between two progress calls
_HEADER = b"SQLite format 3\x00"
_WAL_HEADER = 32  # bytes of a -wal file that holds no frame
_SIDE_FILES = ("-journal", "-wal", "-shm")


def check_destination(source: str, destination: str) -> None:
    """Refuse a ``destination`` that cannot, or must not, receive a copy of ``source``.

    Raises:
        SQLiteLoggingError: naming ``destination`` and why (see the module docstring).
    """
    folder = os.path.dirname(os.path.abspath(destination))
    if not os.path.isdir(folder):
        _refuse(destination, _no_directory(folder))
    if os.path.isdir(destination):
        _refuse(destination, "it is a directory")
    target = same_file(destination)
    if target is not None and target == same_file(source):
        msg = f"cannot back up {schema.display_name(source)!r} onto itself ({destination!r})"
        raise SQLiteLoggingError(msg)
    if os.path.exists(destination):
        refusal = _not_replaceable(destination)
        if refusal is not None:
            _refuse(destination, refusal)


def copy(
    conn: sqlite3.Connection,
    source: str,
    destination: str,
    progress: BackupProgress | None = None,
) -> None:
    """Copy the database of ``conn`` to ``destination`` (checked by ``check_destination``).

    Raises:
        SQLiteLoggingError: the copy could not be written, naming why.
    """
    existed = os.path.exists(destination)
    before = {suffix: os.path.exists(destination + suffix) for suffix in _SIDE_FILES}
    try:
        target = sqlite3.connect(destination)
        try:
            conn.backup(
                target,
                pages=_STEP if progress else -1,
                progress=(lambda _, left, total: progress(total - left, total))
                if progress
                else None,
            )
        finally:
            target.close()
    except sqlite3.Error as exc:
        if not existed:
            _remove(destination)
        for suffix, was_there in before.items():
            if not was_there:
                _remove(destination + suffix)
        cause = write_error_cause(destination, exc)
        msg = f"cannot back up {schema.display_name(source)!r} to {destination!r}: {cause}"
        raise SQLiteLoggingError(msg) from exc


def _not_replaceable(path: str) -> str | None:
    """Why the existing file ``path`` must not be replaced by a copy; None if it may be."""
    try:
        with open(path, "rb") as existing:
            header = existing.read(len(_HEADER))
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if not header:
        return None  # an empty file: nothing to lose
    if header != _HEADER:
        return "the file exists and is not an SQLite database (it was not modified)"
    try:
        tables = _tables(path)
    except sqlite3.Error as exc:
        return f"the file exists and cannot be read as an SQLite database ({exc}); not modified"
    if not tables or tables & {"logs", "metrics"}:
        return None  # a log database, or one without tables: replaced, as cp would
    return (
        f"it is a database without log tables (its tables are {sorted(tables)}): it is not "
        "replaced; remove it, or back up to another path"
    )


def _tables(path: str) -> set[str]:
    """The tables of the database ``path``, read without a lock or a file beside it."""
    uri = schema.database_uri(path, readonly=True)
    wal = f"{path}-wal"
    if not os.path.exists(wal) or os.path.getsize(wal) <= _WAL_HEADER:
        uri += "&immutable=1"  # all of it is in the file: nothing to create beside it
    conn = sqlite3.connect(uri, uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def _no_directory(folder: str) -> str:
    """What stands where the directory ``folder`` should be: nothing, or a file."""
    missing, existing = folder, folder
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        missing, existing = existing, os.path.dirname(existing)
    if os.path.exists(existing) and not os.path.isdir(existing):
        return f"{existing!r} is not a directory"
    return f"there is no directory {missing!r} (a backup does not create directories)"


def _refuse(destination: str, cause: object) -> None:
    msg = f"cannot back up to {destination!r}: {cause}"
    raise SQLiteLoggingError(msg)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
