"""``tail``: the last records, oldest first; ``-f`` follows new ones, ``-F`` the file's name.

``-F`` is ``tail -F``: it waits for a database that does not exist yet (or is not yet
a log database), and when the file is replaced, truncated or removed it says so and
follows whatever log database has that name next. One that appears where there was
none is shown from its first record (all of it is new, as ``tail -F`` shows a file
that appears); one copied or renamed over the followed one, from its last ``-n``
records (a restore: records already seen). A path that can never be a database (a
directory, say) is an error at once.

``-f`` is ``tail -f``: it follows the file it opened. When that file's content is
replaced in place (``cp backup.db app.db``, ``cp other.db app.db``: same inode, other
rows) it says so and goes on with the new content, as ``tail -f`` does for a truncated
file; when the file is truncated, or replaced by one SQLite cannot read as a log
database, it ends with an error naming it. How a replacement is noticed, and why no
record is printed under the wrong content: ``_follow_watch``.

Ctrl-C ends either with exit status 130, as a shell reports for SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
from typing import TextIO

from .. import _render, schema
from .._access import what_is_there
from .._binds import INT64_MAX
from .._terminal import use_colour
from ..exceptions import SQLiteLoggingError
from ._args import CommandLineStore as LogStore  # its errors' hints name the flags
from ._args import (
    Register,
    add_filters,
    check_database,
    database,
    filters,
    row_count,
)
from ._follow_watch import (
    MOVED,
    REMOVED,
    REWRITTEN,
    TRUNCATED,
    UNCHANGED,
    UNREADABLE,
    Anchor,
    Following,
    identity,
    last_rows,
    pause,
)
from ._output import usage_error

__all__ = ["register"]


def register(command: Register) -> None:
    """Add ``tail``."""
    tail = command("tail", _tail, "the last records, oldest first; -f follows new ones")
    tail.add_argument("-n", type=row_count, default=10, help="how many (default: 10; 0: none)")
    follow = tail.add_mutually_exclusive_group()
    follow.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="print records as they arrive (not with --until)",
    )
    follow.add_argument(
        "-F",
        dest="follow_name",
        action="store_true",
        help="as -f, and wait for the database to appear, and follow it when it is "
        "replaced, truncated or removed",
    )
    add_filters(tail)


def _tail(args: argparse.Namespace, out: TextIO) -> int:
    if (args.follow or args.follow_name) and args.until is not None:
        # Following waits for records still to come, all after now: with an end it would
        # print nothing more and never end (journalctl -f would wait the same way).
        usage_error(
            "--until cannot be used with -f or -F: the records a follower waits for come "
            "after now (tail --until TIME shows those before it)",
            "sqlite-logs tail",
        )
        return 2
    if args.follow_name:
        _follow_name(args, out)
    elif args.follow:
        _follow_file(args, out)
    else:
        with LogStore(check_database(args)) as store:
            colour = use_colour(out, args.color)
            sql = store._tail_sql(**filters(args))
            with store._read_transaction() as conn:  # constant memory, whatever -n
                for row in last_rows(conn, sql, INT64_MAX, args.n):
                    line = _render.log_line(store._log_row(row), colour, utc=args.utc)
                    print(line, file=out)
            out.flush()
    return 0


def _follow_file(args: argparse.Namespace, out: TextIO) -> None:
    """``-f``: follow the file opened, through content replaced in place."""
    path = check_database(args)
    store, anchor = LogStore(path), Anchor()
    try:
        while True:
            following = Following(store, path, args, out, by_name=False, anchor=anchor)
            change = following.run()
            if change == UNREADABLE:
                msg = (
                    f"{path!r} has been replaced in place by a file that cannot be read as "
                    f"a log database ({following.why}; -F waits for one)"
                )
                raise SQLiteLoggingError(msg)
            if change not in (UNCHANGED, REWRITTEN):
                msg = (
                    f"{path!r} has been truncated: it is no longer a log database "
                    "(-F waits for one)"
                )
                raise SQLiteLoggingError(msg)
            if change == REWRITTEN:
                _note(f"{path!r} has been replaced in place; following its new content")
                anchor = Anchor()
            store = _reopen(store, path)
    finally:
        store.close()


def _follow_name(args: argparse.Namespace, out: TextIO) -> None:
    """``-F``: follow whatever log database has the name, waiting when there is none."""
    path = database(args)
    _never_one(args, path)
    said = ""
    store: LogStore | None = None
    anchor = Anchor()
    appeared = False  # no log database was at the name: the next one's records are all new
    try:
        while True:
            if store is None:
                store, reason = _open(path)
                if store is None:
                    _never_one(args, path)
                    appeared = True
                    if reason != said:
                        _note(f"{reason}; waiting for it")
                        said = reason
                    pause(out)  # tail -F | head -1, waiting for the database: ends too
                    continue
                if said:
                    _note(f"{path!r} has appeared; following it")
                said, anchor = "", Anchor(from_start=appeared)
            following = Following(store, path, args, out, by_name=True, anchor=anchor)
            change = following.run()
            if change in (UNCHANGED, REWRITTEN):
                if change == REWRITTEN:
                    _note(f"{path!r} has been replaced; following the new file")
                    anchor = Anchor()
                store, said = _reopen_by_name(store, path)
                appeared = store is None  # gone in between: whatever comes next is new
                continue
            if change in (MOVED, REMOVED):
                _forget_companions(path, following.companions)
            store.close()
            store = None
            appeared = change != MOVED  # renamed over: a replacement, shown from its last -n
            if change == REMOVED:
                _note(f"{path!r} has been removed; waiting for it to come back")
                said = f"no log database at {path!r} yet"
            elif change == TRUNCATED:
                _note(f"{path!r} has been truncated; waiting for a log database there")
                said = f"{path!r} is not a log database yet"
            elif change == UNREADABLE:
                _note(
                    f"{path!r} has been replaced by a file that cannot be read as a log "
                    f"database ({following.why}); waiting for a log database there"
                )
            else:
                _note(f"{path!r} has been replaced; following the new file")
    finally:
        if store is not None:
            store.close()


def _reopen(store: LogStore, path: str) -> LogStore:
    """A new store on ``path``, opened before ``store`` closes (see ``_follow_watch``).

    Raises:
        SQLiteLoggingError: the file is no longer a log database of this version.
    """
    try:
        return LogStore(path)
    except FileNotFoundError as exc:
        msg = f"{path!r} has been removed"
        raise SQLiteLoggingError(msg) from exc
    finally:
        store.close()


def _reopen_by_name(store: LogStore, path: str) -> tuple[LogStore | None, str]:
    """``_open(path)``, before ``store`` closes; the reason if there is no store (yet)."""
    try:
        new, reason = _open(path)
    finally:
        store.close()
    if new is None:
        _note(f"{reason}; waiting for it")
    return new, reason


def _open(path: str) -> tuple[LogStore | None, str]:
    """A store on ``path``, or None and why not (yet)."""
    if not os.path.isfile(path):
        return None, f"no log database at {path!r} yet"
    try:
        return LogStore(path), ""
    except (OSError, SQLiteLoggingError) as exc:  # being created, or not ours (yet)
        return None, f"{path!r} is not a log database yet" if _being_created(path) else str(exc)


def _never_one(args: argparse.Namespace, path: str) -> None:
    """Raise ``check_database``'s error if no database can ever be at ``path``.

    A directory, a file that is not a regular one, a path under a file: waiting for
    them would be forever. A path whose directory does not exist yet may still get
    one (``mkdir -p logs`` and an application starting), so ``-F`` waits for it, as
    ``tail -F`` does.

    Raises:
        FileNotFoundError: the path is one of those, or ``--db ''``.
    """
    there = what_is_there(path) if not os.path.isfile(path) else ""
    if args.db == "" or (there and not there.startswith(": there is no directory")):
        check_database(args)


def _being_created(path: str) -> bool:
    """Whether ``path`` holds no tables yet (a handler is creating the database)."""
    try:
        conn = sqlite3.connect(schema.database_uri(path, readonly=True), uri=True)
        try:
            return not conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def _forget_companions(path: str, seen: dict[str, tuple[int, int]]) -> None:
    """Remove the followed file's ``-wal``/``-shm`` left at ``path`` after it went.

    Another file now has the name (renamed over it) or none does, while the old file's
    WAL, kept by this reader's connection, still has the name: opening the path would
    pair the new file with the old WAL, which SQLite reads as the new file's pages (a
    corrupt view: sqlite.org/howtocorrupt.html, "mispairing database files"). Only the
    very files seen beside the followed one are removed, never a new file's own.
    """
    for suffix, seen_identity in seen.items():
        if identity(path + suffix) == seen_identity:
            with contextlib.suppress(OSError):
                os.unlink(path + suffix)


def _note(text: str) -> None:
    print(f"sqlite-logs: {_render.visible(text)}", file=sys.stderr, flush=True)
