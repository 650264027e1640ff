"""Backing a log database up: one consistent copy (``VACUUM INTO``), into a fit destination.

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

A copy that fails, or is interrupted (Ctrl-C, SIGTERM), leaves nothing behind where
there was nothing before, and an existing destination as it was: the copy is made in
a temporary file beside the destination, which only a complete copy replaces.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable

from . import _whole, schema
from ._access import same_file, write_error_cause
from .exceptions import SQLiteLoggingError

__all__ = ["BackupProgress", "check_destination", "copy"]

#: Called during a backup with (pages copied, pages in all).
BackupProgress = Callable[[int, int], object]
_INTERVAL = 0.1  # seconds between two looks at the copy's size
_HEADER = b"SQLite format 3\x00"
_WAL_HEADER = 32  # bytes of a -wal file that holds no frame


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

    The copy is made in a temporary file beside ``destination`` (``_whole``) and only a
    complete copy takes its place: renamed onto it, or, over an existing SQLite
    database, copied into it in one SQLite transaction (which also takes care of that
    database's own journal or WAL, and of a process that has it open). Whatever ends
    the copy early, ``KeyboardInterrupt`` included, removes the temporary file and
    leaves ``destination`` as it was.

    Raises:
        SQLiteLoggingError: the copy could not be written, naming why.
    """
    target = _whole.target_of(destination)
    try:
        if _whole.direct(target):
            _backup_in_one_step(conn, target, progress)
            return
        with _whole.written_whole(target, place=_into_place) as partial:
            _backup(conn, partial, progress)
    except (sqlite3.Error, OSError) as exc:
        cause = write_error_cause(destination, exc)
        msg = f"cannot back up {schema.display_name(source)!r} to {destination!r}: {cause}"
        raise SQLiteLoggingError(msg) from exc


def _backup(conn: sqlite3.Connection, path: str, progress: BackupProgress | None) -> None:
    """A consistent copy of ``conn``'s database into the empty file ``path``.

    ``VACUUM INTO``: one statement in one read transaction, so the copy is the database
    as of one moment, and writers are neither waited for (WAL) nor restart it. (SQLite's
    online backup API in steps, which reported progress before, starts over whenever
    another connection writes between two steps: a busy database was never copied.)
    The copy is compacted, as ``vacuum`` would leave it.

    The statement runs on a thread of its own (``conn`` is shared between threads; the
    caller holds it); this thread measures the copy by the size of ``path`` for
    ``progress``. Whatever ends this thread's wait (an exception ``progress`` raises, a
    Ctrl-C) interrupts the statement, waits for it to stop, and is raised.
    """
    page_size, pages, free = (
        int(conn.execute(f"PRAGMA {name}").fetchone()[0])
        for name in ("page_size", "page_count", "freelist_count")
    )
    total = max(pages - free, 1)
    failure: list[BaseException] = []
    finished, cancelled = threading.Event(), threading.Event()

    def vacuum_into() -> None:
        try:
            if not cancelled.is_set():  # else the caller gave up (and removed ``path``)
                conn.execute("VACUUM INTO ?", (path,))
        except BaseException as exc:  # raised on the caller's thread
            failure.append(exc)
        finally:
            finished.set()

    if progress is not None:
        progress(0, total)
    worker = threading.Thread(target=vacuum_into, name="sqlite-logging-backup", daemon=True)
    try:
        worker.start()  # inside: a Ctrl-C while it starts must stop it too
        while not finished.wait(_INTERVAL):
            if progress is not None:
                progress(min(os.path.getsize(path) // page_size, total), total)
    except BaseException:
        cancelled.set()
        while not finished.wait(_INTERVAL):  # again, in case the statement had not begun
            conn.interrupt()
            if worker.ident is None and not worker.is_alive():
                break  # the thread never started
        raise
    worker.join()
    if failure:
        raise failure[0]
    if progress is not None:
        progress(total, total)


def _backup_in_one_step(
    conn: sqlite3.Connection, path: str, progress: BackupProgress | None
) -> None:
    """SQLite's online backup of ``conn`` into ``path`` in one step (one read transaction).

    For a destination that is not a regular file (``_whole.direct``: a device, a FIFO),
    which ``VACUUM INTO`` cannot write; no progress in between.
    """
    target = sqlite3.connect(path)
    try:
        conn.backup(target, pages=-1)
    finally:
        target.close()
    if progress is not None:
        total = int(conn.execute("PRAGMA page_count").fetchone()[0])
        progress(total, total)


def _into_place(complete: str, destination: str) -> None:
    """Put the complete copy in place: renamed onto ``destination``, or copied into it.

    Over an existing SQLite database (one with content, as checked), one backup step
    of every page: SQLite writes it in one transaction of ``destination``'s own (which
    takes care of its journal or WAL, and of a process that has it open), so an error
    or a kill leaves ``destination`` as it was.
    """
    if not _has_content(destination):
        os.replace(complete, destination)
        return
    source = sqlite3.connect(complete)
    try:
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    os.remove(complete)


def _has_content(path: str) -> bool:
    """Whether ``path`` is a file with something in it (an SQLite database, as checked)."""
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


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
