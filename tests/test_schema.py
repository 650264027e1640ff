"""The schema: versioned, idempotent, and upgrading the seed's database in place."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime

import pytest

from sqlite_logging_handler import LogStore, SchemaVersionError, SQLiteHandler, schema
from sqlite_logging_handler._records import log_row
from sqlite_logging_handler.query import LogRow, MetricRow

from .conftest import make_logger, rows


def make_seed_database(path) -> list[str]:
    """A database laid out as the seed's example wrote it (shared/seed/seed-database.md)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(
        """
        CREATE TABLE logs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            timestamp TEXT NOT NULL,
            level TEXT NOT NULL,
            thread_id INTEGER NOT NULL,
            module TEXT NOT NULL,
            message TEXT NOT NULL,
            extra_data TEXT
        );
        CREATE TABLE metrics (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            timestamp TEXT NOT NULL,
            metric_name TEXT NOT NULL,
            value REAL NOT NULL,
            unit TEXT
        );
        CREATE INDEX idx_logs_timestamp ON logs(timestamp);
        CREATE INDEX idx_logs_level ON logs(level);
        CREATE INDEX idx_logs_thread ON logs(thread_id);
        CREATE INDEX idx_metrics_name ON metrics(metric_name, timestamp);
        """
    )
    stamps = ["2026-11-28T07:41:09.123456", "2026-11-28T07:41:10.500000"]
    conn.execute(
        "INSERT INTO logs (timestamp, level, thread_id, module, message, extra_data) "
        "VALUES (?, 'ERROR', 42, 'api', 'seed error', '{\"user_id\": 1}')",
        (stamps[0],),
    )
    conn.execute(
        "INSERT INTO logs (timestamp, level, thread_id, module, message) "
        "VALUES (?, 'INFO', 42, 'worker', 'seed info')",
        (stamps[1],),
    )
    conn.execute(
        "INSERT INTO metrics (timestamp, metric_name, value, unit) "
        "VALUES (?, 'response_time', 45.2, 'ms')",
        (stamps[0],),
    )
    conn.commit()
    conn.close()
    return stamps


@pytest.fixture(params=["UTC0", "EST+5", "IST-5:30"])
def local_zone(request, monkeypatch):
    """Run the test in a given local time zone (POSIX TZ strings need no tzdata)."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_a_seed_database_is_upgraded_in_place_keeping_its_rows(db_path, local_zone):
    stamps = make_seed_database(db_path)
    handler = SQLiteHandler(db_path)
    make_logger(handler).warning("new record")
    handler.close()

    assert rows(db_path, "PRAGMA user_version")[0][0] == schema.SCHEMA_VERSION
    old_error, old_info, new = rows(db_path)
    local_epoch = datetime.fromisoformat(stamps[0]).timestamp()  # naive = local time
    assert old_error["created"] == pytest.approx(local_epoch, abs=0.001)
    assert old_error["timestamp"] == schema_text(local_epoch)
    assert (old_error["levelno"], old_info["levelno"]) == (40, 20)
    assert old_error["extra_data"] == '{"user_id": 1}'
    assert new["message"] == "new record"
    (metric,) = rows(db_path, "SELECT * FROM metrics")
    assert metric["created"] == pytest.approx(local_epoch, abs=0.001)
    assert metric["tags"] is None
    indexes = {r[0] for r in rows(db_path, "SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"idx_logs_level", "idx_logs_levelno_timestamp"} <= indexes  # theirs kept

    with LogStore(db_path) as store:
        assert [r.message for r in store.logs(min_level="ERROR")] == ["seed error"]


def schema_text(epoch: float) -> str:
    conn = sqlite3.connect(":memory:")
    sql = f"SELECT {schema.TIMESTAMP_SQL.format('?')}"
    text: str = conn.execute(sql, (epoch,)).fetchone()[0]
    conn.close()
    return text


def test_a_store_refuses_an_old_database_and_says_how_to_upgrade(db_path):
    make_seed_database(db_path)
    with pytest.raises(SchemaVersionError, match="open it once with SQLiteHandler"):
        LogStore(db_path)
    assert rows(db_path, "PRAGMA user_version")[0][0] == 0  # the store changed nothing


def test_ensure_schema_is_idempotent(db_path):
    conn = schema.connect(schema.database_uri(db_path))
    schema.ensure_schema(conn)
    before = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    schema.ensure_schema(conn)
    assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before
    conn.close()


def test_a_foreign_logs_table_is_refused(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE logs (line TEXT)")
    conn.close()
    with pytest.raises(Exception, match="not a log table"):
        SQLiteHandler(db_path)


def test_row_types_and_row_builders_follow_the_table_columns():
    import logging

    assert LogRow._fields == schema.LOG_COLUMNS
    assert MetricRow._fields == schema.METRIC_COLUMNS
    record = logging.LogRecord("x", 20, "p", 1, "m", None, None)
    assert len(log_row(record, "m", None, None)) == len(schema.LOG_INSERT_COLUMNS)


def test_no_column_has_a_date_type_that_parse_decltypes_would_convert(db_path):
    SQLiteHandler(db_path).close()
    for table in ("logs", "metrics"):
        for column in rows(db_path, f"PRAGMA table_info({table})"):
            assert column["type"].upper() in {"INTEGER", "TEXT", "REAL"}, column["name"]


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        ("SELECT * FROM logs WHERE levelno = 40 AND timestamp >= '2026'", "idx_logs_levelno"),
        ("SELECT * FROM logs WHERE levelno >= 40", "idx_logs_levelno"),
        ("SELECT * FROM logs WHERE module = 'api' AND timestamp >= '2026'", "idx_logs_module"),
        ("SELECT * FROM logs WHERE thread_id = 1", "idx_logs_thread_timestamp"),
        ("SELECT * FROM logs WHERE timestamp >= '2026'", "idx_logs_timestamp"),
        (
            "SELECT * FROM metrics WHERE metric_name = 'x' AND timestamp >= '2026'",
            "idx_metrics_name",
        ),
        ("SELECT * FROM logs WHERE trace_id = 'abc'", "idx_logs_trace"),
    ],
)
def test_common_queries_are_served_by_an_index(db_path, sql, index):
    SQLiteHandler(db_path).close()
    plan = " ".join(r[3] for r in rows(db_path, f"EXPLAIN QUERY PLAN {sql}"))
    assert index in plan


def _as_version_1(path) -> None:
    """Turn a current database back into the version 1 layout (no trace ids, no views)."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        DROP TABLE ship_cursors;
        DROP TABLE log_metadata;
        ALTER TABLE metrics DROP COLUMN kind;
        DROP INDEX idx_logs_trace;
        DROP VIEW errors;
        DROP VIEW recent;
        ALTER TABLE logs DROP COLUMN trace_id;
        ALTER TABLE logs DROP COLUMN span_id;
        PRAGMA user_version = 1;
        """
    )
    conn.close()


def test_a_version_1_database_is_upgraded_keeping_its_rows(db_path):
    handler = SQLiteHandler(db_path)
    make_logger(handler).error("written by version 1")
    handler.close()
    _as_version_1(db_path)
    with pytest.raises(SchemaVersionError, match="SQLiteHandler"):
        LogStore(db_path)

    handler = SQLiteHandler(db_path)
    make_logger(handler).error("written by version 2")
    handler.close()

    assert rows(db_path, "PRAGMA user_version")[0][0] == schema.SCHEMA_VERSION
    assert [(r["message"], r["trace_id"]) for r in rows(db_path, "SELECT * FROM errors")] == [
        ("written by version 1", None),
        ("written by version 2", None),
    ]
    with LogStore(db_path) as store:
        assert len(store.logs(since="1h")) == 2


def test_a_users_own_table_named_errors_is_left_alone(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE errors (code INTEGER, meaning TEXT)")
    conn.execute("INSERT INTO errors VALUES (404, 'not found')")
    conn.commit()
    conn.close()
    handler = SQLiteHandler(db_path)
    make_logger(handler).error("logged")
    handler.close()
    assert [tuple(r) for r in rows(db_path, "SELECT * FROM errors")] == [(404, "not found")]
    assert len(rows(db_path, "SELECT * FROM recent")) == 1


def test_the_full_text_index_is_declared_as_sqlite_utils_declares_it(db_path):
    handler = SQLiteHandler(db_path)
    make_logger(handler).info("written before the index existed")
    handler.close()
    handler = SQLiteHandler(db_path, full_text=True)
    log = make_logger(handler)
    log.info("written after")
    log.info("deleted later")
    handler.close()

    (ddl,) = [r[0] for r in rows(db_path, "SELECT sql FROM sqlite_master WHERE name = 'logs_fts'")]
    assert 'content="logs"' in ddl
    triggers = rows(db_path, "SELECT name FROM sqlite_master WHERE type = 'trigger'")
    assert {r[0] for r in triggers} >= {"logs_ai", "logs_ad", "logs_au"}
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM logs WHERE message = 'deleted later'")
    conn.execute("INSERT INTO logs_fts(logs_fts) VALUES ('integrity-check')")  # raises if stale
    conn.commit()
    conn.close()
    with LogStore(db_path) as store:
        assert {r.message for r in store.logs(search="written")} == {
            "written before the index existed",
            "written after",
        }
        assert store.logs(search="deleted") == []
