"""The filters of ``LogStore``, as parameterised SQL: one WHERE clause builder.

Every value a caller gives is bound, never inlined into the SQL text, and every value
is bindable (``_binds``): a filter finds what was stored, or raises a clear
``ValueError``/``TypeError``, never ``OverflowError``. Conditions see whole values:
SQLite's ``LIKE`` and JSON functions stop at a NUL, so text is searched with
``instr()`` (which does not), and JSON values SQLite cannot compare whole (text with a
NUL, integers beyond 64 bits, keys that need escaping) are compared in Python.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from . import schema
from ._binds import count, integer, is_int64, text
from ._records import tags_json
from ._times import TimeBound, parse_time

__all__ = ["MATCH", "LevelResolver", "Where", "add_functions", "log_filters", "ordered"]

#: The full-text condition on ``logs_fts``.
MATCH = f"{schema.FULL_TEXT_TABLE} MATCH ?"

_ESCAPED_NUL = "\\u0000"  # how JSON writes a NUL (hex digits only: one spelling)

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
        """AND ``condition``, whose ``?`` take ``params``."""
        self.conditions.append(condition)
        self.params.extend(params)

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
        """Top-level keys of the JSON ``column`` holding ``values``' values.

        A value is compared as the writer stores it (a ``datetime``, a NaN, an object
        as the writer encodes them), and as SQLite compares JSON values (``1 == 1.0``).
        """
        if values is None:
            return
        if not isinstance(values, Mapping):
            msg = f"{what} must be a mapping of keys to values, not {type(values).__name__}"
            raise TypeError(msg)
        for key, value in values.items():
            if not isinstance(key, str):
                msg = f"{what} keys must be text (str), not {type(key).__name__}: {key!r}"
                raise TypeError(msg)
            self._json_value(column, key, _stored_form(value))

    def _json_value(self, column: str, key: str, value: Any) -> None:
        in_python = f"sqlite_logs_json_equals({column}, ?, ?)"
        expected = _json_text(value)
        if not (_plain_key(key) and _comparable_in_sql(value)):
            self.add(in_python, key, expected)
            return
        path = f'$."{key}"'
        if value is None:
            condition, params = f"json_type({column}, ?) = 'null'", [path]
        elif isinstance(value, dict | list):
            condition, params = f"json_extract({column}, ?) = json(?)", [path, expected]
        else:
            condition, params = f"json_extract({column}, ?) = ?", [path, value]
        # SQLite's JSON functions stop at an escaped NUL (\u0000) in the document: a
        # document holding one is checked whole, in Python.
        self.add(
            f"{condition} AND (instr({column}, ?) = 0 OR {in_python})",
            *params,
            _ESCAPED_NUL,
            key,
            expected,
        )

    def trace_id(self, trace_id: object) -> None:
        """An OpenTelemetry trace id (hex digits, any case)."""
        if trace_id is not None:
            self.add("trace_id = ?", text(trace_id, "trace_id").lower())

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
    conn.create_function("sqlite_logs_json_equals", 3, _json_equals, deterministic=True)


def _bound(value: TimeBound, what: str) -> str | None:
    try:
        return parse_time(value)
    except ValueError as exc:
        msg = f"{what}: {exc}"
        raise ValueError(msg) from None


def _contains(message: str | None, needle: str) -> bool:
    """A Unicode case-insensitive substring test (SQLite's own folds ASCII only)."""
    return isinstance(message, str) and needle.casefold() in message.casefold()


def _json_equals(document: str | None, key: str, expected: str) -> bool:
    """Whether the JSON object ``document`` holds at ``key`` the JSON value ``expected``."""
    if not isinstance(document, str):
        return False
    try:
        data = json.loads(document)
    except ValueError:
        return False
    return isinstance(data, dict) and key in data and data[key] == json.loads(expected)


def _stored_form(value: Any) -> Any:
    """``value`` as the writer stores it in JSON, decoded again (plain JSON as it is)."""
    if _plain_json(value):
        return value
    return json.loads(tags_json({"value": value}) or "{}").get("value")


def _plain_json(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if type(value) is list:
        return all(_plain_json(item) for item in value)
    if type(value) is dict:
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    return False


def _plain_key(key: str) -> bool:
    """Whether SQLite's JSON path ``$."key"`` finds ``key`` in every SQLite version."""
    return bool(key) and '"' not in key and json.dumps(key, ensure_ascii=False)[1:-1] == key


def _comparable_in_sql(value: Any) -> bool:
    """Whether ``json_extract()`` gives ``value`` whole, and SQLite can bind it."""
    if isinstance(value, str):
        return "\0" not in value
    if isinstance(value, int) and not isinstance(value, bool):
        return is_int64(value)
    return True  # None, bool, float; lists and objects are compared as JSON text


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
