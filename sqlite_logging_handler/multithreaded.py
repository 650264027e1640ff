"""MultiThreadedLogger: the seed README's API, for code written against it.

It is a thin facade over the real pieces: an ``SQLiteHandler`` on its own logger (never
the root logger), a ``MetricsAdapter`` for ``log_metric`` and the handler's
``LogStore`` for the getters, which therefore see everything logged before the call.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import uuid
import weakref
from collections.abc import Mapping
from typing import Any

from ._records import EXTRA_ATTR, VerbatimExtra, level_number
from ._text import fetch_all
from .handler import SQLiteHandler
from .metrics import MetricsAdapter
from .query import LogRow, LogStore, MetricRow

__all__ = ["MultiThreadedLogger", "SeedWorker"]


class MultiThreadedLogger:
    """The seed's thread-safe logger, on SQLiteHandler.

    Args:
        db_path: the database file (``":memory:"`` works and is read back too).
        max_workers: accepted for compatibility with the seed; one writer thread
            serves any number of logging threads.
    """

    def __init__(self, db_path: str | os.PathLike[str] = "system_logs.db", max_workers: int = 5):
        self.db_path = os.fspath(db_path)
        self.max_workers = max_workers
        self._handler = SQLiteHandler(db_path)
        # A logger of its own, outside logging's hierarchy: nothing propagates to root.
        self._logger = logging.Logger("multi_threaded_logger", logging.DEBUG)  # noqa: LOG001
        self._logger.addHandler(self._handler)
        self._metrics = MetricsAdapter(self._logger)
        self._store = self._handler.store()
        self.worker = SeedWorker(self._handler, self._store)

    def log(self, level: str | int, module: str, message: str, extra: Any = None) -> None:
        """Log ``message`` at ``level`` for the component ``module``, with ``extra`` data.

        ``module`` is stored in the ``module`` column (as the logger name), ``extra`` as
        JSON in ``extra_data``, whatever its keys (``filename`` and ``lineno`` too).
        """
        levelno = level_number(level)
        if not self._logger.isEnabledFor(levelno):
            return
        fn, lno, func, _ = self._logger.findCaller(False, 2)
        record = self._logger.makeRecord(str(module), levelno, fn, lno, message, (), None, func)
        if extra:
            record.__dict__[EXTRA_ATTR] = VerbatimExtra(
                extra if isinstance(extra, Mapping) else {"extra": extra}
            )
        self._logger.handle(record)

    def log_metric(self, name: str, value: float, unit: str | None = None) -> None:
        """Record ``value`` for the metric ``name`` (a finite number; else ValueError/TypeError)."""
        self._metrics.record(name, value, unit)

    def get_logs(self, level: str | int | None = None, limit: int = 100) -> list[LogRow]:
        """The newest ``limit`` log rows, of ``level`` only if given."""
        return self._store.logs(level=level, limit=limit)

    def get_metrics(self, metric_name: str | None = None, limit: int = 100) -> list[MetricRow]:
        """The newest ``limit`` metric rows, of ``metric_name`` only if given."""
        return self._store.metrics(name=metric_name, limit=limit)

    def get_log_statistics(self) -> dict[str, Any]:
        """``LogStore.statistics()``: total_logs, total_metrics, logs_by_level, ..."""
        return self._store.statistics()

    def close(self) -> None:
        """Write what is queued and release the database. Idempotent."""
        self._store.close()
        self._handler.close()

    def __enter__(self) -> MultiThreadedLogger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SeedWorker:
    """The seed's ``worker.execute()`` / ``worker.fetch_results()`` pair, made reliable.

    ``execute`` first writes everything logged before it. A statement that returns rows
    (a SELECT, a WITH or a PRAGMA, with or without leading space) runs on a read-only
    connection and gets a token whose rows ``fetch_results`` returns, every time it is
    asked, for as long as the caller keeps the token: the rows live with the token and
    go when it goes, so a program that never fetches keeps nothing. Any other
    statement (ALTER TABLE, INSERT, ...) runs on the handler's write connection, after
    the records queued before it, and returns None. Errors raise ``sqlite3.Error`` at
    ``execute``.
    """

    def __init__(self, handler: SQLiteHandler, store: LogStore) -> None:
        self._handler = handler
        self._store = store
        # By the token's text, for a caller that passes an equal string back.
        self._results: weakref.WeakValueDictionary[str, _Token] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def execute(self, query: str, values: Any = None) -> str | None:
        """Run ``query``; return a token for ``fetch_results`` if it returns rows."""
        params = values if values is not None else ()
        try:
            returns_rows, rows = self._store._run(query, params)  # flushes the handler
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_READONLY:
                raise
            returns_rows, rows = self._handler._call_writer(_run, (query, params))
        if not returns_rows:
            return None
        token = _Token(str(uuid.uuid4()), rows)  # as the seed's: unique to this worker
        with self._lock:
            self._results[str(token)] = token
        return token

    def fetch_results(self, token: str | None) -> list[tuple[Any, ...]] | None:
        """The rows of the statement ``token`` stands for, every time (a new list each).

        None for None (what ``execute`` returns for a statement without rows), and for
        a token this worker did not give or that is no longer kept anywhere.
        """
        if token is None:
            return None
        with self._lock:
            mine = self._results.get(str(token))
        return None if mine is None else list(mine.rows)


class _Token(str):
    """A result token: a ``uuid4`` text, as the seed's were, carrying its statement's rows."""

    rows: list[tuple[Any, ...]]

    def __new__(cls, text: str, rows: list[tuple[Any, ...]]) -> _Token:
        token = super().__new__(cls, text)
        token.rows = rows
        return token


def _run(conn: sqlite3.Connection, query: str, params: Any) -> tuple[bool, list[tuple[Any, ...]]]:
    rows, description = fetch_all(conn, query, params)
    return description is not None, [tuple(row) for row in rows]
