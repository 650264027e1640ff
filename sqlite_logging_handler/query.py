"""LogStore: reads logs and metrics back, over read-only connections.

A store never creates, upgrades or modifies a database, and never takes the write
lock: in WAL mode its queries do not wait for writers, and writers do not wait for it.
It imports nothing from the write side.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from . import schema
from ._access import check_log_database, open_reader, same_file
from ._records import level_number
from .exceptions import SQLiteLoggingError

__all__ = [
    "LogRow",
    "LogStore",
    "MetricRow",
    "parse_age",
    "parse_epoch",
    "parse_time",
    "read_rows",
    "release_readers",
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


# Our columns by name: an upgraded or altered table may hold them in another order.
_LOG_SELECT = ", ".join(schema.LOG_COLUMNS)
_METRIC_SELECT = ", ".join(schema.METRIC_COLUMNS)

_RELATIVE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_TIME_FORMS = (
    "a datetime, an epoch number, or a relative time such as '90s', '15m', '1h', '7d' or '2w'"
)

TimeBound = datetime | float | int | str | None
_RowT = TypeVar("_RowT")


def parse_time(value: TimeBound, *, now: float | None = None) -> str | None:
    """The stored timestamp text (UTC) for a ``since``/``until`` bound.

    Accepts a ``datetime`` (naive means local time), an epoch number, or a string
    ``"<n>s|m|h|d|w"`` meaning that long ago.

    Raises:
        ValueError: for anything else, naming the accepted forms.
    """
    epoch = parse_epoch(value, now=now)
    return None if epoch is None else _timestamp_text(epoch)


def parse_epoch(value: TimeBound, *, now: float | None = None) -> float | None:
    """The epoch seconds of a ``since``/``until`` bound, read as ``parse_time`` reads it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        epoch = value.timestamp()  # naive datetimes are taken as local time
    elif isinstance(value, int | float) and not isinstance(value, bool):
        epoch = float(value)
    elif isinstance(value, str) and (match := _RELATIVE.fullmatch(value)):
        amount, unit = match.groups()
        epoch = (time.time() if now is None else now) - float(amount) * _UNIT_SECONDS[unit]
    else:
        msg = f"cannot read {value!r} as a time: use {_TIME_FORMS}"
        raise ValueError(msg)
    return epoch


def parse_age(age: str | float | int) -> float:
    """Seconds in an age given as a number of seconds or as ``"90s"``, ``"12h"``, ``"30d"``.

    Raises:
        ValueError: anything else, naming the accepted forms.
    """
    if isinstance(age, int | float) and not isinstance(age, bool) and age > 0:
        return float(age)
    if isinstance(age, str) and (match := _RELATIVE.fullmatch(age)) and float(match[1]) > 0:
        return float(match[1]) * _UNIT_SECONDS[match[2]]
    msg = (
        f"cannot read {age!r} as an age: use seconds or a string such as '90s', '12h', '30d', '2w'"
    )
    raise ValueError(msg)


def _timestamp_text(epoch: float) -> str:
    millis = round(epoch * 1000)
    moment = datetime.fromtimestamp(millis // 1000, UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{millis % 1000:03d}"


class LogStore:
    """Reads a log database written by SQLiteHandler.

    Args:
        database: path (or ``file:`` URI) of an existing database.
        before_query: called before every query; ``SQLiteHandler.store()`` passes its
            ``flush`` so a store sees everything its handler was given.

    Raises:
        FileNotFoundError: the file does not exist (a store never creates one).
        SQLiteLoggingError: the database is not at this package's schema version.
    """

    def __init__(
        self,
        database: str | os.PathLike[str],
        *,
        before_query: Callable[[], object] | None = None,
    ) -> None:
        path = os.fspath(database)
        if not path.startswith("file:") and not os.path.isfile(path):
            msg = f"no log database at {path!r}"
            raise FileNotFoundError(msg)
        self.database = path
        self._before_query = before_query
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reader = open_reader(path)  # also where SQLite cannot read it in place
        self._uri = self._reader.uri
        self._conn: sqlite3.Connection | None = None
        try:
            self._check_version()
        except BaseException:
            self.close()
            raise
        _LIVE.add(self)

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the read connection (and end any ``follow()``). Idempotent."""
        self._closed.set()
        with self._lock:
            self._disconnect()
        self._reader.close()
        _LIVE.discard(self)

    def _connection(self) -> sqlite3.Connection:
        """The read connection, (re)opened on first use (caller holds ``_lock``)."""
        if self._conn is None:
            if self._closed.is_set():
                msg = "Cannot operate on a closed LogStore."
                raise sqlite3.ProgrammingError(msg)
            try:
                conn = schema.connect(self._uri)
            except sqlite3.Error as exc:
                msg = f"cannot read {self.database!r} as a log database: {exc}"
                raise SQLiteLoggingError(msg) from exc
            conn.row_factory = sqlite3.Row
            conn.create_function("sqlite_logs_contains", 2, _contains, deterministic=True)
            self._conn = conn
        return self._conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _check_version(self) -> None:
        try:
            with self._lock:
                check_log_database(self._connection(), self.database)
        except sqlite3.DatabaseError as exc:
            msg = f"cannot read {self.database!r} as a log database: {exc}"
            raise SQLiteLoggingError(msg) from exc

    # -- queries ----------------------------------------------------------------------

    def logs(
        self,
        level: int | str | None = None,
        min_level: int | str | None = None,
        logger: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        contains: str | None = None,
        thread: int | str | None = None,
        extra: Mapping[str, Any] | None = None,
        limit: int | None = 100,
        newest_first: bool = True,
        *,
        trace_id: str | None = None,
        search: str | None = None,
    ) -> list[LogRow]:
        """Log rows matching every given filter, in time order (ties by id).

        Beyond the filters of the contract: ``trace_id`` (an OpenTelemetry trace id, 32
        hex digits) and ``search``, a full-text query in SQLite's FTS5 syntax
        (``"timeout AND db"``, ``"conn*"``, ``'"disk full"'``) over message and
        exception text; it needs the index ``SQLiteHandler(full_text=True)`` creates.
        """
        where = self._log_filters(
            level, min_level, logger, since, until, contains, thread, extra,
            trace_id=trace_id, search=search,
        )  # fmt: skip
        sql, params = _select_logs(where, newest_first, limit)
        return [_log_row(row) for row in self._query(sql, params)]

    def iter_logs(
        self,
        level: int | str | None = None,
        min_level: int | str | None = None,
        logger: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        contains: str | None = None,
        thread: int | str | None = None,
        extra: Mapping[str, Any] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        *,
        trace_id: str | None = None,
        search: str | None = None,
    ) -> Iterator[LogRow]:
        """Like ``logs()``, but yields rows one at a time, in constant memory.

        For exports of any size: it reads through a connection of its own, in one
        consistent snapshot, oldest first and without a limit by default.
        """
        where = self._log_filters(
            level, min_level, logger, since, until, contains, thread, extra,
            trace_id=trace_id, search=search,
        )  # fmt: skip
        sql, params = _select_logs(where, newest_first, limit)
        if self._before_query is not None:
            self._before_query()
        return self._stream(sql, params, _log_row)

    def _log_filters(self, *filters: Any, trace_id: str | None, search: str | None) -> _Where:
        """The WHERE clause of the log filters, after checking a full-text query."""
        if search is not None:
            self._check_search(search)
        return _log_filters(*filters, trace_id=trace_id, search=search)

    def _check_search(self, search: object) -> None:
        """Raise a clear error for a search on a database without ``logs_fts``, or bad syntax."""
        if not isinstance(search, str):
            msg = f"search must be a full-text query string, not {type(search).__name__}"
            raise TypeError(msg)
        with self._lock:
            conn = self._connection()
            if not schema.has_full_text(conn):
                msg = (
                    f"{self.database!r} has no full-text index: create its handler with "
                    "SQLiteHandler(..., full_text=True), or use contains= for a substring"
                )
                raise SQLiteLoggingError(msg)
            try:
                conn.execute(
                    f"SELECT rowid FROM {schema.FULL_TEXT_TABLE} WHERE {_MATCH} LIMIT 1", (search,)
                ).fetchall()
            except sqlite3.OperationalError as exc:
                msg = f"cannot read {search!r} as a full-text query: {exc}"
                raise ValueError(msg) from exc

    def _stream(
        self, sql: str, params: list[Any], build: Callable[[sqlite3.Row], _RowT]
    ) -> Iterator[_RowT]:
        conn = schema.connect(self._uri)
        conn.row_factory = sqlite3.Row
        conn.create_function("sqlite_logs_contains", 2, _contains, deterministic=True)
        try:
            cursor = conn.execute(sql, params)
            while rows := cursor.fetchmany(1000):
                yield from (build(row) for row in rows)
        finally:
            conn.close()

    def follow(
        self,
        level: int | str | None = None,
        min_level: int | str | None = None,
        logger: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        contains: str | None = None,
        thread: int | str | None = None,
        extra: Mapping[str, Any] | None = None,
        *,
        trace_id: str | None = None,
        search: str | None = None,
        poll_interval: float = 0.2,
        after_id: int | None = None,
    ) -> Iterator[LogRow]:
        """Yield log rows as they are committed (by any process), in id order.

        Starts with the rows committed after the call, or after the row ``after_id``.
        Takes the filters of ``logs()``. Ends when the store is closed, the caller
        stops iterating, or on KeyboardInterrupt (Ctrl-C ends a ``tail -f`` cleanly).
        Ids only grow: a transaction's rows get ids above every committed row, so
        polling by id misses nothing.
        """
        where = self._log_filters(
            level, min_level, logger, since, until, contains, thread, extra,
            trace_id=trace_id, search=search,
        )  # fmt: skip
        conditions = " AND ".join(["id > ?", "id <= ?", *where.conditions])
        sql = f"SELECT {_LOG_SELECT} FROM logs WHERE {conditions} ORDER BY id"
        start = self._max_id() if after_id is None else after_id  # now, not at first next()
        return self._follow(sql, where.params, start, poll_interval)

    def _follow(
        self, sql: str, params: list[Any], last: int, poll_interval: float
    ) -> Iterator[LogRow]:
        try:
            while not self._closed.is_set():
                top = self._max_id()
                rows = self._query(sql, [last, top, *params]) if top > last else []
                last = max(last, top)
                yield from (_log_row(row) for row in rows)
                if not rows:
                    self._closed.wait(poll_interval)
        except KeyboardInterrupt:
            return
        except sqlite3.ProgrammingError:
            if not self._closed.is_set():
                raise  # not the "closed database" that close() causes

    def _max_id(self) -> int:
        return int(self._query("SELECT coalesce(MAX(id), 0) FROM logs", ())[0][0])

    def metrics(
        self,
        name: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        tags: Mapping[str, Any] | None = None,
        limit: int | None = 100,
        newest_first: bool = True,
    ) -> list[MetricRow]:
        """Metric rows matching every given filter, in time order (ties by id)."""
        where = _Where()
        if name is not None:
            where.add("metric_name = ?", name)
        where.time(since, until)
        where.extra(tags, column="tags")
        sql, params = _ordered(
            f"SELECT {_METRIC_SELECT} FROM metrics {where.sql()}", where.params, newest_first, limit
        )
        return [_metric_row(row) for row in self._query(sql, params)]

    def backup(self, destination: str | os.PathLike[str]) -> None:
        """Copy the database to ``destination`` with SQLite's online backup API.

        One consistent snapshot, taken while writers go on: it holds every record
        committed before it began.
        """
        if self._before_query is not None:
            self._before_query()
        target = sqlite3.connect(destination)
        try:
            with self._lock:
                self._connection().backup(target)
        finally:
            target.close()

    def metric_summary(
        self, name: str | None = None, since: TimeBound = None, until: TimeBound = None
    ) -> dict[str, dict[str, Any]]:
        """Per metric: count, min, max, avg, p50, p95, p99 and unit, computed in SQLite.

        Percentiles use the nearest-rank method: p is the smallest value with at least
        p % of the values at or below it (the ceil(p/100 * n)-th smallest), so every
        percentile is a value that was recorded. ``unit`` is the unit most recently
        recorded for the metric.
        """
        where = _Where()
        if name is not None:
            where.add("metric_name = ?", name)
        where.time(since, until)
        filters = where.sql()
        ranks = ", ".join(
            f"MAX(CASE WHEN rn = max(1, ({p} * n + 99) / 100) THEN value END) AS p{p}"
            for p in (50, 95, 99)
        )
        sql = f"""
            WITH ranked AS (
                SELECT metric_name, value,
                       ROW_NUMBER() OVER (PARTITION BY metric_name ORDER BY value) AS rn,
                       COUNT(*) OVER (PARTITION BY metric_name) AS n
                FROM metrics {filters}
            )
            SELECT metric_name, COUNT(*) AS count, MIN(value) AS min, MAX(value) AS max,
                   AVG(value) AS avg, {ranks}
            FROM ranked GROUP BY metric_name ORDER BY metric_name
        """
        # SQLite gives a bare column the value of the row that MAX() picked.
        units_sql = f"SELECT metric_name, unit, MAX(id) FROM metrics {filters} GROUP BY 1"
        units = {row[0]: row[1] for row in self._query(units_sql, where.params)}
        return {
            row["metric_name"]: {**dict(row), "unit": units.get(row["metric_name"])}
            for row in self._query(sql, where.params)
        }

    def statistics(self) -> dict[str, Any]:
        """Counts by level, thread and logger, totals, and the first and last timestamp."""

        def counts(column: str) -> dict[Any, int]:
            sql = f"SELECT {column}, COUNT(*) FROM logs GROUP BY {column} ORDER BY 2 DESC"
            return {key: count for key, count in self._query(sql, ())}

        first, last = self._query("SELECT MIN(timestamp), MAX(timestamp) FROM logs", ())[0]
        return {
            "total_logs": self._query("SELECT COUNT(*) FROM logs", ())[0][0],
            "total_metrics": self._query("SELECT COUNT(*) FROM metrics", ())[0][0],
            "logs_by_level": counts("level"),
            "logs_by_thread": counts("thread_id"),
            "logs_by_logger": counts("module"),
            "first": first,
            "last": last,
        }

    def sql(self, query: str, params: Iterable[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        """Run any read-only SQL; a statement that would write raises ``sqlite3.Error``."""
        return self._query(query, params)

    def _run(self, sql: str, params: Any) -> tuple[bool, list[tuple[Any, ...]]]:
        """Run one statement: whether it returns rows, and its rows as plain tuples."""
        if self._before_query is not None:
            self._before_query()
        with self._lock:
            cursor = self._connection().execute(sql, params)
            rows = [tuple(row) for row in cursor.fetchall()]
            return cursor.description is not None, rows

    def _query(self, sql: str, params: Iterable[Any] | Mapping[str, Any]) -> list[sqlite3.Row]:
        if self._before_query is not None:
            self._before_query()
        with self._lock:
            return self._connection().execute(sql, params).fetchall()  # type: ignore[arg-type]


def read_rows(
    conn: sqlite3.Connection, ids: Iterable[tuple[str, int, int]]
) -> list[LogRow | MetricRow]:
    """The rows of ``(table, first id, last id)`` ranges, as LogRow / MetricRow."""
    rows: list[LogRow | MetricRow] = []
    for table, first, last in ids:
        select = _LOG_SELECT if table == "logs" else _METRIC_SELECT
        build = _log_row if table == "logs" else _metric_row
        cursor = conn.execute(
            f"SELECT {select} FROM {table} WHERE id BETWEEN ? AND ? ORDER BY id", (first, last)
        )
        rows.extend(build(row) for row in cursor)
    return rows


def _select_logs(where: _Where, newest_first: bool, limit: int | None) -> tuple[str, list[Any]]:
    """The log query of ``where``, in time order, limited."""
    return _ordered(
        f"SELECT {_LOG_SELECT} FROM logs {where.sql()}", where.params, newest_first, limit
    )


def _ordered(
    sql: str, params: list[Any], newest_first: bool, limit: int | None
) -> tuple[str, list[Any]]:
    """``sql`` in time order, ties by id (every index orders ties by id already)."""
    order = "DESC" if newest_first else "ASC"
    sql += f" ORDER BY timestamp {order}, id {order}"
    if limit is None:
        return sql, params
    return sql + " LIMIT ?", [*params, int(limit)]


def _log_filters(
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
) -> _Where:
    where = _Where()
    where.level(level, min_level)
    where.logger(logger)
    where.time(since, until)
    where.contains(contains)
    where.thread(thread)
    where.extra(extra)
    if trace_id is not None:
        where.add("trace_id = ?", trace_id.lower())
    if search is not None:
        where.add(f"id IN (SELECT rowid FROM {schema.FULL_TEXT_TABLE} WHERE {_MATCH})", search)
    return where


_MATCH = f"{schema.FULL_TEXT_TABLE} MATCH ?"


class _Where:
    """Builds a parameterised WHERE clause: conditions are ANDed, values never inlined."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.params: list[Any] = []

    def sql(self) -> str:
        return f"WHERE {' AND '.join(self.conditions)}" if self.conditions else ""

    def add(self, condition: str, *params: Any) -> None:
        self.conditions.append(condition)
        self.params.extend(params)

    def level(self, level: int | str | None, min_level: int | str | None) -> None:
        # By number, so that idx_logs_levelno_timestamp serves both filters; a level
        # name this process does not know (registered elsewhere) is matched by name.
        if isinstance(level, str) and level.upper() not in logging.getLevelNamesMapping():
            self.add("level = ?", level)
        elif level is not None:
            self.add("levelno = ?", level_number(level))
        if min_level is not None:
            self.add("levelno >= ?", level_number(min_level))

    def logger(self, name: str | None) -> None:
        if name is not None:
            # The logger and its children: "app" matches "app" and "app.db", not "apple".
            self.add(
                "(module = ? OR (module >= ? AND module < ?))",
                name,
                name + ".",
                name + "/",
            )

    def time(self, since: TimeBound, until: TimeBound) -> None:
        if (start := parse_time(since)) is not None:
            self.add("timestamp >= ?", start)
        if (end := parse_time(until)) is not None:
            self.add("timestamp < ?", end)

    def contains(self, text: str | None) -> None:
        if text is None:
            return
        if text.isascii():
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            self.add("message LIKE ? ESCAPE '\\'", f"%{escaped}%")
        else:  # SQLite's LIKE folds ASCII case only
            self.add("sqlite_logs_contains(message, ?)", text)

    def thread(self, thread: int | str | None) -> None:
        if isinstance(thread, str):
            self.add("thread_name = ?", thread)
        elif thread is not None:
            self.add("thread_id = ?", thread)

    def extra(self, values: Mapping[str, Any] | None, column: str = "extra_data") -> None:
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


def _contains(message: str | None, text: str) -> bool:
    return message is not None and text.casefold() in message.casefold()


def _decode(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _log_row(row: sqlite3.Row) -> LogRow:
    values = list(row)
    values[6] = _decode(values[6])
    return LogRow(*values)


def _metric_row(row: sqlite3.Row) -> MetricRow:
    values = list(row)
    values[5] = _decode(values[5])
    return MetricRow(*values)


# fork(): SQLite state must not be carried into a child process, so every store's
# connection is closed around it (waiting for a running query), and reopened on use.
_LIVE: weakref.WeakSet[LogStore] = weakref.WeakSet()
_FORK_PAUSE_TIMEOUT = 5.0
_paused: list[LogStore] = []


def release_readers(database: str) -> None:
    """Close this process's idle read connections to ``database``; they reopen on use.

    ``SQLiteHandler.close()`` calls it, so that its write connection closes last and
    SQLite removes the WAL and shared-memory files: one clean file, whatever the entry
    point (``MultiThreadedLogger``'s getters, ``handler.store()``, a ``LogStore``).
    """
    target = same_file(database)
    for store in list(_LIVE):
        if target and same_file(store.database) == target and store._lock.acquire(timeout=0.5):
            try:
                store._disconnect()
            finally:
                store._lock.release()


def _before_fork() -> None:
    for store in list(_LIVE):
        if store._lock.acquire(timeout=_FORK_PAUSE_TIMEOUT):
            store._disconnect()
            _paused.append(store)


def _after_fork() -> None:
    while _paused:
        _paused.pop()._lock.release()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork)
