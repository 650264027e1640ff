"""Fixtures for the shipping tests: log databases with something to ship, a test OTLP
receiver, the real collector in front of it, and a real PostgreSQL."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlite_logging_handler import MetricsAdapter, SQLiteHandler

from ..conftest import make_logger, rows
from .receiver import OTLPReceiver
from .servers import Collector, PostgresCluster

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SPAN_ID = "b7ad6b7169203331"


def fill(db_path: Path, records: int, metrics: int = 0, **handler_options: object) -> None:
    """Log ``records`` records (extras, an exception every 100th, a trace id every 3rd)
    and ``metrics`` metric points of each kind in turn, into ``db_path``."""
    handler = SQLiteHandler(db_path, batch_size=500, **handler_options)  # type: ignore[arg-type]
    log = make_logger(handler)
    for i in range(records):
        extra: dict[str, object] = {"n": i, "user": {"id": i % 7, "tags": ["a", i % 2 == 0]}}
        if i % 3 == 0:
            extra.update(otelTraceID=TRACE_ID, otelSpanID=SPAN_ID)
        if i % 100 == 99:
            try:
                raise ValueError(f"bad value {i}")
            except ValueError:
                log.exception("record %d failed", i, extra=extra)
        else:
            log.log(logging.INFO if i % 10 else logging.WARNING, "record %d", i, extra=extra)
    adapter = MetricsAdapter(log)
    for i in range(metrics):
        kind = i % 4
        if kind == 0:
            adapter.increment("requests", tags={"n": i})
        elif kind == 1:
            adapter.gauge("queue_depth", i, "items", tags={"n": i})
        elif kind == 2:
            adapter.record("payload", 100.0 + i, "By", tags={"n": i})
        else:
            adapter.record("latency", 3.0, "ms", tags={"n": i})
    handler.close()


def instance_of(db_path: Path) -> str:
    """The database's instance id, which every shipped record's uid starts with."""
    return str(rows(db_path, "SELECT value FROM log_metadata WHERE key = 'instance_id'")[0][0])


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    """A test OTLP/HTTP receiver on a free port."""
    server = OTLPReceiver()
    yield server
    server.close()


@pytest.fixture
def collector(tmp_path: Path, receiver: OTLPReceiver) -> Iterator[Collector]:
    """The real collector (rotel), exporting to ``receiver``."""
    process = Collector(tmp_path, receiver.url)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster for the session (each test takes a database of its own)."""
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.remove()


@pytest.fixture
def pg_url(postgres: PostgresCluster) -> str:
    """The URL of a fresh, empty PostgreSQL database."""
    return postgres.new_database()


def add_text_utf8_cannot_hold(db_path: Path) -> None:
    """A record logged with a lone surrogate, then a row and a metric another tool wrote
    with bytes that are not UTF-8 and JSON escaping a lone surrogate (#14.5)."""
    handler = SQLiteHandler(db_path)
    make_logger(handler).warning("rejected", extra={"comment": "nice \ud83d"})
    handler.close()
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO logs (timestamp, created, level, levelno, module, message, extra_data) "
        "VALUES ('2026-01-02 03:04:05.000', 1767323045.0, 'ERROR', 40, 'by.hand', "
        """CAST(x'6f6bff21' AS TEXT), '{"comment":"nice \\ud83d"}')"""
    )
    conn.execute(
        "INSERT INTO metrics (timestamp, created, metric_name, value, unit, tags) VALUES "
        """('2026-01-02 03:04:05.000', 1767323045.0, 'm', 1, 'ms', '{"t":"\\udc80"}')"""
    )
    conn.commit()
    conn.close()
