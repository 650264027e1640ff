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

__all__ = ["LEVEL_NUMBERS", "TRIGGERS", "backfill", "has_triggers"]

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


def backfill(conn: sqlite3.Connection, table: str) -> None:
    """Derive ``created``, canonical ``timestamp`` and ``levelno`` for rows without them.

    For rows of older layouts (the seed's) and rows inserted before the triggers
    existed. SQLite's ``'utc'`` modifier converts local time as the machine running
    the upgrade sees its time zone.
    """
    conn.execute(
        f"UPDATE {table} SET created = {_EPOCH.format(t='timestamp')} WHERE created IS NULL"
    )
    conn.execute(
        f"UPDATE {table} SET timestamp = {_CANONICAL.format('created')} "
        f"WHERE created IS NOT NULL AND {_NOT_CANONICAL}"
    )
    if table == "logs":
        conn.execute(f"UPDATE logs SET levelno = {_LEVELNO.format('level')} WHERE levelno IS NULL")
