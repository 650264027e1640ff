"""Keeping a log database in shape: retention, space, the WAL, backups.

Plain functions over a connection, shared by the handler's writer (which prunes as it
goes) and the ``sqlite-logs`` command line. Deletes run in small transactions, so a
writer elsewhere never waits long for the lock.

Every statement here is checked for its effect rather than assumed to have had it:
``PRAGMA incremental_vacuum(N)`` in particular frees one page per step, and Python's
``sqlite3`` steps a statement that returns no columns only once (one page, whatever N
says), so it is run to its end with ``executescript`` and the free list read back.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from typing import NamedTuple

from . import schema
from ._connections import busy_timeout
from .query import parse_age

__all__ = [
    "PRUNE_CHUNK",
    "RECLAIM_STEP",
    "Checkpoint",
    "SpaceReturned",
    "checkpoint",
    "file_sizes",
    "free_pages",
    "give_back_space",
    "incremental",
    "parse_age",
    "prune",
    "prune_step",
    "reclaim_space",
    "vacuum",
]

#: Rows deleted per transaction when pruning: short enough that writers barely wait.
PRUNE_CHUNK = 1000
#: Free pages ``give_back_space`` returns per transaction (40 MB of 4 KiB pages).
RECLAIM_STEP = 10_000

#: ``PRAGMA auto_vacuum`` values.
_AUTO_VACUUM_INCREMENTAL = 2

Commit = Callable[[sqlite3.Connection], None]


def _commit(conn: sqlite3.Connection) -> None:
    conn.execute("COMMIT")


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
    deleted, _ = prune_step(
        conn, older_than=older_than, keep_rows=keep_rows, dry_run=dry_run, now=now
    )
    return deleted


def prune_step(
    conn: sqlite3.Connection,
    *,
    older_than: float | None = None,
    keep_rows: int | None = None,
    dry_run: bool = False,
    now: float | None = None,
    deadline: float = float("inf"),
    commit: Commit = _commit,
) -> tuple[dict[str, int], bool]:
    """``prune``, stopping after the chunk that ends past ``deadline`` (``time.monotonic()``).

    Returns the rows deleted per table and whether everything due was deleted (False:
    call again). ``commit`` ends each chunk's transaction (the handler's writer passes
    one that refuses to commit once the handler is closed).
    """
    deleted = {"logs": 0, "metrics": 0}
    done = True
    if older_than is not None:
        epoch = (time.time() if now is None else now) - older_than
        cutoff = conn.execute(f"SELECT {schema.TIMESTAMP_SQL.format('?')}", (epoch,)).fetchone()[0]
        for table in deleted:
            condition = f"id IN (SELECT id FROM {table} WHERE timestamp < ? ORDER BY id LIMIT ?)"
            count, done = _delete(conn, table, condition, (cutoff,), dry_run, deadline, commit)
            deleted[table] += count
            if not done:
                return deleted, False
    if keep_rows is not None:
        row = conn.execute(
            "SELECT id FROM logs ORDER BY id DESC LIMIT 1 OFFSET ?", (keep_rows,)
        ).fetchone()
        if row is not None:
            condition = "id IN (SELECT id FROM logs WHERE id <= ? ORDER BY id LIMIT ?)"
            count, done = _delete(conn, "logs", condition, (row[0],), dry_run, deadline, commit)
            deleted["logs"] += count
    return deleted, done


def _delete(
    conn: sqlite3.Connection,
    table: str,
    condition: str,
    params: tuple[object, ...],
    dry_run: bool,
    deadline: float,
    commit: Commit,
) -> tuple[int, bool]:
    if dry_run:
        counted = conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE {condition}", (*params, -1)
        ).fetchone()[0]
        return int(counted), True
    total = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            count = conn.execute(
                f"DELETE FROM {table} WHERE {condition}", (*params, PRUNE_CHUNK)
            ).rowcount
            commit(conn)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        total += count
        if count < PRUNE_CHUNK:
            return total, True
        if time.monotonic() >= deadline:
            return total, False


def free_pages(conn: sqlite3.Connection) -> int:
    """Pages on the database's free list (``PRAGMA freelist_count``)."""
    return int(conn.execute("PRAGMA freelist_count").fetchone()[0])


def incremental(conn: sqlite3.Connection) -> bool:
    """Whether the file can give free pages back (``auto_vacuum=INCREMENTAL``)."""
    return int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) == _AUTO_VACUUM_INCREMENTAL


def reclaim_space(
    conn: sqlite3.Connection, pages: int | None = None, *, commit: Commit = _commit
) -> int:
    """Give up to ``pages`` free pages (all if None) back; returns how many went.

    Needs ``auto_vacuum=INCREMENTAL`` (every database this package creates has it; 0 is
    returned for any other, see ``vacuum``). ``PRAGMA incremental_vacuum`` is run to
    its end in one transaction and its effect read back from the free list. In WAL
    mode the file itself shrinks at the next complete checkpoint (see ``checkpoint``).
    """
    if not incremental(conn):
        return 0
    before = free_pages(conn)
    count = before if pages is None else min(before, max(0, int(pages)))
    if not count:
        return 0
    # executescript steps the statement to its end; execute() would free one page.
    conn.executescript(f"BEGIN IMMEDIATE; PRAGMA incremental_vacuum({count});")
    try:
        commit(conn)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return before - free_pages(conn)


class Checkpoint(NamedTuple):
    """What ``PRAGMA wal_checkpoint`` did: whether it was blocked, WAL frames, frames copied."""

    busy: bool
    wal_frames: int
    checkpointed: int

    @property
    def complete(self) -> bool:
        """Whether every frame of the WAL is now in the database file."""
        return not self.busy and self.checkpointed >= self.wal_frames


def checkpoint(
    conn: sqlite3.Connection, mode: str = "TRUNCATE", *, wait: float | None = None
) -> Checkpoint:
    """``PRAGMA wal_checkpoint(mode)``: copy the WAL into the database file.

    ``TRUNCATE`` (the default) also empties the WAL file. A complete checkpoint is also
    what shrinks the database file after ``reclaim_space``. It waits for readers at
    most ``wait`` seconds (None: the connection's busy timeout); the result says
    whether it got through (``complete``); with a reader in the way it does what it
    can. Outside WAL mode it does nothing and reports ``wal_frames`` -1.
    """
    if mode not in ("PASSIVE", "FULL", "RESTART", "TRUNCATE"):
        msg = f"checkpoint mode must be PASSIVE, FULL, RESTART or TRUNCATE, not {mode!r}"
        raise ValueError(msg)
    if wait is None:
        busy, frames, done = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return Checkpoint(bool(busy), int(frames), int(done))
    with busy_timeout(conn, wait):
        return checkpoint(conn, mode)


class SpaceReturned(NamedTuple):
    """What ``give_back_space`` did."""

    pages: int  # free pages returned to the file system
    rebuilt: bool  # the file had no auto_vacuum: it was rebuilt (and is INCREMENTAL now)
    checkpoint: Checkpoint  # the checkpoint that shrinks the file (see its ``complete``)
    page_size: int = 4096  # bytes per page

    @property
    def size(self) -> int:
        """Bytes the file gives back once the checkpoint is complete."""
        return self.pages * self.page_size


def give_back_space(
    conn: sqlite3.Connection,
    *,
    wait: float | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> SpaceReturned:
    """Return every free page to the file system now, as ``sqlite-logs prune`` does.

    Incrementally where the file allows it, ``RECLAIM_STEP`` pages per transaction,
    calling ``progress`` with (pages returned, free pages in all) after each; a file
    without ``auto_vacuum`` is rebuilt with ``vacuum`` (the one way SQLite can shrink
    it, and make it incremental). Then a ``TRUNCATE`` checkpoint shrinks the file and
    empties the WAL, unless a reader holds the WAL (``checkpoint.complete`` is then
    False: the first complete checkpoint after that reader ends finishes it).

    Args:
        conn: a write connection.
        wait: seconds the checkpoint waits for readers to end (None: the connection's
            busy timeout).
        progress: called with (pages returned, pages in all) as they go back.
    """
    rebuilt = False
    if incremental(conn):
        total = free_pages(conn)
        pages = 0
        while pages < total:
            step = reclaim_space(conn, RECLAIM_STEP)
            pages += step
            if progress is not None:
                progress(min(pages, total), total)
            if not step:
                break
    else:
        pages = free_pages(conn)
        if pages:
            vacuum(conn)
            rebuilt = True
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    return SpaceReturned(pages, rebuilt, checkpoint(conn, wait=wait), page_size)


def vacuum(conn: sqlite3.Connection) -> None:
    """Rebuild the database file, returning all free space (takes the write lock).

    A file without ``auto_vacuum`` (the seed's, or an application database the handler
    added its tables to) is made ``INCREMENTAL`` by the rebuild, the one moment SQLite
    can change that, so pruning gives space back from then on. Raises
    ``sqlite3.OperationalError`` if the rebuild left free pages (it never should).
    """
    if int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) == 0:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("VACUUM")
    left = free_pages(conn)
    if left:
        msg = f"VACUUM left {left} free pages"
        raise sqlite3.OperationalError(msg)


def file_sizes(path: str) -> tuple[int, int]:
    """Bytes in the database file and in its WAL (0 for a missing file)."""

    def size(name: str) -> int:
        try:
            return os.path.getsize(name)
        except OSError:
            return 0

    return size(path), size(path + "-wal")
