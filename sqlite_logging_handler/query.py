"""LogStore: reads logs and metrics back, over read-only connections.

A store never creates, upgrades or modifies a database, and never takes the write
lock: in WAL mode its queries do not wait for writers, and writers do not wait for it
(the connection itself is ``_reader.Reader``). It imports nothing from the write side.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple, Unpack

from ._aggregates import summary_sql, units_sql
from ._binds import INT64_MAX, INT64_MIN, text
from ._filters import (
    FilterNamer,
    LogFilters,
    Where,
    check_full_text,
    full_text_query,
    keyword,
    log_filters,
    ordered,
)
from ._levels import level_numbers
from ._reader import Reader, release_readers
from ._rows import LOG_SELECT, METRIC_SELECT, LogRow, MetricRow, log_row, metric_row, read_rows
from ._times import TimeBound, parse_age, parse_epoch, parse_time

__all__ = [
    "LogFilters",
    "LogRow",
    "LogStore",
    "MetricRow",
    "TimeBound",
    "parse_age",
    "parse_epoch",
    "parse_time",
    "read_rows",
    "release_readers",
]


class TailSQL(NamedTuple):
    """``LogStore._tail_sql``'s statements and the filters' parameters."""

    bound: str
    last: str
    after: str
    params: list[Any]


class LogStore(Reader):
    """Reads a log database written by SQLiteHandler.

    Args:
        database: path (or ``file:`` URI) of an existing database.
        before_query: called before every query; ``SQLiteHandler.store()`` passes its
            ``flush`` so a store sees everything its handler was given.

    Raises:
        FileNotFoundError: there is no file at the path (a store never creates one);
            the message says what is there instead (a directory).
        SQLiteLoggingError: the database is not at this package's schema version.
    """

    # How rows are built: JSON columns decoded. The command line's store keeps their
    # stored text instead, which its JSON and CSV output as it is (CommandLineStore).
    _log_row = staticmethod(log_row)
    _metric_row = staticmethod(metric_row)

    # -- hints in errors, naming this API's keywords (the command line's store names its
    # -- flags instead: cli._args.CommandLineStore) -----------------------------------

    def _substring_hint(self) -> str:
        """How to search for a substring instead, for a database without a full-text index."""
        return "use contains= for a substring"

    def _words_hint(self, query: str) -> str:
        """How to search for the words of a malformed ``match=`` query as written."""
        return f"to search for the words as written: search={query!r}"

    # How an error names a filter and its value (``level='WARNING'``).
    _named = staticmethod(keyword)

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
        match: str | None = None,
    ) -> list[LogRow]:
        """Log rows matching every given filter, in time order (ties by id).

        Beyond the filters of the contract: ``trace_id`` (an OpenTelemetry trace id, 32
        hex digits), and full-text search over message and exception text, which needs
        the index ``SQLiteHandler(full_text=True)`` creates: ``search``, words as
        written, all of which must appear (``"logged-in 10.0.0.1"``), or ``match``, a
        query in SQLite's FTS5 syntax on purpose (``"timeout AND db"``, ``"conn*"``,
        ``'"disk full"'``).

        Raises:
            ValueError: a filter no record can match as given: ``search`` and ``match``
                both, ``search`` without a word, a malformed ``match`` (the message
                says how to search for its words), ``until`` not after ``since``,
                ``level`` below ``min_level``, an unknown level name.
            TypeError: a filter of the wrong type (``since=date(...)``).
            SQLiteLoggingError: ``search``/``match`` on a database without the index.
        """
        where = self._log_filters(
            level, min_level, logger, since, until, contains, thread, extra,
            trace_id=trace_id, search=search, match=match,
        )  # fmt: skip
        sql, params = _select_logs(where, newest_first, limit)
        return [self._log_row(row) for row in self._query(sql, params)]

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
        match: str | None = None,
    ) -> Iterator[LogRow]:
        """Like ``logs()``, but yields rows one at a time, in constant memory.

        For exports of any size: it reads through a connection of its own, in one
        consistent snapshot, oldest first and without a limit by default.
        """
        where = self._log_filters(
            level, min_level, logger, since, until, contains, thread, extra,
            trace_id=trace_id, search=search, match=match,
        )  # fmt: skip
        sql, params = _select_logs(where, newest_first, limit)
        return self._stream(sql, params, self._log_row)

    def count_logs(self, **filters: Unpack[LogFilters]) -> int:
        """How many log rows match ``filters`` (those of ``logs()``, by keyword)."""
        where = self._keyword_filters(filters)
        return int(self._query(f"SELECT COUNT(*) FROM logs {where.sql()}", where.params)[0][0])

    def _keyword_filters(self, filters: LogFilters) -> Where:
        """``_log_filters`` of the filters given by keyword (``count_logs``, ``_tail_sql``)."""
        return self._log_filters(
            filters.get("level"), filters.get("min_level"), filters.get("logger"),
            filters.get("since"), filters.get("until"), filters.get("contains"),
            filters.get("thread"), filters.get("extra"),
            trace_id=filters.get("trace_id"), search=filters.get("search"),
            match=filters.get("match"),
        )  # fmt: skip

    def _log_filters(
        self, *filters: Any, trace_id: str | None, search: str | None, match: str | None
    ) -> Where:
        """The WHERE clause of the log filters, after checking the full-text ones.

        Every method taking the log filters comes here: ``search``/``match`` are read
        into one FTS5 query in one place (``_filters.full_text_query``).
        """
        query = full_text_query(search, match, self._named)
        if query is not None:
            with self._lock:
                check_full_text(
                    self._connection(), query, f"{self.database!r} has no full-text index",
                    self._substring_hint(), self._words_hint(query) if match is not None else None,
                )  # fmt: skip
        if self._before_query is not None:
            self._before_query()  # level names resolve from what was logged before the call
        return log_filters(
            *filters, trace_id=trace_id, full_text=query, resolve=self._levels, named=self._named
        )

    def _levels(self, level: object, what: str) -> list[int | float]:
        """The level numbers a level name or number stands for in this database."""
        with self._lock:
            return level_numbers(self._connection(), level, what)

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
        match: str | None = None,
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
            trace_id=trace_id, search=search, match=match,
        )  # fmt: skip
        if not 0 < poll_interval < float("inf"):
            msg = f"poll_interval must be a positive number of seconds, not {poll_interval!r}"
            raise ValueError(msg)
        sql = _logs_between(where)
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
                yield from (self._log_row(row) for row in rows)
                if not rows:
                    self._closed.wait(poll_interval)
        except KeyboardInterrupt:
            return
        except sqlite3.ProgrammingError:
            if not self._closed.is_set():
                raise  # not the "closed database" that close() causes

    def _max_id(self) -> int:
        return int(self._query("SELECT coalesce(MAX(id), 0) FROM logs", ())[0][0])

    def _tail_sql(self, **filters: Unpack[LogFilters]) -> TailSQL:
        """For ``sqlite-logs tail``: the SQL of the last rows, and of the rows after one.

        Run in one read transaction (for ``-f``, with a check of the file:
        ``cli._follow_watch``), in constant memory whatever ``-n``: ``bound`` takes
        ``[top, *params, n - 1]`` and gives the ``(timestamp, id)`` of the ``n``-th
        newest matching row up to the id ``top`` (none: there are fewer), ``last``
        takes ``[top, *params, timestamp, timestamp, id]`` and gives the matching rows
        from that one on, oldest first (``""`` and ``INT64_MIN``: all of them), and
        ``after`` takes ``[after, top, *params]`` (those in between, by id).
        """
        where = self._keyword_filters(filters)
        upto = " AND ".join(["id <= ?", *where.conditions])
        bound = (
            f"SELECT timestamp, id FROM logs WHERE {upto}"
            " ORDER BY timestamp DESC, id DESC LIMIT 1 OFFSET ?"
        )
        last = (
            f"SELECT {LOG_SELECT} FROM logs WHERE {upto}"
            " AND timestamp >= ? AND (timestamp > ? OR id >= ?) ORDER BY timestamp, id"
        )
        return TailSQL(bound, last, _logs_between(where), where.params)

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

        ``tags`` match as ``logs()``'s ``extra`` does; ``since``/``until`` as ``logs()``'s
        (``until`` not after ``since`` raises ``ValueError``).
        """
        where = _metric_filters(name, since, until, tags, self._named)
        sql, params = ordered(
            f"SELECT {METRIC_SELECT} FROM metrics {where.sql()}", where.params, newest_first, limit
        )
        return [self._metric_row(row) for row in self._query(sql, params)]

    def iter_metrics(
        self,
        name: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        tags: Mapping[str, Any] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> Iterator[MetricRow]:
        """Like ``metrics()``, but one row at a time, in constant memory (as ``iter_logs()``)."""
        where = _metric_filters(name, since, until, tags, self._named)
        sql, params = ordered(
            f"SELECT {METRIC_SELECT} FROM metrics {where.sql()}", where.params, newest_first, limit
        )
        if self._before_query is not None:
            self._before_query()
        return self._stream(sql, params, self._metric_row)

    def count_metrics(
        self,
        name: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        tags: Mapping[str, Any] | None = None,
    ) -> int:
        """How many metric rows match the filters of ``metrics()``."""
        where = _metric_filters(name, since, until, tags, self._named)
        return int(self._query(f"SELECT COUNT(*) FROM metrics {where.sql()}", where.params)[0][0])

    def metric_summary(
        self,
        name: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        tags: Mapping[str, Any] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Per metric: count, sum, min, max, avg, p50, p95, p99 and unit, computed in SQLite.

        Takes the filters of ``metrics()``, ``tags`` included (matched as ``logs()``'s
        ``extra``). Percentiles use the nearest-rank method (``_aggregates``): every
        percentile is a value that was recorded. ``unit`` is the unit most recently
        recorded for the metric.
        """
        where = _metric_filters(name, since, until, tags, self._named)
        units = {row[0]: row[1] for row in self._query(units_sql(where.sql()), where.params)}
        return {
            row["metric_name"]: {**dict(row), "unit": units.get(row["metric_name"])}
            for row in self._query(summary_sql(where.sql()), where.params)
        }

    def statistics(self) -> dict[str, Any]:
        """Counts by level, thread and logger, totals, and the first and last timestamp.

        Levels come least severe first, threads and loggers most frequent first.
        """

        def counts(column: str, order: str = "2 DESC") -> dict[Any, int]:
            sql = f"SELECT {column}, COUNT(*) FROM logs GROUP BY {column} ORDER BY {order}"
            return {key: count for key, count in self._query(sql, ())}

        first, last = self._query("SELECT MIN(timestamp), MAX(timestamp) FROM logs", ())[0]
        return {
            "total_logs": self._query("SELECT COUNT(*) FROM logs", ())[0][0],
            "total_metrics": self._query("SELECT COUNT(*) FROM metrics", ())[0][0],
            "logs_by_level": counts("level", "MIN(levelno), 1"),  # by severity
            "logs_by_thread": counts("thread_id"),
            "logs_by_logger": counts("module"),
            "first": first,
            "last": last,
        }

    def sql(self, query: str, params: Iterable[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        """Run any read-only SQL; a statement that would write raises ``sqlite3.Error``."""
        return self._query(query, params)


def _select_logs(where: Where, newest_first: bool, limit: int | None) -> tuple[str, list[Any]]:
    """The log query of ``where``, in time order, limited."""
    sql = f"SELECT {LOG_SELECT} FROM logs {where.sql()}"
    return ordered(sql, where.params, newest_first, limit)


def _logs_between(where: Where) -> str:
    """The log rows of ``where`` after one id up to another, by id: ``[after, top, *params]``.

    What ``follow()`` polls, and ``tail -f`` reads after the last row it looked at.
    """
    conditions = " AND ".join(["id > ?", "id <= ?", *where.conditions])
    return f"SELECT {LOG_SELECT} FROM logs WHERE {conditions} ORDER BY id"


def _metric_filters(
    name: object, since: TimeBound, until: TimeBound, tags: object, named: FilterNamer
) -> Where:
    where = Where(named)
    if name is not None:
        if not text(name, "name"):
            msg = "name must name a metric (metric names are never empty), not ''"
            raise ValueError(msg)
        where.add("metric_name = ?", name)
    where.time(since, until)
    where.extra(tags, column="tags", what="tags")
    return where
