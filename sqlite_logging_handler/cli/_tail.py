"""``tail``: the last records, oldest first; ``-f`` follows new ones, ``-F`` the file's name.

``-F`` is ``tail -F``: it waits for a database that does not exist yet (or is not yet
a log database), and when the file is replaced or removed it says so and follows
whatever file has that name next, starting with its last records.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import threading
from typing import TextIO

from .. import _render, schema
from ..exceptions import SQLiteLoggingError
from ..query import LogStore
from ._args import Register, add_filters, check_database, database, filters, row_count

__all__ = ["register"]

_POLL = 0.25  # seconds between two looks at the file (-F) or the database (-f)


def register(command: Register) -> None:
    """Add ``tail``."""
    tail = command("tail", _tail, "the last records, oldest first; -f follows new ones")
    tail.add_argument("-n", type=row_count, default=10, help="how many (default: 10; 0: none)")
    follow = tail.add_mutually_exclusive_group()
    follow.add_argument("-f", "--follow", action="store_true", help="print records as they arrive")
    follow.add_argument(
        "-F",
        dest="follow_name",
        action="store_true",
        help="as -f, and wait for the database to appear, and follow it when it is replaced",
    )
    add_filters(tail)


def _tail(args: argparse.Namespace, out: TextIO) -> int:
    if args.follow_name:
        return _follow_name(args, out)
    with LogStore(check_database(args)) as store:
        _print(store, args, out, follow=args.follow)
    return 0


def _print(store: LogStore, args: argparse.Namespace, out: TextIO, *, follow: bool) -> None:
    """The last ``-n`` records, then (``follow``) each new one until the store closes."""
    wanted = filters(args)
    colour = out.isatty()
    rows = store.logs(**wanted, limit=args.n) if args.n else []
    for row in reversed(rows):
        print(_render.log_line(row, colour, utc=args.utc), file=out, flush=True)
    if follow:
        after = max((row.id for row in rows), default=None)
        for row in store.follow(**wanted, after_id=after, poll_interval=_POLL):
            print(_render.log_line(row, colour, utc=args.utc), file=out, flush=True)


def _follow_name(args: argparse.Namespace, out: TextIO) -> int:
    path = database(args)
    said = ""
    while True:
        identity = _identity(path)  # before opening: a change after it is seen
        store, reason = _open(path)
        if store is None:
            if reason != said:
                _note(f"{reason}; waiting for it")
                said = reason
            threading.Event().wait(_POLL)
            continue
        if said:
            _note(f"{path!r} has appeared; following it")
        watcher = _Watcher(path, identity, store)
        try:
            with store:
                watcher.start()
                _print(store, args, out, follow=True)
        except sqlite3.ProgrammingError:  # closed under a query: the file was replaced
            if not watcher.changed.is_set():
                raise
        finally:
            watcher.stop.set()
        if not watcher.changed.is_set():
            return 0  # Ctrl-C (follow() ends quietly on it)
        if _identity(path) is None:
            _note(f"{path!r} has been removed; waiting for it to come back")
            said = f"no log database at {path!r} yet"
        else:
            _note(f"{path!r} has been replaced; following the new file")
            said = ""


class _Watcher(threading.Thread):
    """Closes ``store`` (ending its follow()) when the file at ``path`` is no longer it."""

    def __init__(self, path: str, identity: tuple[int, int] | None, store: LogStore) -> None:
        super().__init__(name="sqlite-logs-watch", daemon=True)
        self._path, self._identity, self._store = path, identity, store
        self.changed = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(_POLL):
            if _identity(self._path) != self._identity:
                self.changed.set()
                self._store.close()
                return


def _open(path: str) -> tuple[LogStore | None, str]:
    """A store on ``path``, or None and why not (yet)."""
    if not os.path.isfile(path):
        return None, f"no log database at {path!r} yet"
    try:
        return LogStore(path), ""
    except (OSError, SQLiteLoggingError) as exc:  # being created, or not ours (yet)
        return None, f"{path!r} is not a log database yet" if _being_created(path) else str(exc)


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


def _identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _note(text: str) -> None:
    print(f"sqlite-logs: {_render.visible(text)}", file=sys.stderr, flush=True)
