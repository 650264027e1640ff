"""``tail``: the last records, oldest first; ``-f`` follows new ones, ``-F`` the file's name.

``-F`` is ``tail -F``: it waits for a database that does not exist yet (or is not yet
a log database), and when the file is replaced, truncated or removed it says so and
follows whatever log database has that name next, starting with its last records.

``-f`` is ``tail -f``: it follows the file it opened. When that file's content is
replaced in place (``cp backup.db app.db``: same inode, older rows) it says so and
goes on with the new content, as ``tail -f`` does for a truncated file; when the file
is truncated to something that is not a log database, it ends with an error naming it.

Ctrl-C ends either with exit status 130, as a shell reports for SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
import threading
from typing import TextIO

from .. import _render, schema
from .._terminal import use_colour
from ..exceptions import SQLiteLoggingError
from ._args import CommandLineStore as LogStore  # its errors' hints name the flags
from ._args import Register, add_filters, check_database, database, filters, row_count

__all__ = ["register"]

_POLL = 0.25  # seconds between two looks at the file
_SMALLEST = 512  # bytes: a database has at least one page of at least 512
_REMOVED, _MOVED, _TRUNCATED, _REWRITTEN = "removed", "moved", "truncated", "rewritten"
#: A query failed but the file, looked at afresh, is the one followed, as it was (a
#: writer closing, say): follow on after the last record printed, saying nothing.
_UNCHANGED = "unchanged"


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
        help="as -f, and wait for the database to appear, and follow it when it is "
        "replaced, truncated or removed",
    )
    add_filters(tail)


def _tail(args: argparse.Namespace, out: TextIO) -> int:
    if args.follow_name:
        _follow_name(args, out)
    elif args.follow:
        _follow_file(args, out)
    else:
        with LogStore(check_database(args)) as store:
            _print(store, args, out, follow=False)
    return 0


def _print(
    store: LogStore,
    args: argparse.Namespace,
    out: TextIO,
    *,
    follow: bool,
    printed: list[int] | None = None,
) -> None:
    """The last ``-n`` records, then (``follow``) each new one until the store closes.

    ``printed``, if given, holds the id of the last record printed: a follow that
    starts with it holds one already, and goes on after it without the last ``-n``.
    """
    wanted = filters(args)
    colour = use_colour(out, args.color)
    resuming = bool(printed)
    rows = store.logs(**wanted, limit=args.n) if args.n and not resuming else []
    for row in reversed(rows):
        print(_render.log_line(row, colour, utc=args.utc), file=out, flush=True)
        if printed is not None:
            printed[:] = [row.id]
    if follow:
        after = printed[0] if resuming and printed else max((r.id for r in rows), default=None)
        for row in store.follow(**wanted, after_id=after, poll_interval=_POLL):
            print(_render.log_line(row, colour, utc=args.utc), file=out, flush=True)
            if printed is not None:
                printed[:] = [row.id]


def _follow_file(args: argparse.Namespace, out: TextIO) -> None:
    """``-f``: follow the file opened, through content replaced in place."""
    path = check_database(args)
    printed: list[int] = []
    while True:
        change = _follow_once(LogStore(path), path, args, out, by_name=False, printed=printed)
        if change == _UNCHANGED:
            continue
        printed.clear()
        if change == _REWRITTEN:
            _note(f"{path!r} has been replaced in place; following its new content")
            continue
        msg = f"{path!r} has been truncated: it is no longer a log database (-F waits for one)"
        raise SQLiteLoggingError(msg)


def _follow_name(args: argparse.Namespace, out: TextIO) -> None:
    """``-F``: follow whatever log database has the name, waiting when there is none."""
    path = database(args)
    said = ""
    printed: list[int] = []
    while True:
        store, reason = _open(path)
        if store is None:
            if reason != said:
                _note(f"{reason}; waiting for it")
                said = reason
            threading.Event().wait(_POLL)
            continue
        if said:
            _note(f"{path!r} has appeared; following it")
        said = ""
        change = _follow_once(store, path, args, out, by_name=True, printed=printed)
        if change == _UNCHANGED:
            continue
        printed.clear()
        if change == _REMOVED:
            _note(f"{path!r} has been removed; waiting for it to come back")
            said = f"no log database at {path!r} yet"
        elif change == _TRUNCATED:
            _note(f"{path!r} has been truncated; waiting for a log database there")
            said = f"{path!r} is not a log database yet"
        else:
            _note(f"{path!r} has been replaced; following the new file")


def _follow_once(
    store: LogStore,
    path: str,
    args: argparse.Namespace,
    out: TextIO,
    *,
    by_name: bool,
    printed: list[int],
) -> str:
    """Print and follow ``store`` until the file changes; return how it changed.

    ``printed`` holds the id of the last record printed (see ``_print``).

    Raises:
        KeyboardInterrupt: Ctrl-C ended the follow (``follow()`` ends quietly on it).
    """
    watcher = _Watcher(path, store, by_name=by_name)
    try:
        with store:
            watcher.start()
            _print(store, args, out, follow=True, printed=printed)
    except sqlite3.Error:  # the file changed under a query (a copy half done, a truncation)
        if watcher.changed.wait(4 * _POLL):
            return watcher.change
        return _recheck(path, watcher, by_name=by_name)
    finally:
        watcher.stop.set()
        watcher.join()
    if not watcher.changed.is_set():
        raise KeyboardInterrupt  # exit 130, as for Ctrl-C anywhere else
    return watcher.change


class _Watcher(threading.Thread):
    """Closes ``store`` (ending its follow()) when the file at ``path`` is no longer it.

    No longer it: removed or replaced by another file (``by_name`` only: ``-f``
    follows the file it opened), truncated, or rewritten in place with other rows
    (the newest row seen is gone or different, or ids went back).
    """

    def __init__(self, path: str, store: LogStore, *, by_name: bool) -> None:
        super().__init__(name="sqlite-logs-watch", daemon=True)
        self._path, self._store, self._by_name = path, store, by_name
        self.identity = _identity(path)
        self.companions = _companions(path)  # the followed file's -wal and -shm, as seen
        self.anchor = _newest(store)
        self.change = ""
        self.changed = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(_POLL):
            change = self.check()
            if change:
                self.change = change
                self.changed.set()
                self._store.close()
                if change in (_MOVED, _REMOVED):
                    _forget_companions(self._path, self.companions)
                return
            self.anchor = _newest(self._store) or self.anchor
            self.companions = _companions(self._path) or self.companions

    def check(self) -> str:
        """How the file differs from the one followed, or "" if it does not."""
        return _change(self._path, self._store, self.identity, self.anchor, self._by_name)


def _recheck(path: str, watcher: _Watcher, *, by_name: bool) -> str:
    """How the file changed, looked at afresh once a copy over it has had time to end."""
    watcher.stop.set()
    threading.Event().wait(2 * _POLL)
    try:
        store = LogStore(path)
    except (OSError, SQLiteLoggingError):
        return _REMOVED if _identity(path) is None and by_name else _TRUNCATED
    with store:
        change = _change(path, store, watcher.identity, watcher.anchor, by_name)
    return change or _UNCHANGED  # read back as it was: nothing to say, follow on


def _change(
    path: str,
    store: LogStore,
    identity: tuple[int, int] | None,
    anchor: tuple[int, float] | None,
    by_name: bool,
) -> str:
    """How the file at ``path`` differs from the one followed, or "" if it does not."""
    now = _identity(path)
    if now != identity:
        if not by_name:
            return ""  # -f follows the file it opened, wherever its name goes
        return _REMOVED if now is None else _MOVED
    if _size(path) < _SMALLEST:
        return _TRUNCATED
    if anchor is None:
        return ""
    try:  # through the store's own connection: another one would disturb its WAL
        created, sequence = store.sql(
            "SELECT (SELECT created FROM logs WHERE id = ?),"
            " (SELECT seq FROM sqlite_sequence WHERE name = 'logs')",
            (anchor[0],),
        )[0]
    except sqlite3.ProgrammingError:
        return ""  # closed: the follow is ending
    except sqlite3.OperationalError as exc:
        return "" if "locked" in str(exc) or "busy" in str(exc) else _TRUNCATED
    except sqlite3.DatabaseError:
        return _TRUNCATED
    if (sequence or 0) < anchor[0] or (created is not None and created != anchor[1]):
        return _REWRITTEN  # ids never go back (AUTOINCREMENT), rows never change
    return ""


def _newest(store: LogStore) -> tuple[int, float] | None:
    """The id and time of the newest record (None: none, or unreadable)."""
    try:
        rows = store.sql("SELECT id, created FROM logs ORDER BY id DESC LIMIT 1")
    except sqlite3.Error:
        return None
    return (int(rows[0][0]), rows[0][1]) if rows else None


def _size(path: str) -> int:
    """The file's size in bytes, 0 if it is gone.

    Never read by opening the file: closing a descriptor of a database drops every
    POSIX lock this process holds on it, the reader's too.
    """
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


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


def _companions(path: str) -> dict[str, tuple[int, int]]:
    """The identities of the ``-wal`` and ``-shm`` files beside ``path`` that exist."""
    found = {}
    for suffix in ("-wal", "-shm"):
        identity = _identity(path + suffix)
        if identity is not None:
            found[suffix] = identity
    return found


def _forget_companions(path: str, seen: dict[str, tuple[int, int]]) -> None:
    """Remove the followed file's ``-wal``/``-shm`` left at ``path`` after it went.

    Another file now has the name (renamed over it) or none does, while the old file's
    WAL, kept by this reader's connection, still has the name: opening the path would
    pair the new file with the old WAL, which SQLite reads as the new file's pages (a
    corrupt view: sqlite.org/howtocorrupt.html, "mispairing database files"). Only the
    very files seen beside the followed one are removed, never a new file's own.
    """
    for suffix, identity in seen.items():
        if _identity(path + suffix) == identity:
            with contextlib.suppress(OSError):
                os.unlink(path + suffix)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _note(text: str) -> None:
    print(f"sqlite-logs: {_render.visible(text)}", file=sys.stderr, flush=True)
