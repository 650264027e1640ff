"""The filters of ``LogStore``, as parameterised SQL: one WHERE clause builder.

Every value a caller gives is bound, never inlined into the SQL text, and every value
is bindable (``_binds``): a filter finds what was stored, or raises a clear
``ValueError``/``TypeError``, never ``OverflowError``. Conditions see whole values:
SQLite's ``LIKE`` and JSON functions stop at a NUL, so text is searched with
``instr()`` (which does not), and JSON values SQLite cannot compare whole (text with a
NUL, integers beyond 64 bits, keys that need escaping) are compared in Python.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from . import schema
from ._binds import count, integer, stored_text, text
from ._json_match import json_conditions, json_equals
from ._times import TimeBound, parse_time

__all__ = [
    "MATCH",
    "LevelResolver",
    "LogFilters",
    "Where",
    "add_functions",
    "fts_words",
    "log_filters",
    "ordered",
]

_TRACE_ID = re.compile(r"[0-9a-f]{32}")  # how every trace id is stored

#: The full-text condition on ``logs_fts``.
MATCH = f"{schema.FULL_TEXT_TABLE} MATCH ?"


class LogFilters(TypedDict, total=False):
    """The filters of ``LogStore.logs()``, for methods that take them by keyword."""

    level: int | str | None
    min_level: int | str | None
    logger: str | None
    since: TimeBound
    until: TimeBound
    contains: str | None
    thread: int | str | None
    extra: Mapping[str, Any] | None
    trace_id: str | None
    search: str | None


#: Level name or number -> the level numbers it stands for (``_levels.level_numbers``).
LevelResolver = Callable[[object, str], list[int | float]]


class Where:
    """Builds a parameterised WHERE clause: conditions are ANDed, values never inlined."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.params: list[Any] = []

    def sql(self) -> str:
        """The clause (``WHERE ...``), or "" without conditions."""
        return f"WHERE {' AND '.join(self.conditions)}" if self.conditions else ""

    def add(self, condition: str, *params: Any) -> None:
        """AND ``condition``, whose ``?`` take ``params`` (text as the writer stores it)."""
        self.conditions.append(condition)
        self.params.extend(stored_text(p) if isinstance(p, str) else p for p in params)

    def level(self, level: object, min_level: object, resolve: LevelResolver) -> None:
        """A level exactly, and/or a level and above, by number.

        By number, so that ``idx_logs_levelno_timestamp`` serves both filters; names
        are resolved by ``resolve`` (from the database: custom levels too).
        """
        if level is not None:
            numbers = resolve(level, "level")
            marks = ", ".join("?" * len(numbers))
            self.add(f"levelno IN ({marks})" if len(numbers) > 1 else "levelno = ?", *numbers)
        if min_level is not None:
            self.add("levelno >= ?", min(resolve(min_level, "min_level")))

    def logger(self, name: object) -> None:
        """The logger ``name`` and its children: "app" matches "app" and "app.db", not "apple"."""
        if name is not None:
            name = text(name, "logger")
            if not name:
                msg = (
                    "logger must name a logger (its children match too), not '': leave it "
                    "out to match every logger, or give 'root' for the root logger's own"
                )
                raise ValueError(msg)
            self.add("(module = ? OR (module >= ? AND module < ?))", name, name + ".", name + "/")

    def time(self, since: TimeBound, until: TimeBound) -> None:
        """``since`` inclusive, ``until`` exclusive."""
        if (start := _bound(since, "since")) is not None:
            self.add("timestamp >= ?", start)
        if (end := _bound(until, "until")) is not None:
            self.add("timestamp < ?", end)

    def contains(self, needle: object) -> None:
        """A case-insensitive substring of the whole message; ``%`` and ``_`` are literal."""
        if needle is None:
            return
        needle = text(needle, "contains")
        if needle.isascii():  # SQLite's lower() folds ASCII, and instr() sees past a NUL
            self.add("instr(lower(message), ?) > 0", needle.lower())
        else:
            self.add("sqlite_logs_contains(message, ?)", needle)

    def thread(self, thread: object) -> None:
        """A thread id (int) or a thread name (str)."""
        if isinstance(thread, str):
            self.add("thread_name = ?", thread)
        elif isinstance(thread, int) and not isinstance(thread, bool):
            self.add("thread_id = ?", integer(thread))
        elif thread is not None:
            msg = f"thread must be a thread id (int) or name (str), not {type(thread).__name__}"
            raise TypeError(msg)

    def extra(self, values: object, column: str = "extra_data", what: str = "extra") -> None:
        """Keys of the JSON ``column`` holding ``values``' values (see ``_json_match``)."""
        for condition, params in json_conditions(column, values, what):
            self.add(f"({condition})", *params)

    def trace_id(self, trace_id: object) -> None:
        """An OpenTelemetry trace id (hex digits, any case)."""
        if trace_id is not None:
            wanted = text(trace_id, "trace_id").lower()
            if not _TRACE_ID.fullmatch(wanted):
                msg = (
                    f"trace_id must be an OpenTelemetry trace id, 32 hex digits (as stored), "
                    f"not {trace_id!r}"
                )
                raise ValueError(msg)
            self.add("trace_id = ?", wanted)

    def search(self, query: str | None) -> None:
        """A full-text query on ``logs_fts`` (checked by the store first)."""
        if query is not None:
            self.add(f"id IN (SELECT rowid FROM {schema.FULL_TEXT_TABLE} WHERE {MATCH})", query)


def log_filters(
    level: object,
    min_level: object,
    logger: object,
    since: TimeBound,
    until: TimeBound,
    contains: object,
    thread: object,
    extra: object,
    *,
    trace_id: object,
    search: str | None,
    resolve: LevelResolver,
) -> Where:
    """The WHERE clause of ``LogStore.logs()``'s filters."""
    where = Where()
    where.level(level, min_level, resolve)
    where.logger(logger)
    where.time(since, until)
    where.contains(contains)
    where.thread(thread)
    where.trace_id(trace_id)
    where.search(search)
    where.extra(extra)  # last: it may call back into Python for each row
    return where


def ordered(
    sql: str, params: list[Any], newest_first: bool, limit: object
) -> tuple[str, list[Any]]:
    """``sql`` in time order, ties by id (every index orders ties by id already)."""
    order = "DESC" if newest_first else "ASC"
    sql += f" ORDER BY timestamp {order}, id {order}"
    rows = count(limit, "limit")
    if rows is None:
        return sql, params
    return sql + " LIMIT ?", [*params, rows]


def add_functions(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the SQL functions the filters use."""
    conn.create_function("sqlite_logs_contains", 2, _contains, deterministic=True)
    conn.create_function("sqlite_logs_json_equals", 3, json_equals, deterministic=True)


def _bound(value: TimeBound, what: str) -> str | None:
    try:
        return parse_time(value)
    except ValueError as exc:
        msg = f"{what}: {exc}"
        raise ValueError(msg) from None


def _contains(message: str | None, needle: str) -> bool:
    """A Unicode case-insensitive substring test (SQLite's own folds ASCII only)."""
    return isinstance(message, str) and needle.casefold() in message.casefold()


def fts_words(text: str) -> str:
    """An FTS5 query finding records that hold all of ``text``'s words, as words.

    Each word is quoted as an FTS5 string, so ``logged-in``, ``a:b`` or ``AND`` are
    searched for, never read as query syntax.

    Raises:
        ValueError: ``text`` has no word.
    """
    words = text.split()
    if not words:
        msg = "give at least one word to search for"
        raise ValueError(msg)
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)
