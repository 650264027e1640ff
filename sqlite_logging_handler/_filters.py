"""The filters of ``LogStore``, as parameterised SQL: one WHERE clause builder.

Every value a caller gives is bound, never inlined into the SQL text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from . import schema
from ._records import level_number
from ._times import TimeBound, parse_time

__all__ = ["MATCH", "Where", "contains", "log_filters", "ordered"]

#: The full-text condition on ``logs_fts``.
MATCH = f"{schema.FULL_TEXT_TABLE} MATCH ?"


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

    def level(self, level: int | str | None, min_level: int | str | None) -> None:
        """A level exactly, and/or a level and above."""
        # By number, so that idx_logs_levelno_timestamp serves both filters; a level
        # name this process does not know (registered elsewhere) is matched by name.
        if isinstance(level, str) and level.upper() not in logging.getLevelNamesMapping():
            self.add("level = ?", level)
        elif level is not None:
            self.add("levelno = ?", level_number(level))
        if min_level is not None:
            self.add("levelno >= ?", level_number(min_level))

    def logger(self, name: str | None) -> None:
        """The logger ``name`` and its children: "app" matches "app" and "app.db", not "apple"."""
        if name is not None:
            self.add(
                "(module = ? OR (module >= ? AND module < ?))",
                name,
                name + ".",
                name + "/",
            )

    def time(self, since: TimeBound, until: TimeBound) -> None:
        """``since`` inclusive, ``until`` exclusive."""
        if (start := parse_time(since)) is not None:
            self.add("timestamp >= ?", start)
        if (end := parse_time(until)) is not None:
            self.add("timestamp < ?", end)

    def contains(self, text: str | None) -> None:
        """A case-insensitive substring of the message, ``%`` and ``_`` literal."""
        if text is None:
            return
        if text.isascii():
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            self.add("message LIKE ? ESCAPE '\\'", f"%{escaped}%")
        else:  # SQLite's LIKE folds ASCII case only
            self.add("sqlite_logs_contains(message, ?)", text)

    def thread(self, thread: int | str | None) -> None:
        """A thread id (int) or a thread name (str)."""
        if isinstance(thread, str):
            self.add("thread_name = ?", thread)
        elif thread is not None:
            self.add("thread_id = ?", thread)

    def extra(self, values: Mapping[str, Any] | None, column: str = "extra_data") -> None:
        """Top-level keys of the JSON ``column`` equal to ``values``' values."""
        for key, value in (values or {}).items():
            if '"' in key:
                msg = f"cannot match the key {key!r}: it contains a double quote"
                raise ValueError(msg)
            path = f'$."{key}"'
            if value is None:
                self.add(f"json_type({column}, ?) = 'null'", path)
            elif isinstance(value, dict | list):
                self.add(f"json_extract({column}, ?) = json(?)", path, json.dumps(value))
            else:
                self.add(f"json_extract({column}, ?) = ?", path, value)


def log_filters(
    level: int | str | None,
    min_level: int | str | None,
    logger: str | None,
    since: TimeBound,
    until: TimeBound,
    contains: str | None,
    thread: int | str | None,
    extra: Mapping[str, Any] | None,
    *,
    trace_id: str | None,
    search: str | None,
) -> Where:
    """The WHERE clause of ``LogStore.logs()``'s filters."""
    where = Where()
    where.level(level, min_level)
    where.logger(logger)
    where.time(since, until)
    where.contains(contains)
    where.thread(thread)
    where.extra(extra)
    if trace_id is not None:
        where.add("trace_id = ?", trace_id.lower())
    if search is not None:
        where.add(f"id IN (SELECT rowid FROM {schema.FULL_TEXT_TABLE} WHERE {MATCH})", search)
    return where


def ordered(
    sql: str, params: list[Any], newest_first: bool, limit: int | None
) -> tuple[str, list[Any]]:
    """``sql`` in time order, ties by id (every index orders ties by id already)."""
    order = "DESC" if newest_first else "ASC"
    sql += f" ORDER BY timestamp {order}, id {order}"
    if limit is None:
        return sql, params
    return sql + " LIMIT ?", [*params, int(limit)]


def contains(message: str | None, text: str) -> bool:
    """``sqlite_logs_contains(message, text)``: a Unicode case-insensitive substring test."""
    return message is not None and text.casefold() in message.casefold()
