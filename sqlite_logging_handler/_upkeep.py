"""A handler's upkeep of its database: retention, space and the WAL, on the writer.

The writer runs ``Upkeep.run`` every ``MAINTAIN_EVERY`` seconds by the clock, whether
or not records arrive (it wakes for it: a service that logs a burst and goes quiet
still has its rows pruned on time), once right after it starts (so a restarted
application prunes what aged while it was down, even if it never logs again), and
once when the handler closes (a short-lived program prunes too).

A run does a bounded slice of work: deletes for at most ``BUDGET`` seconds and at most
``RECLAIM_PAGES`` pages given back, so records never wait long behind it; a run that
could not finish says so and the writer runs the next slice as soon as it is idle.
Each step's effect is read back rather than assumed (see ``maintenance``).
"""

from __future__ import annotations

import math
import sqlite3
import time

from . import maintenance
from ._stderr import write_once

__all__ = ["BUDGET", "MAINTAIN_EVERY", "RECLAIM_PAGES", "WAL_CHECKPOINT_SIZE", "Upkeep"]

#: Seconds between two runs of the upkeep on the writer.
MAINTAIN_EVERY = 5.0
#: WAL bytes above which an idle writer runs ``wal_checkpoint(TRUNCATE)``.
WAL_CHECKPOINT_SIZE = 4 * 1024 * 1024
#: Seconds of deleting one run may spend (one more chunk of ``PRUNE_CHUNK`` rows at most).
BUDGET = 0.2
#: Free pages one run gives back at most (8 MB of 4 KiB pages).
RECLAIM_PAGES = 2000


class Upkeep:
    """What a handler keeps in shape, and how.

    Args:
        path: the database file (None for an in-memory database: no WAL, no file).
        retention: seconds after which rows are deleted, or None.
        max_rows: log rows kept at most, or None.
    """

    def __init__(self, path: str | None, retention: float | None, max_rows: int | None) -> None:
        self.path = path
        self.retention = retention
        self.max_rows = max_rows

    def run(
        self,
        conn: sqlite3.Connection,
        *,
        idle: bool,
        thorough: bool = False,
        commit: maintenance.Commit | None = None,
    ) -> bool:
        """One slice of upkeep on the writer's connection; True if more is due at once.

        ``idle``: no record is waiting, so a checkpoint that waits for readers costs
        nobody. ``thorough``: do everything now, without a budget (``maintain()``).
        ``commit`` ends each transaction (the writer's refuses once it is closed).
        """
        end = commit or _commit
        deadline = math.inf if thorough else time.monotonic() + BUDGET
        more = False
        if self.retention is not None or self.max_rows is not None:
            _, done = maintenance.prune_step(
                conn,
                older_than=self.retention,
                keep_rows=self.max_rows,
                deadline=deadline,
                commit=end,
            )
            more = not done
        reclaimed = 0
        if not more and maintenance.free_pages(conn):
            reclaimed = self._reclaim(conn, thorough, end)
            more = not thorough and reclaimed > 0 and maintenance.free_pages(conn) > 0
        if self.path is not None and (idle or thorough) and not more:
            _, wal = maintenance.file_sizes(self.path)
            if reclaimed or wal > WAL_CHECKPOINT_SIZE:
                # Incomplete while a reader holds an old snapshot: the next run retries.
                maintenance.checkpoint(conn)
        return more

    def _reclaim(self, conn: sqlite3.Connection, thorough: bool, commit: maintenance.Commit) -> int:
        if maintenance.incremental(conn):
            return maintenance.reclaim_space(
                conn, None if thorough else RECLAIM_PAGES, commit=commit
            )
        if self.path is not None and (self.retention is not None or self.max_rows is not None):
            write_once(
                f"not-incremental:{self.path}",
                f"{self.path}: pruned rows leave space that new records reuse, but the file "
                "cannot shrink: it was not created with auto_vacuum=INCREMENTAL. Run "
                f"'sqlite-logs --db {self.path} vacuum' once to convert it.",
            )
        return 0


def _commit(conn: sqlite3.Connection) -> None:
    conn.execute("COMMIT")
