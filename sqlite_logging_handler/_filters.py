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
import time
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from . import schema
from ._binds import count, integer, stored_text, text
from ._json_match import json_conditions, json_equals
from ._times import TimeBound, no_time_between, parse_epoch, timestamp_text
from .exceptions import SQLiteLoggingError

__all__ = [
    "MATCH",
    "FilterNamer",
    "LevelResolver",
    "LogFilters",
    "Where",
    "add_functions",
    "check_full_text",
    "fts_words",
    "full_text_query",
    "keyword",
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
    match: str | None


#: Level name or number -> the level numbers it stands for (``_levels.level_numbers``).
LevelResolver = Callable[[object, str], list[int | float]]
#: How an error names a filter and its value: ``keyword`` (``LogStore``), or the
#: command line's flag (``--level 'WARNING'``: ``cli._args.CommandLineStore``).
FilterNamer = Callable[[str, object], str]


def keyword(name: str, value: object) -> str:
    """A filter as ``LogStore``'s errors name it: ``level='WARNING'``."""
    return f"{name}={value!r}"


class Where:
    """Builds a parameterised WHERE clause: conditions are ANDed, values never inlined.

    Args:
        named: how its errors name a filter given with its value (``keyword``).
    """

    def __init__(self, named: FilterNamer = keyword) -> None:
        self.conditions: list[str] = []
        self.params: list[Any] = []
        self._named = named

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

        Raises:
            ValueError: ``level`` is below ``min_level``: no record can match both (a
                mistake, not a question whose answer is "nothing").
        """
        numbers = [] if level is None else resolve(level, "level")
        lowest = None if min_level is None else min(resolve(min_level, "min_level"))
        if numbers and lowest is not None and max(numbers) < lowest:
            msg = (
                f"{self._named('level', level)}{_numbered(level, numbers)} is below "
                f"{self._named('min_level', min_level)}{_numbered(min_level, [lowest])}: "
                "no record can be at both; give one of them"
            )
            raise ValueError(msg)
        if numbers:
            marks = ", ".join("?" * len(numbers))
            self.add(f"levelno IN ({marks})" if len(numbers) > 1 else "levelno = ?", *numbers)
        if lowest is not None:
            self.add("levelno >= ?", lowest)

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
        """``since`` inclusive, ``until`` exclusive; relative times count from one moment.

        Raises:
            ValueError: a bound ``parse_time`` refuses, or ``until`` at or before
                ``since`` (``no_time_between``: the bounds swapped, as the command
                line refuses them).
            TypeError: a bound of a type ``parse_time`` refuses.
        """
        now = time.time()
        start, end = _bound(since, "since", now), _bound(until, "until", now)
        if start is not None and end is not None and timestamp_text(start) >= timestamp_text(end):
            since_named, until_named = self._named("since", since), self._named("until", until)
            raise ValueError(no_time_between(since_named, start, until_named, end, utc=False))
        if start is not None:
            self.add("timestamp >= ?", timestamp_text(start))
        if end is not None:
            self.add("timestamp < ?", timestamp_text(end))

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

    def full_text(self, query: str | None) -> None:
        """An FTS5 query on ``logs_fts`` (``full_text_query``; checked by the store first)."""
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
    full_text: str | None,
    resolve: LevelResolver,
    named: FilterNamer = keyword,
) -> Where:
    """The WHERE clause of ``LogStore.logs()``'s filters.

    ``full_text`` is the FTS5 query of ``search=``/``match=`` (``full_text_query``),
    ``named`` how errors name a filter (``Where``).
    """
    where = Where(named)
    where.level(level, min_level, resolve)
    where.logger(logger)
    where.time(since, until)
    where.contains(contains)
    where.thread(thread)
    where.trace_id(trace_id)
    where.full_text(full_text)
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


def _bound(value: TimeBound, what: str, now: float) -> float | None:
    """The epoch of a ``since``/``until`` bound; an error names the bound (``what``)."""
    try:
        return parse_epoch(value, now=now)
    except (ValueError, TypeError) as exc:
        msg = f"{what}: {exc}"
        raise type(exc)(msg) from None


def _numbered(value: object, numbers: list[int | float]) -> str:
    """`` (30)`` after a level name: the number(s) it stands for; "" after a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return ""
    return " (" + ", ".join(f"{n:g}" for n in numbers) + ")"


def _contains(message: str | None, needle: str) -> bool:
    """A Unicode case-insensitive substring test (SQLite's own folds ASCII only)."""
    return isinstance(message, str) and needle.casefold() in message.casefold()


def full_text_query(search: object, match: object, named: FilterNamer = keyword) -> str | None:
    """The FTS5 query of ``search=`` (words, as written) or ``match=`` (FTS5 syntax).

    The one place a full-text filter is read, for every method that takes the log
    filters and for the command line (``--search``, ``--match``): ``search`` is a
    person's words, all of which must appear, each quoted (``fts_words``) so that
    ``logged-in`` is a word; ``match`` is a query in SQLite's FTS5 syntax, given on
    purpose (``timeout AND db*``). Whether ``match`` parses, the store checks.

    Returns:
        The FTS5 query, or None when neither is given.

    Raises:
        ValueError: both are given, or either holds no word (``named`` names ``match``
            in the message: ``match=''``, or the command line's ``--match ''``).
        TypeError: either is not text.
    """
    if search is not None and match is not None:
        msg = (
            f"give search= (words, as written) or match= (an FTS5 query), not both: "
            f"search={search!r}, match={match!r}"
        )
        raise ValueError(msg)
    if search is not None:
        return fts_words(text(search, "search"))
    if match is not None:
        if not text(match, "match").strip():
            msg = f"{named('match', match)} holds no query: give the words to search for"
            raise ValueError(msg)
        return str(match)
    return None


def check_full_text(
    conn: sqlite3.Connection, query: str, no_index: str, substring_hint: str, words_hint: str | None
) -> None:
    """Raise a clear error for a full-text query on a database without ``logs_fts``, or bad syntax.

    Args:
        conn: the store's connection (the caller holds its lock).
        query: the FTS5 query (``full_text_query``).
        no_index: what to say first when there is no index (``'app.db' has no ...``).
        substring_hint: how to search for a substring instead (a keyword, or a flag).
        words_hint: how to search for the query's words as written, for a query given
            on purpose (``match``); None for ``search``'s words, which, quoted, never
            are a syntax error.

    Raises:
        SQLiteLoggingError: there is no full-text index.
        ValueError: ``query`` is no FTS5 query: one line (SQLite's error not chained).
    """
    if not schema.has_full_text(conn):
        msg = (
            f"{no_index}: create its handler with SQLiteHandler(..., full_text=True), "
            f"or {substring_hint}"
        )
        raise SQLiteLoggingError(msg)
    try:
        conn.execute(
            f"SELECT rowid FROM {schema.FULL_TEXT_TABLE} WHERE {MATCH} LIMIT 1", (query,)
        ).fetchall()
    except sqlite3.OperationalError as exc:
        hint = f" ({words_hint})" if words_hint is not None else ""
        msg = f"cannot read {query!r} as a full-text query: {exc}{hint}"
        raise ValueError(msg) from None


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
