"""``prune``, ``backup``, ``vacuum`` and ``upgrade``: keeping the database in shape.

Each shows its progress on a terminal (stderr), and nothing extra elsewhere.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import tempfile
import time
from typing import TextIO

from .. import maintenance, schema
from .._access import open_writer
from .._terminal import visible
from .._times import format_time, parse_epoch
from ..exceptions import SQLiteLoggingError
from ..query import LogStore
from ._args import Register, check_database, row_count, time_bound
from ._output import STDOUT, usage_error
from ._progress import Progress, watched
from ._summaries import size_text

__all__ = ["CHECKPOINT_WAIT", "register"]

#: Seconds ``prune`` waits for readers before its checkpoint (a query ends in well under
#: that; a reader that keeps a transaction open would make it wait for nothing).
CHECKPOINT_WAIT = 5.0
_HELD_BY_A_READER = (
    "but a reader (another connection in a read transaction) kept the WAL from being "
    "checkpointed, so the file cannot shrink yet. The space comes back at the first "
    "complete checkpoint after that reader ends (a handler writing to the database runs "
    "one when idle; SQLite runs one when the last connection closes)."
)


def register(command: Register) -> None:
    """Add ``prune``, ``backup``, ``vacuum`` and ``upgrade``."""
    prune = command("prune", _prune, "delete old records, in small transactions")
    prune.add_argument(
        "--older-than",
        type=time_bound,
        metavar="TIME",
        help="delete rows from before TIME, written as for --since: 30d (30 days ago), "
        "2026-11-01, '3 days ago', yesterday, @EPOCH",
    )
    prune.add_argument(
        "--keep-rows", type=row_count, metavar="N", help="keep only the newest N log rows"
    )
    prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    backup = command("backup", _backup, "copy the database consistently, while it is written to")
    backup.add_argument("destination", help="the copy's path; -: stdout (not a terminal)")
    command("vacuum", _vacuum, "rebuild the file to return free space to the file system")
    command("upgrade", _upgrade, "bring an older database (e.g. the seed's) to the current schema")


def _writable(args: argparse.Namespace, *, upgrade: bool = False) -> tuple[str, sqlite3.Connection]:
    """The path of, and a write connection to, an existing log database.

    Never creates one; refuses a database without log tables, and (unless
    ``upgrade``) one at another schema version, naming the cause (``open_writer``).
    """
    path = check_database(args)
    return path, open_writer(path, upgrade=upgrade)


def _prune(args: argparse.Namespace, out: TextIO) -> int:
    if args.older_than is None and args.keep_rows is None:
        usage_error("give --older-than and/or --keep-rows", "sqlite-logs prune")
        return 2
    # One "now" for the check, the count and the deletion; --older-than read as --since.
    args.now = time.time()
    older_than = args.older_than
    cutoff = None if older_than is None else parse_epoch(older_than, now=args.now)
    args.cutoff = cutoff
    if cutoff is not None and cutoff > args.now:
        shown = format_time(cutoff, utc=args.utc)
        usage_error(
            f"--older-than {args.older_than!r} ({shown}) is in the future: it would delete "
            "every row",
            "sqlite-logs prune",
        )
        return 2
    path, conn = _writable(args)
    before = sum(maintenance.file_sizes(path))
    returned = None
    try:
        if args.dry_run:
            deleted = _prune_rows(conn, args, dry_run=True)
        else:
            deleted, returned = _delete(path, conn, args)
    finally:
        conn.close()
    verb = "would delete" if args.dry_run else "deleted"
    which = []
    if cutoff is not None:
        which.append(f"older than {format_time(cutoff, utc=args.utc)}")
    if args.keep_rows is not None:
        which.append(f"beyond the newest {args.keep_rows:,} log rows")
    print(
        f"{verb} {deleted['logs']:,} log rows and {deleted['metrics']:,} metric rows "
        + " or ".join(which),
        file=out,
    )
    if returned is not None:
        _print_space(path, before, returned, out)
    return 0


def _print_space(path: str, before: int, returned: maintenance.SpaceReturned, out: TextIO) -> None:
    """Say how much space went back to the file system, or why it has not yet."""
    size, wal = maintenance.file_sizes(path)
    shown = visible(path)
    if returned.checkpoint.complete:
        gone = size_text(max(0, before - size - wal))
        print(f"gave back {gone}: {shown} is now {size_text(size + wal)}", file=out)
    else:
        print(f"freed {size_text(returned.size)} inside {shown}, {_HELD_BY_A_READER}", file=out)
        print(f"({shown} takes {size_text(size)} now, and its WAL {size_text(wal)})", file=out)
    if returned.rebuilt:
        print(
            "(the file had no auto_vacuum: rebuilt with VACUUM, INCREMENTAL from now on)", file=out
        )


def _prune_rows(
    conn: sqlite3.Connection, args: argparse.Namespace, *, dry_run: bool = False
) -> dict[str, int]:
    """``maintenance.prune`` as ``_prune`` read it: before ``args.cutoff``, ``--keep-rows``."""
    return maintenance.prune(
        conn,
        older_than=None if args.cutoff is None else args.now - args.cutoff,
        keep_rows=args.keep_rows,
        dry_run=dry_run,
        now=args.now,
    )


def _delete(
    path: str, conn: sqlite3.Connection, args: argparse.Namespace
) -> tuple[dict[str, int], maintenance.SpaceReturned | None]:
    """Prune, then give the space back; on a terminal, show how many rows are gone."""
    progress = Progress("pruning", unit="rows")
    if progress.active:
        progress.total = sum(_prune_rows(conn, args, dry_run=True).values())
    before = _rows(path) if progress.active else 0
    with watched(progress, lambda: before - _rows(path)):
        deleted = _prune_rows(conn, args)
    returned = None
    if any(deleted.values()):
        returned = _give_back_space(path, conn)
    return deleted, returned


def _give_back_space(path: str, conn: sqlite3.Connection) -> maintenance.SpaceReturned:
    """``give_back_space``, showing pages returned (or, rebuilding the file, KB written)."""
    if maintenance.incremental(conn):
        free = Progress("returning free space", unit="pages")
        try:
            return maintenance.give_back_space(
                conn, wait=CHECKPOINT_WAIT, progress=lambda done, total: _pages(free, done, total)
            )
        finally:
            free.finish()
    rebuild = Progress(
        "rebuilding the file", sum(maintenance.file_sizes(path)) // 1024, "KB written"
    )
    with watched(rebuild, lambda: maintenance.file_sizes(path)[1] // 1024):
        return maintenance.give_back_space(conn, wait=CHECKPOINT_WAIT)


def _rows(path: str) -> int:
    with LogStore(path) as store:
        return int(
            store.sql("SELECT (SELECT COUNT(*) FROM logs) + (SELECT COUNT(*) FROM metrics)")[0][0]
        )


def _backup(args: argparse.Namespace, out: TextIO) -> int:
    path = check_database(args)
    if args.destination == STDOUT:
        return _backup_to_stdout(path, out)
    progress = Progress("backing up", unit="pages")
    with LogStore(path) as store:
        store.backup(args.destination, progress=lambda done, total: _pages(progress, done, total))
    progress.finish()
    print(f"backed up {visible(path)} to {visible(args.destination)}", file=out)
    return 0


def _backup_to_stdout(path: str, out: TextIO) -> int:
    """``backup -``: the copy's bytes on stdout (``| ssh host 'cat > logs.db'``).

    A database is binary: refused on a terminal, as ``gzip -c`` refuses.
    """
    if out.isatty():
        msg = "will not write a database to a terminal: give a file, or redirect stdout"
        raise SQLiteLoggingError(msg)
    progress = Progress("backing up", unit="pages")
    with tempfile.TemporaryDirectory(prefix="sqlite-logs-") as scratch:
        copy = os.path.join(scratch, "backup.db")
        with LogStore(path) as store:
            store.backup(
                copy,
                progress=(lambda done, total: _pages(progress, done, total))
                if progress.active
                else None,
            )
        progress.finish()
        out.flush()
        with open(copy, "rb") as source:
            shutil.copyfileobj(source, out.buffer)
        out.buffer.flush()
    return 0


def _pages(progress: Progress, done: int, total: int) -> None:
    if progress.active:
        progress.total = total
        progress.update(done, force=done in (0, total))


def _vacuum(args: argparse.Namespace, out: TextIO) -> int:
    path, conn = _writable(args)
    before = sum(maintenance.file_sizes(path))
    # VACUUM writes the rebuilt database into the WAL: its growth is the progress.
    progress = Progress("vacuuming", before // 1024, "KB written")
    try:
        with watched(progress, lambda: maintenance.file_sizes(path)[1] // 1024):
            maintenance.vacuum(conn)
            done = maintenance.checkpoint(conn, wait=CHECKPOINT_WAIT)
    finally:
        conn.close()
    size, wal = maintenance.file_sizes(path)
    if done.complete:
        print(f"vacuumed {visible(path)}: {size_text(before)} -> {size_text(size)}", file=out)
    else:
        print(f"vacuumed {visible(path)}, {_HELD_BY_A_READER}", file=out)
        print(
            f"({visible(path)} takes {size_text(size)} now, and its WAL {size_text(wal)})", file=out
        )
    return 0


class _UpgradeShown:
    """An upgrade's progress, as every long operation's: rows filled in, indexes built."""

    def __init__(self) -> None:
        self._shown: dict[str, Progress] = {}

    def update(self, what: str, done: int, total: int) -> None:
        labels = {"rows": "upgrading", "indexes": "indexing"}
        progress = self._shown.get(what)
        first = progress is None
        if progress is None:
            for earlier in self._shown.values():
                earlier.finish()
            progress = self._shown[what] = Progress(labels.get(what, what), total, what)
        progress.update(done, force=first or done >= total)
        if done >= total:
            progress.finish()


def _upgrade(args: argparse.Namespace, out: TextIO) -> int:
    path, conn = _writable(args, upgrade=True)
    try:
        before = schema.schema_version(conn)
        schema.ensure_schema(conn, _UpgradeShown().update)
        after = schema.schema_version(conn)
    finally:
        conn.close()
    shown = visible(path)
    if before == after:
        print(f"{shown} is already at schema version {after}", file=out)
    else:
        print(f"upgraded {shown} from schema version {before} to {after}", file=out)
    return 0
