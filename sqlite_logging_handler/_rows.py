"""The rows readers get back: ``LogRow`` and ``MetricRow``, built from SQLite rows.

Tuples in the table's column order with attribute access (as the seed's rows were
tuples), JSON columns decoded to dicts. Shared by ``LogStore``, hooks and shipping.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, NamedTuple

from . import schema
from ._text import fetch_all, readable_json

__all__ = [
    "LOG_SELECT",
    "METRIC_SELECT",
    "LogRow",
    "MetricRow",
    "log_row",
    "metric_row",
    "read_rows",
]


class LogRow(NamedTuple):
    """A row of ``logs``, in column order, with ``extra_data`` decoded to a dict."""

    id: int
    timestamp: str
    level: str
    thread_id: int | None
    module: str
    message: str
    extra_data: dict[str, Any] | None
    levelno: int | None
    created: float | None
    pathname: str | None
    filename: str | None
    source_module: str | None
    lineno: int | None
    func_name: str | None
    process: int | None
    process_name: str | None
    thread_name: str | None
    task_name: str | None
    exc_text: str | None
    stack_info: str | None
    template: str | None
    trace_id: str | None
    span_id: str | None


class MetricRow(NamedTuple):
    """A row of ``metrics``, in column order, with ``tags`` decoded to a dict."""

    id: int
    timestamp: str
    metric_name: str
    value: float
    unit: str | None
    tags: dict[str, Any] | None
    created: float | None
    logger: str | None
    thread_id: int | None
    process: int | None
    kind: str | None  # "counter", "gauge", "timer" or "histogram" (schema.METRIC_KINDS)


#: Our columns by name: an upgraded or altered table may hold them in another order.
LOG_SELECT = ", ".join(schema.LOG_COLUMNS)
METRIC_SELECT = ", ".join(schema.METRIC_COLUMNS)


def read_rows(
    conn: sqlite3.Connection, ids: Iterable[tuple[str, int, int]]
) -> list[LogRow | MetricRow]:
    """The rows of ``(table, first id, last id)`` ranges, as LogRow / MetricRow."""
    rows: list[LogRow | MetricRow] = []
    for table, first, last in ids:
        select = LOG_SELECT if table == "logs" else METRIC_SELECT
        build = log_row if table == "logs" else metric_row
        found, _ = fetch_all(
            conn,
            f"SELECT {select} FROM {table} WHERE id BETWEEN ? AND ? ORDER BY id",
            (first, last),
        )
        rows.extend(build(row) for row in found)
    return rows


def log_row(row: sqlite3.Row | tuple[Any, ...]) -> LogRow:
    """A ``LogRow`` from the values of ``SELECT {LOG_SELECT}``."""
    values = list(row)
    values[6] = readable_json(values[6])
    return LogRow(*values)


def metric_row(row: sqlite3.Row | tuple[Any, ...]) -> MetricRow:
    """A ``MetricRow`` from the values of ``SELECT {METRIC_SELECT}``."""
    values = list(row)
    values[5] = readable_json(values[5])
    return MetricRow(*values)
