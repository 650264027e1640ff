"""PRAGMAs of the write connection: the defaults, checking a user's, and their effect.

A PRAGMA that is set is not necessarily in effect: ``journal_mode`` may be refused,
and ``page_size``/``auto_vacuum`` are kept in the database file, so they apply to a new
file only (before its first table and before the switch to WAL) or after a VACUUM
rebuilds it. ``pragmas_not_in_effect`` reads them back, so that a setting that did not
apply is said rather than assumed.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_PRAGMAS",
    "FILE_FORMAT_PRAGMAS",
    "apply_pragmas",
    "check_pragmas",
    "pragmas_not_in_effect",
]

#: Applied to every write connection; ``SQLiteHandler(pragmas=...)`` overrides them.
DEFAULT_PRAGMAS: Mapping[str, object] = {
    "journal_mode": "WAL",
    "synchronous": "NORMAL",
    "cache_size": -64_000,  # 64 MB
    # ms; the writer retries past it (nothing is dropped), and a short wait inside
    # SQLite keeps fork() and close() responsive.
    "busy_timeout": 1_000,
    "journal_size_limit": 64 * 1024 * 1024,  # bytes a WAL is truncated to after a checkpoint
}

_PRAGMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PRAGMA_WORD = re.compile(r"-?[A-Za-z0-9_.]+")


def check_pragmas(pragmas: Mapping[Any, object] | None) -> dict[str, object]:
    """Merge ``pragmas`` over the defaults, refusing anything that is not a plain value."""
    merged = dict(DEFAULT_PRAGMAS)
    for name, value in (pragmas or {}).items():
        if not isinstance(name, str) or not _PRAGMA_NAME.fullmatch(name):
            msg = f"pragma name {name!r} is not an identifier"
            raise ValueError(msg)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float | str) or (
            isinstance(value, str) and not _PRAGMA_WORD.fullmatch(value)
        ):
            msg = f"pragma {name}={value!r}: value must be a number or a single word"
            raise ValueError(msg)
        merged[name.lower()] = value
    return merged


def apply_pragmas(conn: sqlite3.Connection, pragmas: Mapping[str, object]) -> None:
    """Run ``PRAGMA name = value`` for each entry (values were checked by check_pragmas)."""
    for name, value in pragmas.items():
        conn.execute(f"PRAGMA {name} = {value}").fetchall()


#: PRAGMAs kept in the database file itself: they apply to a new file only (before its
#: first table, and before the switch to WAL), or after a VACUUM rebuilds it.
FILE_FORMAT_PRAGMAS = ("page_size", "auto_vacuum")
_AUTO_VACUUM = {"none": 0, "full": 1, "incremental": 2}


def pragmas_not_in_effect(conn: sqlite3.Connection, pragmas: Mapping[str, object]) -> list[str]:
    """What ``pragmas`` asked that the database does not do, read back, in words."""
    notes = []
    for name in ("journal_mode", *FILE_FORMAT_PRAGMAS):
        if name not in pragmas:
            continue
        wanted = str(pragmas[name]).lower()
        actual = str(conn.execute(f"PRAGMA {name}").fetchone()[0]).lower()
        if name == "auto_vacuum":
            wanted = str(_AUTO_VACUUM.get(wanted, wanted))
        if wanted == actual or (name == "journal_mode" and actual == "memory"):
            continue  # an in-memory database has no journal file to choose
        hint = (
            "it applies to a new database, or after a VACUUM rebuilds this one "
            "('sqlite-logs vacuum' makes it auto_vacuum=INCREMENTAL)"
            if name in FILE_FORMAT_PRAGMAS
            else "SQLite refused the change"
        )
        notes.append(f"{name}={pragmas[name]} is not in effect (the database has {actual}): {hint}")
    return notes
