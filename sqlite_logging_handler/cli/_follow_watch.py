"""Following one content of a log database file, and noticing when the file is no longer it.

``tail -f``/``-F`` print a record only from a look at the file that also checked it is
still the content followed, in the same read transaction (one snapshot): the database's
``instance_id`` is the one seen, the last row printed and the newest row looked at are
still there with the same ``created`` time (or pruned), and ``sqlite_sequence`` has not
gone back below them (ids never go back: AUTOINCREMENT). So a record of another
content copied over the file (``cp other.db app.db``, a restore of an older backup,
``sqlite-logs backup`` onto it) is never printed as a new record of the old one.

The follower's own connection does not see a copy over the main file that no write
follows: in WAL mode it keeps its cached pages while the ``-shm`` file is unchanged. So
the main file's size, modification and change times are watched too (from outside
SQLite, by ``os.stat``: never by opening the file, whose closing would drop every POSIX
lock this process holds on the database). When they change, the follower closes its
connection and a fresh one looks at the file and compares it with what was seen, as
above: the application's own writes and WAL checkpoints change them too, and leave the
same content, so they are not reported.

A copy over the main file is read correctly only where no connection keeps the old
file's ``-shm`` (SQLite's shared memory, which keeps the old page count) and its
``-wal`` holds no frame (they would be read as the new file's pages: "mispairing
database files" in SQLite's *How To Corrupt An SQLite Database File*). Where it cannot
be read, ``-f`` ends with an error and ``-F`` waits for a log database there.
"""

from __future__ import annotations

import argparse
import errno
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from .. import _render, schema
from .._binds import INT64_MIN
from .._rows import LogRow
from .._terminal import use_colour
from .._text import stream
from ..query import LogStore, TailSQL
from ._args import filters
from ._output import reader_gone

__all__ = [
    "MOVED",
    "POLL",
    "REMOVED",
    "REWRITTEN",
    "TRUNCATED",
    "UNCHANGED",
    "UNREADABLE",
    "Anchor",
    "Following",
    "companions",
    "identity",
    "last_rows",
    "pause",
]

POLL = 0.25  # seconds between two looks at the file
_SMALLEST = 512  # bytes: a database has at least one page of at least 512
_SETTLE_POLLS = 40  # looks a copy under way is waited out for, at most, before going on
REMOVED, MOVED, TRUNCATED, REWRITTEN = "removed", "moved", "truncated", "rewritten"
#: The file changed and SQLite cannot read it as a log database (``Following.why``).
UNREADABLE = "unreadable"
#: A query failed but the file, looked at afresh, is the content followed, as it was (a
#: writer closing, say): follow on after the last record printed, saying nothing.
UNCHANGED = "unchanged"
_SAME = "same"

# One statement, so one snapshot: what the file holds now, to compare with an Anchor.
_STATE = (
    f"SELECT (SELECT value FROM {schema.METADATA_TABLE} WHERE key = 'instance_id'),"
    " (SELECT seq FROM sqlite_sequence WHERE name = 'logs'),"
    " (SELECT created FROM logs WHERE id = ?), (SELECT created FROM logs WHERE id = ?),"
    " (SELECT id FROM logs ORDER BY id DESC LIMIT 1),"
    " (SELECT created FROM logs ORDER BY id DESC LIMIT 1)"
)


@dataclass
class Anchor:
    """What was seen of the content followed: a later look at the file must agree with it.

    A new one (``started`` False) stands for a content not looked at yet: its first
    look prints its last ``-n`` records, or with ``from_start`` all of them (a
    database that appeared where there was none: every record of it is new).
    """

    started: bool = False
    from_start: bool = False
    instance: str | None = None  # log_metadata's instance_id: copies of one database share it
    seen: int = 0  # id of the newest row looked at (0: none yet)
    seen_created: float | None = None
    printed: int = 0  # id of the last row printed (0: none yet)
    printed_created: float | None = None

    def differs(self, state: tuple[Any, ...]) -> bool:
        """Whether ``state`` (a row of ``_STATE``) is of another content than this one's.

        A row looked at may have been pruned since (its ``created`` is then None), but
        never changed, and ids never go back.
        """
        instance, sequence, seen_created, printed_created = state[:4]
        return self.started and (
            instance != self.instance
            or (sequence or 0) < self.seen
            or seen_created not in (None, self.seen_created)
            or printed_created not in (None, self.printed_created)
        )


class Following:
    """Prints the content ``store`` reads, then follows it, until the file is no longer it.

    Args:
        store: the open store of the file at ``path``; never closed here.
        path: the database's path, as given.
        args: ``tail``'s arguments (``-n``, the filters, ``--utc``).
        out: where the records go.
        by_name: ``-F``: another file (or none) at ``path`` ends the follow; ``-f``
            follows the file opened wherever its name goes.
        anchor: what was seen of the content; a new ``Anchor`` to start with its last
            ``-n`` records, the last one's to go on after them.
    """

    def __init__(
        self,
        store: LogStore,
        path: str,
        args: argparse.Namespace,
        out: TextIO,
        *,
        by_name: bool,
        anchor: Anchor,
    ) -> None:
        self._store, self._path, self._args, self._out = store, path, args, out
        self._by_name = by_name
        self.anchor = anchor
        self.identity = identity(path)
        self.companions = companions(path)  # the followed file's -wal and -shm, as seen
        self._sql = store._tail_sql(**filters(args))
        self._colour = use_colour(out, args.color)
        self.why = ""  # what SQLite said of the file, when it is UNREADABLE

    def run(self) -> str:
        """Follow until the file changes; how it changed (``REMOVED`` ... ``UNCHANGED``).

        Raises:
            KeyboardInterrupt: Ctrl-C.
        """
        # The main file as the store's connection last saw it; None: not known, since the
        # file may have changed after the store opened, so the first look is a fresh one.
        known: tuple[int, int, int, int, int] | None = None
        while True:
            now = _signature(self._path)
            if now is None or now[:2] != self.identity:
                if self._by_name:
                    return self._judge()
            else:
                if now != known:  # written, checkpointed, or copied over: look afresh
                    if now[2] < _SMALLEST or self._fresh_look() != _SAME:
                        return self._judge()
                    known = now
                self.companions = companions(self._path) or self.companions
            try:
                shown = self._show_next()
            except sqlite3.Error:  # the file changed under the query (a copy half done)
                return self._judge()
            self._out.flush()
            if shown is None:
                return self._judge()
            if not shown:
                pause(self._out)

    def _print(self, row: LogRow) -> None:
        print(_render.log_line(row, self._colour, utc=self._args.utc), file=self._out)
        self.anchor.printed, self.anchor.printed_created = row.id, row.created

    def _show_next(self) -> bool | None:
        """Print the records next, read with the check in one snapshot; None: replaced.

        The records are printed as they are read, in the read transaction: constant
        memory whatever ``-n`` or the burst. Returns whether any was.
        """
        sql, anchor = self._sql, self.anchor
        shown = False
        with self._store._read_transaction() as conn:
            state = tuple(conn.execute(_STATE, (anchor.seen, anchor.printed)).fetchone())
            if anchor.differs(state):
                return None
            top, top_created = state[4] or 0, state[5]
            if not anchor.started and anchor.from_start:
                rows = stream(conn, sql.after, [INT64_MIN, top, *sql.params])
            elif not anchor.started:
                rows = last_rows(conn, sql, top, self._args.n)
            elif top > anchor.seen:
                rows = stream(conn, sql.after, [anchor.seen, top, *sql.params])
            else:
                rows = iter(())
            for row in rows:
                self._print(self._store._log_row(row))
                shown = True
        if not anchor.started:
            anchor.started, anchor.instance = True, state[0]
        if top > anchor.seen:  # not back after a prune of the newest rows
            anchor.seen, anchor.seen_created = top, top_created
        return shown

    def _fresh_look(self) -> str:
        """``_SAME``, ``REWRITTEN``, or "" (unreadable), from a new connection to the file.

        The store's own connection may still show cached pages of the content replaced;
        it is closed first (and reopened on use), so that the new connection, if it is
        the only one, rebuilds SQLite's shared memory from the file: as long as any
        connection keeps it, it gives the replaced content's page count (a larger file
        copied over reads as "malformed").
        """
        self._store.release()
        try:
            conn = self._store._access.connect()
            try:
                state = conn.execute(_STATE, (self.anchor.seen, self.anchor.printed)).fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            self.why = str(exc)
            return ""
        return REWRITTEN if self.anchor.differs(tuple(state)) else _SAME

    def _judge(self) -> str:
        """How the file changed, looked at afresh once a copy over it has ended.

        ``UNCHANGED``: it is the content followed, as it was (a query failed as a writer
        closed, say); ``UNREADABLE``: SQLite cannot read it as a log database.
        """
        self._settle()
        now = _signature(self._path)
        if now is None:
            return REMOVED if self._by_name else TRUNCATED
        if self._by_name and now[:2] != self.identity:
            return MOVED
        if now[2] < _SMALLEST:
            return TRUNCATED
        verdict = self._fresh_look()
        return UNCHANGED if verdict == _SAME else verdict or UNREADABLE

    def _settle(self) -> None:
        """Wait until the file stays as it is for a poll (a copy over it has ended)."""
        before = _signature(self._path)
        for _ in range(_SETTLE_POLLS):
            threading.Event().wait(POLL)
            now = _signature(self._path)
            if now == before:
                return
            before = now


def pause(out: TextIO) -> None:
    """Wait a poll (``POLL`` seconds), after checking that someone still reads ``out``.

    Raises:
        BrokenPipeError: ``out`` is a pipe whose reader has gone (``tail -f | head -1``):
            ``cli.main()`` ends quietly with 141 then, as on a write to it, without
            waiting for a record to write.
    """
    if reader_gone(out):
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))
    threading.Event().wait(POLL)


def _signature(path: str) -> tuple[int, int, int, int, int] | None:
    """The file's device, inode, size and modification and change times; None: gone.

    Never read by opening the file: closing a descriptor of a database drops every
    POSIX lock this process holds on it, the reader's too.
    """
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def identity(path: str) -> tuple[int, int] | None:
    """The file's (device, inode); None if there is none."""
    signature = _signature(path)
    return None if signature is None else signature[:2]


def companions(path: str) -> dict[str, tuple[int, int]]:
    """The identities of the ``-wal`` and ``-shm`` files beside ``path`` that exist."""
    found = {}
    for suffix in ("-wal", "-shm"):
        seen = identity(path + suffix)
        if seen is not None:
            found[suffix] = seen
    return found


def last_rows(conn: sqlite3.Connection, sql: TailSQL, top: int, count: int) -> Iterator[Any]:
    """The last ``count`` matching rows up to the id ``top``, oldest first, streamed.

    ``conn`` is in a read transaction: the bound found and the rows streamed after it
    are of one snapshot. Constant memory: the ``count``-th newest row's place is found
    first, then the rows from it on are read in order.
    """
    if count <= 0:
        return iter(())
    found = conn.execute(sql.bound, [top, *sql.params, count - 1]).fetchone()
    timestamp, first = (found[0], found[1]) if found is not None else ("", INT64_MIN)
    return stream(conn, sql.last, [top, *sql.params, timestamp, timestamp, first])
