"""Shipping to a real OpenTelemetry collector (rotel), checked at a receiver behind it."""

from __future__ import annotations

import os
import socket
import sqlite3
from collections import Counter

import pytest
from opentelemetry.sdk._logs._internal import std_to_otel

from sqlite_logging_handler import SQLiteHandler
from sqlite_logging_handler.shipping import Shipper

from ..conftest import make_logger, rows
from .conftest import SPAN_ID, TRACE_ID, add_text_utf8_cannot_hold, fill, instance_of

pytestmark = pytest.mark.slow


def test_records_and_metrics_arrive_exactly_once_with_their_structure(db_path, collector, receiver):
    fill(db_path, 10_000, 1_000)
    shipper = Shipper(
        db_path, collector.url, service_name="checkout", resource={"deployment.environment": "prod"}
    )
    totals = shipper.run_once()
    assert totals["logs"]["shipped"] == 10_000
    assert totals["metrics"]["shipped"] == 1_000

    assert receiver.wait_for(lambda: len(receiver.logs) >= 10_000 and len(receiver.points) >= 1_000)
    instance = instance_of(db_path)
    assert receiver.log_uids() == Counter(f"{instance}:{i}" for i in range(1, 10_001))
    assert receiver.point_uids() == Counter(f"{instance}:{i}" for i in range(1, 1_001))

    by_n = {r["attributes"]["n"]: r for r in receiver.logs}
    plain, traced, failed = by_n[1], by_n[3], by_n[99]
    assert plain["body"] == "record 1"
    assert (plain["severity_number"], plain["severity_text"]) == (9, "INFO")
    assert (by_n[10]["severity_number"], by_n[10]["severity_text"]) == (13, "WARNING")
    assert plain["attributes"]["user"] == {"id": 1, "tags": ["a", False]}  # typed, nested
    assert plain["scope"] == rows(db_path, "SELECT module FROM logs LIMIT 1")[0][0]
    assert plain["resource"] == {
        "service.name": "checkout",
        "deployment.environment": "prod",
        "host.name": socket.gethostname(),
        "service.instance.id": instance,
        "process.pid": os.getpid(),
    }
    stored = rows(db_path, "SELECT * FROM logs WHERE id = 2")[0]
    assert plain["time"] == int(stored["created"] * 1e9)
    assert plain["attributes"]["code.file.path"] == stored["pathname"]
    assert plain["attributes"]["code.function.name"] == stored["func_name"]
    assert plain["attributes"]["code.line.number"] == stored["lineno"]
    assert plain["attributes"]["thread.id"] == stored["thread_id"]
    assert plain["attributes"]["thread.name"] == stored["thread_name"]
    assert (plain["trace_id"], plain["span_id"]) == ("", "")
    assert (traced["trace_id"], traced["span_id"]) == (TRACE_ID, SPAN_ID)
    assert "otelTraceID" not in traced["attributes"]
    assert failed["severity_text"] == "ERROR"
    assert failed["attributes"]["exception.type"] == "ValueError"
    assert failed["attributes"]["exception.message"] == "bad value 99"
    assert failed["attributes"]["exception.stacktrace"].startswith("Traceback")
    assert "raise ValueError" in failed["attributes"]["exception.stacktrace"]


def test_metric_kinds_become_sums_gauges_and_histograms(db_path, collector, receiver):
    fill(db_path, 0, 8)
    Shipper(db_path, collector.url).run_once()
    assert receiver.wait_for(lambda: len(receiver.points) >= 8)
    by_n = {p["attributes"]["n"]: p for p in receiver.points}
    counter, gauge, payload, latency = by_n[0], by_n[1], by_n[2], by_n[3]
    assert (counter["name"], counter["type"], counter["value"], counter["unit"]) == (
        "requests", "sum", 1.0, "count"
    )  # fmt: skip
    assert counter["monotonic"] is True
    assert counter["temporality"] == 1  # AGGREGATION_TEMPORALITY_DELTA: each row a delta
    assert (gauge["type"], gauge["value"], gauge["unit"]) == ("gauge", 1.0, "items")
    assert (payload["type"], payload["count"], payload["value"]) == ("histogram", 1, 102.0)
    assert payload["min"] == payload["max"] == 102.0
    assert payload["buckets"][payload["bounds"].index(250.0)] == 1  # (100, 250]
    assert sum(payload["buckets"]) == 1
    assert latency["type"] == "histogram"
    assert latency["buckets"][payload["bounds"].index(5.0)] == 1  # (0, 5]
    assert by_n[4]["resource"]["process.pid"] == os.getpid()


def test_severity_numbers_follow_opentelemetrys_own_logging_bridge(db_path, receiver):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.setLevel(1)
    levels = [1, 5, 10, 11, 15, 19, 20, 25, 30, 33, 40, 45, 50, 53, 54, 70]
    for level in levels:
        log.log(level, "at %d", level)
    handler.close()
    Shipper(db_path, receiver.url).run_once()
    shipped = {r["body"]: r["severity_number"] for r in receiver.logs}
    assert shipped == {f"at {level}": std_to_otel(level).value for level in levels}


def test_an_upgraded_database_without_kinds_ships_unknown_kinds_as_gauges(db_path, receiver):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.info("before")
    handler.close()
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO metrics (timestamp, metric_name, value, unit, created) "
        "VALUES ('2026-01-02 03:04:05.000', 'by_hand', 7, 'MB', NULL)"
    )
    conn.commit()
    conn.close()
    Shipper(db_path, receiver.url).run_once()
    ((point),) = receiver.points
    assert (point["type"], point["value"]) == ("gauge", 7.0)
    assert point["time"] == 1767323045 * 10**9  # from the stored UTC text, without created


def test_extras_keep_their_types_and_never_override_the_records_own_facts(db_path, receiver):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.info(
        "typed",
        extra={
            "an_int": 3, "a_float": 2.5, "a_bool": True, "a_str": "x", "nothing": None,
            "huge": 2**70, "empty": {}, "deep": {"a": {"b": [1, {"c": "d"}]}},
            "thread.id": "forged", "log.record.uid": "forged",
        },
    )  # fmt: skip
    handler.close()
    Shipper(db_path, receiver.url).run_once()
    (record,) = receiver.logs
    attrs = record["attributes"]
    assert (attrs["an_int"], attrs["a_float"], attrs["a_bool"], attrs["a_str"]) == (
        3,
        2.5,
        True,
        "x",
    )
    assert attrs["nothing"] is None
    assert attrs["huge"] == str(2**70)  # beyond OTLP's 64-bit int: kept exactly, as text
    assert attrs["empty"] == {}
    assert attrs["deep"] == {"a": {"b": [1, {"c": "d"}]}}
    assert attrs["thread.id"] == rows(db_path, "SELECT thread_id FROM logs")[0][0]
    assert attrs["log.record.uid"] == f"{instance_of(db_path)}:1"


def test_text_utf8_cannot_hold_is_shipped_as_backslashreplace_text(db_path, receiver):
    add_text_utf8_cannot_hold(db_path)
    totals = Shipper(db_path, receiver.url).run_once()
    assert totals["logs"]["shipped"] == 2
    assert totals["metrics"]["shipped"] == 1
    assert receiver.wait_for(lambda: len(receiver.logs) >= 2 and len(receiver.points) >= 1)
    by_hand, logged = sorted(receiver.logs, key=lambda r: r["body"])
    assert (by_hand["body"], by_hand["attributes"]["comment"]) == ("ok\\xff!", "nice \\ud83d")
    assert (logged["body"], logged["attributes"]["comment"]) == ("rejected", "nice \\ud83d")
    assert receiver.points[0]["attributes"]["t"] == "\\udc80"
