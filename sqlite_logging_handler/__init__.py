"""Store standard-library log records and metrics in SQLite, off the calling thread."""

from __future__ import annotations

from .exceptions import SchemaVersionError, SQLiteLoggingError
from .handler import SQLiteHandler
from .hooks import AlertHook
from .metrics import MetricsAdapter
from .multithreaded import MultiThreadedLogger
from .query import LogRow, LogStore, MetricRow

__version__ = "0.1.0"

__all__ = [
    "AlertHook",
    "LogRow",
    "LogStore",
    "MetricRow",
    "MetricsAdapter",
    "MultiThreadedLogger",
    "SQLiteHandler",
    "SQLiteLoggingError",
    "SchemaVersionError",
    "__version__",
]
