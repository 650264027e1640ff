"""Level names as the database knows them: custom levels resolve in any process.

An application may register its own levels (``logging.addLevelName(25, "NOTICE")``);
another process reading its database has not. The stored ``level``/``levelno`` pairs
say what each name meant to the writer, so a name resolves from the database first,
then from the standard names, then from this process's own registrations. "Unknown
level" is only said of a name none of these has.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator

from ._binds import integer

__all__ = ["level_numbers"]

#: logging's own names, known to every process.
_STANDARD = {
    "CRITICAL": logging.CRITICAL,
    "FATAL": logging.FATAL,
    "ERROR": logging.ERROR,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
    "NOTSET": logging.NOTSET,
}
_NUMBER = re.compile(r"\s*(?:Level\s+)?(-?\d+)\s*", re.IGNORECASE)  # "25", "Level 25"


def level_numbers(conn: sqlite3.Connection, level: object, what: str) -> list[int | float]:
    """The level numbers ``level`` (a number or a name) stands for in this database.

    A name stored with several numbers (two applications registered it differently)
    stands for all of them. Names are matched exactly first, then in any case.

    Args:
        conn: a connection to the log database.
        level: a level number, or a name as stored, standard or registered.
        what: the parameter's name, for error messages (``"min_level"``).

    Raises:
        TypeError: ``level`` is neither an int nor a str.
        ValueError: a name that is neither standard, nor stored, nor registered here.
    """
    if isinstance(level, int) and not isinstance(level, bool):
        return [integer(level)]
    if not isinstance(level, str):
        msg = f"{what} must be a level name or number, not {type(level).__name__}"
        raise TypeError(msg)
    if match := _NUMBER.fullmatch(level):
        return [integer(int(match[1]))]
    if (standard := _STANDARD.get(level.upper())) is not None:
        return [standard]
    stored = _stored_numbers(conn, level)
    if stored:
        return stored
    registered = logging.getLevelNamesMapping()
    number = registered.get(level, registered.get(level.upper()))
    if number is not None:
        return [number]
    known = sorted(set(_STANDARD) | {str(name) for name, _ in _levels(conn)})
    msg = (
        f"unknown level {level!r}: no record in this database has that level name; "
        f"use a number, or one of {', '.join(known)}"
    )
    raise ValueError(msg)


def _stored_numbers(conn: sqlite3.Connection, name: str) -> list[int | float]:
    """The numbers stored with the level name ``name`` (exactly, else in any case)."""
    pairs = [(stored, number) for stored, number in _levels(conn) if isinstance(stored, str)]
    numbers = [number for stored, number in pairs if stored == name]
    if not numbers:
        numbers = [number for stored, number in pairs if stored.upper() == name.upper()]
    if numbers:
        return numbers
    # A name that is not the first stored with its number (a level renamed over time):
    # rare, and worth a scan.
    rows = conn.execute(
        "SELECT DISTINCT levelno FROM logs WHERE level = ? COLLATE NOCASE AND levelno IS NOT NULL",
        (name,),
    ).fetchall()
    return [row[0] for row in rows]


def _levels(conn: sqlite3.Connection) -> Iterator[tuple[object, int | float]]:
    """(name, number) for each level number stored, one index seek per level."""
    row = conn.execute(
        "SELECT level, levelno FROM logs WHERE levelno IS NOT NULL ORDER BY levelno LIMIT 1"
    ).fetchone()
    while row is not None:
        yield row[0], row[1]
        row = conn.execute(
            "SELECT level, levelno FROM logs WHERE levelno > ? ORDER BY levelno LIMIT 1",
            (row[1],),
        ).fetchone()
