"""Columns derived from others, filled in SQL for rows the handler did not write.

The handler writes ``levelno`` and ``created`` with every row, and its ``timestamp`` is
SQLite's canonical UTC text. A row inserted by hand (the seed README's custom-schema
example, a script, ``worker.execute("INSERT ...")``) gives ``timestamp``, ``level``,
``module`` and ``message`` at most; without ``levelno`` every level filter (and the
``errors`` view) skips it, and a timestamp in another form (the seed's local
``2026-11-28T07:41:09.123456``) defeats every time filter. Triggers fill them in, for
any writer, on insert:

- ``created`` from ``timestamp``: canonical or zoned text as SQLite reads it (UTC, or
  its offset applied), ISO text with a ``T`` and no zone as local time (the seed's
  ``datetime.now().isoformat()``), a number as epoch seconds;
- ``timestamp`` rewritten as the canonical UTC text of that ``created``;
- ``levelno`` from ``level`` (logging's names, and the seed's ``WARN``/``FATAL``).

Rows of older layouts get the same, once, when a handler upgrades the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

__all__ = ["BACKFILL_CHUNK", "LEVEL_NUMBERS", "TRIGGERS", "RowsFilled", "backfill", "has_triggers"]

#: Row ids ``backfill`` fills in per step (between two progress calls).
BACKFILL_CHUNK = 20_000

#: Level names and their numbers, as logging and the seed use them.
LEVEL_NUMBERS = {
    "DEBUG": 10,
    "INFO": 20,
    "WARN": 30,
    "WARNING": 30,
    "ERROR": 40,
    "FATAL": 50,
    "CRITICAL": 50,
}

#: The canonical text of an epoch (the schema's TIMESTAMP_SQL).
_CANONICAL = "strftime('%Y-%m-%d %H:%M:%f', {}, 'unixepoch')"
# Epoch seconds of a time text, exact to the millisecond (SQLite's resolution):
# whole seconds from '%s', the fraction from '%f' (julianday's arithmetic would leave
# 1767323044.9999987 for ...:05.000).
_SECONDS = (
    "(CAST(strftime('%s', {t}{m}) AS REAL)"
    " + round(strftime('%f', {t}{m}) - CAST(strftime('%S', {t}{m}) AS INTEGER), 3))"
)
_EPOCH = (
    "CASE"
    " WHEN {t} GLOB '[0-9]*' AND {t} NOT GLOB '*[^0-9.]*' THEN CAST({t} AS REAL)"
    " WHEN {t} GLOB '????-??-??T*' AND substr({t}, 20) NOT GLOB '*[Zz+-]*'"
    " THEN " + _SECONDS.replace("{m}", ", 'utc'") + " ELSE " + _SECONDS.replace("{m}", "") + " END"
)
_LEVELNO = (
    "CASE upper({})"
    + "".join(f" WHEN '{name}' THEN {number}" for name, number in LEVEL_NUMBERS.items())
    + " END"
)
_NOT_CANONICAL = (
    "timestamp NOT GLOB "
    "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]'"
)

_NAMES = ("logs_derived_columns", "metrics_derived_columns")

#: AFTER INSERT triggers; the WHEN clause keeps the handler's own rows at one test each.
TRIGGERS = (
    f"CREATE TRIGGER IF NOT EXISTS {_NAMES[0]} AFTER INSERT ON logs "
    "WHEN NEW.levelno IS NULL OR NEW.created IS NULL BEGIN "
    f"UPDATE logs SET levelno = coalesce(levelno, {_LEVELNO.format('level')}), "
    f"created = coalesce(created, {_EPOCH.format(t='timestamp')}) WHERE id = NEW.id; "
    f"UPDATE logs SET timestamp = {_CANONICAL.format('created')} "
    "WHERE id = NEW.id AND NEW.created IS NULL AND created IS NOT NULL; "
    "END",
    f"CREATE TRIGGER IF NOT EXISTS {_NAMES[1]} AFTER INSERT ON metrics "
    "WHEN NEW.created IS NULL BEGIN "
    f"UPDATE metrics SET created = {_EPOCH.format(t='timestamp')} WHERE id = NEW.id; "
    f"UPDATE metrics SET timestamp = {_CANONICAL.format('created')} "
    "WHERE id = NEW.id AND created IS NOT NULL; "
    "END",
)


def has_triggers(conn: sqlite3.Connection) -> bool:
    """Whether the database has both triggers."""
    marks = ", ".join("?" * len(_NAMES))
    sql = f"SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})"
    return int(conn.execute(sql, _NAMES).fetchone()[0]) == len(_NAMES)


class RowsFilled:
    """Counts the rows ``backfill`` went through, for an upgrade's progress.

    Args:
        conn: the database being upgraded.
        tables: the tables that will be filled in (their rows are the total).
        progress: called with ("rows", rows done, rows in all) after each step.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        tables: list[str],
        progress: Callable[[str, int, int], object],
    ) -> None:
        self._progress = progress
        self.done = 0
        self.total = sum(
            int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) for table in tables
        )

    def add(self, rows: int) -> None:
        """``rows`` more rows were filled in."""
        self.done += rows
        self._progress("rows", self.done, self.total)


def backfill(
    conn: sqlite3.Connection, table: str, progress: Callable[[int], object] | None = None
) -> None:
    """Derive ``created``, canonical ``timestamp`` and ``levelno`` for rows without them.

    For rows of older layouts (the seed's) and rows inserted before the triggers
    existed. SQLite's ``'utc'`` modifier converts local time as the machine running
    the upgrade sees its time zone. Done ``BACKFILL_CHUNK`` ids at a time (all in the
    caller's transaction), calling ``progress`` with the rows of each chunk, so that a
    long upgrade can say how far it is.
    """
    low, high = conn.execute(f"SELECT coalesce(MIN(id), 1) - 1, MAX(id) FROM {table}").fetchone()
    start = int(low)
    while high is not None and start < high:
        span = (start, start + BACKFILL_CHUNK)
        ids = "id > ? AND id <= ?"
        conn.execute(
            f"UPDATE {table} SET created = {_EPOCH.format(t='timestamp')} "
            f"WHERE {ids} AND created IS NULL",
            span,
        )
        conn.execute(
            f"UPDATE {table} SET timestamp = {_CANONICAL.format('created')} "
            f"WHERE {ids} AND created IS NOT NULL AND {_NOT_CANONICAL}",
            span,
        )
        if table == "logs":
            conn.execute(
                f"UPDATE logs SET levelno = {_LEVELNO.format('level')} "
                f"WHERE {ids} AND levelno IS NULL",
                span,
            )
        if progress is not None:
            progress(
                int(conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {ids}", span).fetchone()[0])
            )
        start += BACKFILL_CHUNK
