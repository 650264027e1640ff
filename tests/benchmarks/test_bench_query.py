"""Query latency on a large database (1,000,000 rows when timed; 20,000 otherwise).

Run with:  python -m pytest tests/benchmarks/test_bench_query.py --benchmark-enable
"""

from __future__ import annotations

import random
import sqlite3
import time

import pytest

from sqlite_logging_handler import LogStore, SQLiteHandler
from sqlite_logging_handler.schema import LOG_INSERT_COLUMNS, insert_sql

LEVELS = [(10, "DEBUG"), (20, "INFO"), (20, "INFO"), (20, "INFO"), (30, "WARNING"), (40, "ERROR")]


def _fill(path, rows: int) -> None:
    """A database of ``rows`` records spread over the last 30 days (built with SQL directly)."""
    SQLiteHandler(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    rng = random.Random(0)
    now = time.time()
    sql = insert_sql("logs", 1)
    width = len(LOG_INSERT_COLUMNS)
    conn.execute("BEGIN")
    for start in range(0, rows, 10_000):
        batch = []
        for i in range(start, min(rows, start + 10_000)):
            created = now - 30 * 86400 * (1 - i / rows)
            levelno, level = rng.choice(LEVELS)
            values = [
                created,
                created,
                level,
                levelno,
                1,
                f"app.{i % 20}",
                "/app/x.py",
                "x.py",
                "x",
                i % 500,
                "handler",
                1,
                "MainProcess",
                f"worker-{i % 8}",
                f"request {i} done",
                None,
                None,
                None,
                None,
                "request %d done",
            ]
            values += [None] * (width - len(values))  # trace ids, and any later columns
            batch.append(values)
        conn.executemany(sql, batch)
    conn.execute("COMMIT")
    conn.close()


@pytest.fixture(scope="module")
def big_db(tmp_path_factory, request):
    timed = request.config.getoption("benchmark_enable", False)
    path = tmp_path_factory.mktemp("query") / "big.db"
    _fill(path, 1_000_000 if timed else 20_000)
    return path


@pytest.mark.benchmark(group="query latency")
@pytest.mark.parametrize(
    "filters",
    [
        {"level": "ERROR", "since": "1h", "limit": 100},
        {"min_level": "WARNING", "since": "1d", "limit": 100},
        {"logger": "app.3", "since": "7d", "limit": 100},
        {"limit": 100},
    ],
    ids=["error-last-hour", "warning-up-last-day", "logger-last-week", "newest-100"],
)
def test_query_latency(benchmark, big_db, filters):
    store = LogStore(big_db)
    rows = benchmark(store.logs, **filters)
    assert len(rows) <= 100
    store.close()
