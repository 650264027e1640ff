"""Rows inserted by hand are seen by every reader filter (issue 14.10).

A hand-written INSERT (the seed README's custom-schema example) leaves ``levelno`` and
``created`` NULL and may give its timestamp in another form; the database fills them.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from sqlite_logging_handler import LogStore, MultiThreadedLogger, SQLiteHandler

from .conftest import make_logger, rows

NOW = time.time()
LOCAL = datetime.fromtimestamp(NOW)  # naive local time, as the seed wrote it
TIMESTAMPS = {
    "seed local isoformat": LOCAL.isoformat(),
    "SQLite datetime('now')": datetime.fromtimestamp(NOW, UTC).strftime("%Y-%m-%d %H:%M:%S"),
    "ISO with Z": datetime.fromtimestamp(NOW, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    "ISO with offset": datetime.fromtimestamp(NOW, UTC)
    .astimezone(__import__("datetime").timezone(timedelta(hours=5, minutes=30)))
    .isoformat(),
    "epoch seconds": NOW,
}


@pytest.mark.parametrize("stamp", TIMESTAMPS.values(), ids=TIMESTAMPS.keys())
def test_a_hand_inserted_row_is_seen_by_every_log_filter(db_path, stamp):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.info("through the handler")
    handler.flush()
    conn = sqlite3.connect(db_path)
    conn.execute("ALTER TABLE logs ADD COLUMN hostname TEXT")
    conn.execute(
        "INSERT INTO logs (timestamp, level, module, message, hostname) VALUES (?, ?, ?, ?, ?)",
        (stamp, "ERROR", "host", "by hand", socket.gethostname()),
    )
    conn.commit()
    conn.close()
    handler.close()

    (row,) = rows(db_path, "SELECT * FROM logs WHERE message = 'by hand'")
    assert row["levelno"] == 40
    whole_seconds = isinstance(stamp, str) and len(stamp) == len("2026-01-01 00:00:00")
    assert row["created"] == pytest.approx(int(NOW) if whole_seconds else NOW, abs=0.002)
    expected = datetime.fromtimestamp(NOW, UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert row["timestamp"].startswith(expected)  # canonical UTC text
    assert len(row["timestamp"]) == len("2026-01-01 00:00:00.000")
    with LogStore(db_path) as store:
        for filters in (
            {"level": "ERROR"},
            {"min_level": "WARNING"},
            {"since": "1h"},
            {"until": NOW + 60, "since": NOW - 60},
            {"logger": "host"},
            {"contains": "by hand"},
        ):
            assert [r.message for r in store.logs(**filters) if r.module == "host"] == [
                "by hand"
            ], filters
        assert store.statistics()["logs_by_level"] == {"INFO": 1, "ERROR": 1}
    assert [r["message"] for r in rows(db_path, "SELECT message FROM errors")] == ["by hand"]
    recent = rows(db_path, "SELECT message FROM recent ORDER BY id")
    assert [r["message"] for r in recent] == ["through the handler", "by hand"]


def test_the_seed_readmes_custom_schema_example_is_seen_by_level(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    logger = MultiThreadedLogger("logs.db")
    worker = logger.worker
    worker.execute("ALTER TABLE logs ADD COLUMN hostname TEXT")
    # Now, not at import: since="10m" must hold however long the suite ran before.
    local = datetime.fromtimestamp(time.time())
    timestamp, level, module, message = local.isoformat(), "INFO", "web", "custom"
    worker.execute(
        """
    INSERT INTO logs (timestamp, level, module, message, hostname)
    VALUES (?, ?, ?, ?, ?)
""",
        (timestamp, level, module, message, socket.gethostname()),
    )
    assert [r.message for r in logger.get_logs(level="INFO")] == ["custom"]
    with LogStore("logs.db") as store:
        assert [r.message for r in store.logs(min_level="INFO", since="10m")] == ["custom"]
    logger.close()


def test_a_hand_inserted_metric_is_seen_by_time_filters(db_path):
    SQLiteHandler(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO metrics (timestamp, metric_name, value, unit) VALUES (?, ?, ?, ?)",
        (LOCAL.isoformat(), "request_duration", 12.5, "ms"),
    )
    conn.commit()
    conn.close()
    (row,) = rows(db_path, "SELECT * FROM metrics")
    assert row["created"] == pytest.approx(NOW, abs=0.002)
    with LogStore(db_path) as store:
        assert [m.value for m in store.metrics(since="1h")] == [12.5]
        assert store.metric_summary(since="1h")["request_duration"]["count"] == 1


def test_rows_inserted_before_the_triggers_existed_are_filled_on_open(db_path):
    """A database of this version written by an earlier release, without the triggers."""
    SQLiteHandler(db_path).close()
    conn = sqlite3.connect(db_path)
    for name in ("logs_derived_columns", "metrics_derived_columns"):
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute(
        "INSERT INTO logs (timestamp, level, module, message) VALUES (?, 'WARN', 'm', 'old')",
        (LOCAL.isoformat(),),
    )
    conn.commit()
    conn.close()
    assert rows(db_path, "SELECT levelno FROM logs")[0][0] is None  # the premise
    SQLiteHandler(db_path).close()
    (row,) = rows(db_path, "SELECT * FROM logs")
    assert (row["levelno"], row["created"]) == (30, pytest.approx(NOW, abs=0.002))
    with LogStore(db_path) as store:
        assert [r.message for r in store.logs(min_level="WARNING", since="1h")] == ["old"]


def test_the_handlers_own_rows_are_left_as_written(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    record = log.makeRecord(log.name, 23, __file__, 1, "custom level", (), None)
    log.handle(record)
    handler.close()
    (row,) = rows(db_path, "SELECT level, levelno, created FROM logs")
    assert (row["level"], row["levelno"]) == (logging.getLevelName(23), 23)
    assert row["created"] == record.created
