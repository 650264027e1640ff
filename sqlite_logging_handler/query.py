"""LogStore: reads logs and metrics back, over read-only connections.

A store never creates, upgrades or modifies a database, and never takes the write
lock: in WAL mode its queries do not wait for writers, and writers do not wait for it.
It imports nothing from the write side.
"""

from __future__ import annotations

import operator
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from . import _forks, schema
from ._aggregates import summary_sql, units_sql
from ._binds import INT64_MAX, INT64_MIN, text
from ._filters import MATCH, Where, add_functions, log_filters, ordered
from ._levels import level_numbers
from ._rows import LOG_SELECT, METRIC_SELECT, LogRow, MetricRow, log_row, metric_row, read_rows
from ._times import TimeBound, parse_age, parse_epoch, parse_time
from .exceptions import SchemaVersionError, SQLiteLoggingError

__all__ = [
    "LogRow",
    "LogStore",
    "MetricRow",
    "TimeBound",
    "parse_age",
    "parse_epoch",
    "parse_time",
    "read_rows",
]

_RowT = TypeVar("_RowT")


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
        self._uri = schema.database_uri(path, readonly=True)
        self._conn: sqlite3.Connection | None = None
        try:
            self._check_version()
        except BaseException:
            self.close()
            raise
        _forks.register(self)

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the read connection (and end any ``follow()``). Idempotent."""
        self._closed.set()
        with self._lock:
            self._disconnect()
        _forks.unregister(self)

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
            add_functions(conn)
            self._conn = conn
        return self._conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _check_version(self) -> None:
        try:
            with self._lock:
                version = schema.schema_version(self._connection())
        except sqlite3.DatabaseError as exc:
            msg = f"cannot read {self.database!r} as a log database: {exc}"
            raise SQLiteLoggingError(msg) from exc
        if version > schema.SCHEMA_VERSION:
            msg = (
                f"{self.database!r} has schema version {version}, newer than this "
                f"package's {schema.SCHEMA_VERSION}: upgrade sqlite-logging-handler"
            )
            raise SchemaVersionError(msg)
        if version < schema.SCHEMA_VERSION:
            msg = (
                f"{self.database!r} has schema version {version}; open it once with "
                "SQLiteHandler (which upgrades it in place, keeping its rows) to read it"
            )
            raise SchemaVersionError(msg)

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
        return [log_row(row) for row in self._query(sql, params)]

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
        return self._stream(sql, params, log_row)

    def _log_filters(self, *filters: Any, trace_id: str | None, search: str | None) -> Where:
        """The WHERE clause of the log filters, after checking a full-text query."""
        if search is not None:
            self._check_search(search)
        if self._before_query is not None:
            self._before_query()  # level names resolve from what was logged before the call
        return log_filters(*filters, trace_id=trace_id, search=search, resolve=self._levels)

    def _levels(self, level: object, what: str) -> list[int | float]:
        """The level numbers a level name or number stands for in this database."""
        with self._lock:
            return level_numbers(self._connection(), level, what)

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
                    f"SELECT rowid FROM {schema.FULL_TEXT_TABLE} WHERE {MATCH} LIMIT 1", (search,)
                ).fetchall()
            except sqlite3.OperationalError as exc:
                msg = f"cannot read {search!r} as a full-text query: {exc}"
                raise ValueError(msg) from exc

    def _stream(
        self, sql: str, params: list[Any], build: Callable[[sqlite3.Row], _RowT]
    ) -> Iterator[_RowT]:
        conn = schema.connect(self._uri)
        conn.row_factory = sqlite3.Row
        add_functions(conn)
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
        if not 0 < poll_interval < float("inf"):
            msg = f"poll_interval must be a positive number of seconds, not {poll_interval!r}"
            raise ValueError(msg)
        conditions = " AND ".join(["id > ?", "id <= ?", *where.conditions])
        sql = f"SELECT {LOG_SELECT} FROM logs WHERE {conditions} ORDER BY id"
        if after_id is None:
            start = self._max_id()  # now, not at the first next()
        else:  # ids are 64-bit: any integer beyond is before or after them all
            start = max(INT64_MIN, min(INT64_MAX, operator.index(after_id)))
        return self._follow(sql, where.params, start, poll_interval)

    def _follow(
        self, sql: str, params: list[Any], last: int, poll_interval: float
    ) -> Iterator[LogRow]:
        try:
            while not self._closed.is_set():
                top = self._max_id()
                rows = self._query(sql, [last, top, *params]) if top > last else []
                last = max(last, top)
                yield from (log_row(row) for row in rows)
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
        """Metric rows matching every given filter, in time order (ties by id).

        ``tags`` match as ``logs()``'s ``extra`` does.
        """
        where = Where()
        if name is not None:
            where.add("metric_name = ?", text(name, "name"))
        where.time(since, until)
        where.extra(tags, column="tags", what="tags")
        sql, params = ordered(
            f"SELECT {METRIC_SELECT} FROM metrics {where.sql()}", where.params, newest_first, limit
        )
        return [metric_row(row) for row in self._query(sql, params)]

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

        Percentiles use the nearest-rank method (``_aggregates``): every percentile is
        a value that was recorded. ``unit`` is the unit most recently recorded for the
        metric.
        """
        where = Where()
        if name is not None:
            where.add("metric_name = ?", text(name, "name"))
        where.time(since, until)
        units = {row[0]: row[1] for row in self._query(units_sql(where.sql()), where.params)}
        return {
            row["metric_name"]: {**dict(row), "unit": units.get(row["metric_name"])}
            for row in self._query(summary_sql(where.sql()), where.params)
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


def _select_logs(where: Where, newest_first: bool, limit: int | None) -> tuple[str, list[Any]]:
    """The log query of ``where``, in time order, limited."""
    sql = f"SELECT {LOG_SELECT} FROM logs {where.sql()}"
    return ordered(sql, where.params, newest_first, limit)
