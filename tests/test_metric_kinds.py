"""Schema version 3: each metric row knows its kind, and each database its instance id."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from sqlite_logging_handler import (
    LogStore,
    MetricsAdapter,
    MultiThreadedLogger,
    SQLiteHandler,
    schema,
)

from .conftest import make_logger, rows


def test_each_adapter_method_stores_its_kind(db_path):
    handler = SQLiteHandler(db_path)
    metrics = MetricsAdapter(make_logger(handler))
    metrics.increment("requests")
    metrics.gauge("queue_depth", 7, "items")
    metrics.record("payload", 512, "By")
    with metrics.timer("db_query"):
        pass

    @metrics.timer("decorated")
    def work() -> None:
        pass

    work()
    with pytest.raises(KeyError), metrics.timer("failing"):
        raise KeyError("x")
    handler.close()

    stored = {r["metric_name"]: r["kind"] for r in rows(db_path, "SELECT * FROM metrics")}
    assert stored == {
        "requests": "counter",
        "queue_depth": "gauge",
        "payload": "histogram",
        "db_query": "timer",
        "decorated": "timer",
        "failing": "timer",
    }
    assert set(stored.values()) <= set(schema.METRIC_KINDS)
    with LogStore(db_path) as store:
        assert {row.metric_name: row.kind for row in store.metrics()} == stored


def test_the_seed_facade_records_measurements(tmp_path):
    facade = MultiThreadedLogger(str(tmp_path / "seed.db"))
    facade.log_metric("cpu_usage", 45.2, "%")
    (row,) = facade.get_metrics()
    facade.close()
    assert (row.metric_name, row.kind) == ("cpu_usage", "histogram")


def _as_version_2(path) -> None:
    """Turn a current database back into the version 2 layout."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        DROP TABLE ship_cursors;
        DROP TABLE log_metadata;
        ALTER TABLE metrics DROP COLUMN kind;
        PRAGMA user_version = 2;
        """
    )
    conn.close()


def test_a_version_2_database_is_upgraded_keeping_its_rows(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    metrics = MetricsAdapter(log)
    metrics.increment("requests", 3)
    metrics.gauge("memory", 512, "MB")
    log.info("an ordinary record")
    handler.close()
    _as_version_2(db_path)
    assert "kind" not in {r[1] for r in rows(db_path, "PRAGMA table_info(metrics)")}

    SQLiteHandler(db_path).close()

    assert rows(db_path, "PRAGMA user_version")[0][0] == schema.SCHEMA_VERSION == 3
    # Only increment() wrote the unit "count": those rows are counters; others unknown.
    kinds = [tuple(r) for r in rows(db_path, "SELECT metric_name, value, kind FROM metrics")]
    assert kinds == [("requests", 3.0, "counter"), ("memory", 512.0, None)]
    assert [r["message"] for r in rows(db_path)] == ["an ordinary record"]
    assert rows(db_path, "SELECT * FROM ship_cursors") == []


def test_every_database_gets_an_instance_id_that_stays(db_path, tmp_path):
    SQLiteHandler(db_path).close()
    conn = sqlite3.connect(db_path)
    first = schema.instance_id(conn)
    conn.close()
    assert first is not None
    assert str(uuid.UUID(first)) == first

    handler = SQLiteHandler(db_path)
    make_logger(handler).info("again")
    handler.close()
    other = tmp_path / "other.db"
    SQLiteHandler(other).close()
    conn = sqlite3.connect(db_path)
    conn2 = sqlite3.connect(other)
    try:
        assert schema.instance_id(conn) == first
        assert schema.instance_id(conn2) not in (None, first)
    finally:
        conn.close()
        conn2.close()


def test_an_older_layout_has_no_instance_id(db_path):
    SQLiteHandler(db_path).close()
    _as_version_2(db_path)
    conn = sqlite3.connect(db_path)
    try:
        assert schema.instance_id(conn) is None
    finally:
        conn.close()
