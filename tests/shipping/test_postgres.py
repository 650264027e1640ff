"""Shipping into a real PostgreSQL: every row once, whatever is sent again."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import threading
import time
from typing import Any

import psycopg
import pytest

from sqlite_logging_handler import SQLiteHandler, cli
from sqlite_logging_handler.shipping import Shipper, ShippingStoppedError, shipping_status
from sqlite_logging_handler.shipping.postgres import DDL, NUL_STAND_IN

from ..conftest import PYTHON, REPO, child_env, make_logger, rows
from .conftest import TRACE_ID, add_text_utf8_cannot_hold, fill, instance_of
from .test_otlp_failures import log_with_poison

pytestmark = pytest.mark.slow


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def count_logs(url: str) -> int:
    """Rows in PostgreSQL's logs table (0 before the shipper created it)."""
    try:
        return int(query(url, "SELECT count(*) FROM logs")[0][0])
    except psycopg.errors.UndefinedTable:
        return 0


def test_rows_arrive_once_with_their_structure_and_resends_insert_nothing(db_path, pg_url):
    fill(db_path, 2_000, 200)
    totals = Shipper(db_path, pg_url, service_name="checkout").run_once()
    assert totals["logs"]["shipped"] == 2_000
    assert totals["metrics"]["shipped"] == 200
    instance = instance_of(db_path)

    assert query(
        pg_url,
        "SELECT count(*), count(DISTINCT source_id), min(source_id), max(source_id) FROM logs",
    ) == [(2_000, 2_000, 1, 2_000)]
    ((source, service, host, level, message, user_id, trace, exc),) = query(
        pg_url,
        "SELECT source_instance::text, service_name, host_name, level, message, "
        "(extra_data->'user'->>'id')::int, trace_id, exc_text FROM logs WHERE source_id = 100",
    )
    assert (source, service, level, message, user_id, trace) == (
        instance, "checkout", "ERROR", "record 99 failed", 99 % 7, TRACE_ID
    )  # fmt: skip
    assert host and "ValueError: bad value 99" in exc
    stored = rows(db_path, "SELECT created FROM logs WHERE id = 100")[0][0]
    ((epoch,),) = query(
        pg_url, 'SELECT extract(epoch FROM "timestamp") FROM logs WHERE source_id = 100'
    )
    assert abs(float(epoch) - stored) < 1e-5  # timestamptz to the microsecond
    kinds = query(pg_url, "SELECT kind, count(*) FROM metrics GROUP BY kind ORDER BY kind")
    assert kinds == [("counter", 50), ("gauge", 50), ("histogram", 100)]
    assert query(pg_url, "SELECT tags->>'n' FROM metrics WHERE source_id = 7") == [("6",)]

    again = Shipper(db_path, pg_url, name="a second cursor").run_once()  # everything again
    assert again["logs"]["duplicates"] == 2_000
    assert again["metrics"]["duplicates"] == 200
    assert query(pg_url, "SELECT count(*) FROM logs") == [(2_000,)]
    assert query(pg_url, "SELECT count(*) FROM metrics") == [(200,)]


def test_a_killed_shipper_restarted_leaves_every_row_exactly_once(db_path, pg_url):
    fill(db_path, 6_000)
    command = [
        PYTHON, "-m", "sqlite_logging_handler", "--db", str(db_path),
        "ship", "postgres", pg_url, "--once", "--batch-size", "50",
    ]  # fmt: skip
    first = subprocess.Popen(command, env=child_env(), cwd=REPO, stderr=subprocess.PIPE)
    blocker = psycopg.connect(pg_url)
    try:
        deadline = time.monotonic() + 60
        while count_logs(pg_url) < 1_000:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.01)  # no event to wait on: PostgreSQL is polled
        # Hold the next batch in flight (its INSERT waits for this lock), then kill.
        blocker.execute("LOCK TABLE logs IN SHARE ROW EXCLUSIVE MODE")
        while not query(
            pg_url,
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'sqlite-logs ship' "
            "AND wait_event_type = 'Lock'",
        ):
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        assert first.wait(60) == -signal.SIGKILL
    finally:
        blocker.rollback()
        blocker.close()
        first.kill()
        first.communicate()
    killed_at = shipping_status(db_path)[0]["log_id"]
    assert 1_000 <= killed_at < 6_000  # it really died mid-run

    second = subprocess.run(command, env=child_env(), capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert query(
        pg_url,
        "SELECT count(*), count(DISTINCT source_id), min(source_id), max(source_id) FROM logs",
    ) == [(6_000, 6_000, 1, 6_000)]


def test_postgresql_down_for_a_few_seconds_gets_everything_back(db_path, postgres, pg_url):
    handler = SQLiteHandler(db_path, flush_interval=0.05)
    log = make_logger(handler)
    retrying = threading.Event()

    def report(line: str) -> None:
        if "PostgreSQL" in line and "retrying" in line:
            retrying.set()

    log.info("first")
    assert handler.flush(30)
    shipper = Shipper(db_path, pg_url, report=report)
    thread = threading.Thread(target=shipper.run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while count_logs(pg_url) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        postgres.stop_server()
        try:
            for i in range(500):
                log.info("during %d", i)
            assert handler.flush(30)
            assert retrying.wait(30)
            time.sleep(2)  # the outage
        finally:
            postgres.start_server()
        deadline = time.monotonic() + 90
        while count_logs(pg_url) < 501:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        shipper.stop()
        thread.join(60)
        handler.close()
    assert not thread.is_alive()
    assert query(pg_url, "SELECT count(DISTINCT source_id) FROM logs") == [(501,)]


def test_what_postgresql_cannot_store_is_stored_as_close_as_it_can(db_path, pg_url):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.info("upload name=report.pdf\0.exe rejected", extra={"field": "a\0b", "fine": 1})
    log.info("an ordinary record")
    handler.close()
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO logs (timestamp, level, module, message, extra_data, created) "
        "VALUES ('2026-01-02 03:04:05.000', 'INFO', 'by.hand', 'not json', '{not json', NULL)"
    )
    conn.commit()
    conn.close()

    totals = Shipper(db_path, pg_url).run_once()
    assert totals["logs"] == {"shipped": 3, "pruned": 0, "rejected": 0, "duplicates": 0}
    found = query(
        pg_url, 'SELECT source_id, message, extra_data, "timestamp"::text FROM logs ORDER BY 1'
    )
    assert found[0][1] == f"upload name=report.pdf{NUL_STAND_IN}.exe rejected"
    assert found[0][2] == {"field": f"a{NUL_STAND_IN}b", "fine": 1}
    assert found[1][1] == "an ordinary record"
    assert found[2][2] == "{not json"  # kept, as a JSON string
    assert found[2][3] == "2026-01-02 03:04:05+00"  # from the stored UTC text


def test_a_row_postgresql_refuses_is_skipped_alone_and_counted(db_path, pg_url):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(100):
        log.info("record %d", i)
    handler.close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE logs SET thread_id = 1e30 WHERE id = 40")  # no bigint holds it
    conn.commit()
    conn.close()

    reports: list[str] = []
    totals = Shipper(db_path, pg_url, report=reports.append).run_once()
    assert totals["logs"] == {"shipped": 99, "pruned": 0, "rejected": 1, "duplicates": 0}
    assert [line for line in reports if "log row 40 was rejected" in line]
    assert query(pg_url, "SELECT count(*) FROM logs WHERE source_id <> 40") == [(99,)]
    assert shipping_status(db_path)[0]["logs_rejected"] == 1


def test_a_table_of_another_layout_stops_the_shipper_with_the_reason(db_path, pg_url):
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE logs (id integer, msg text)")
    handler = SQLiteHandler(db_path)
    make_logger(handler).info("x")
    handler.close()
    with pytest.raises(ShippingStoppedError, match=r"column .* does not exist"):
        Shipper(db_path, pg_url).run_once()
    (status,) = shipping_status(db_path)
    assert (status["log_id"], status["logs_rejected"]) == (0, 0)
    assert "does not exist" in status["last_error"]


def test_a_reship_says_the_rows_were_already_there(db_path, pg_url, capsys):
    handler = SQLiteHandler(db_path)
    make_logger(handler).info("once")
    handler.close()
    command = ["--db", str(db_path), "ship", "postgres", pg_url, "--once"]
    assert cli.main(command) == 0
    assert capsys.readouterr().out.startswith("shipped 1 log rows and 0 metric rows to ")
    assert cli.main([*command, "--name", "again"]) == 0  # a new cursor: all sent again
    assert capsys.readouterr().out.startswith(
        "shipped 1 log rows (1 already there) and 0 metric rows to "
    )


def test_the_documented_postgresql_schema_is_the_one_created():
    documented = (REPO / "docs" / "shipping.md").read_text()
    for statement in DDL:
        assert statement in documented


def test_text_utf8_cannot_hold_is_shipped_as_backslashreplace_text(db_path, pg_url):
    add_text_utf8_cannot_hold(db_path)
    totals = Shipper(db_path, pg_url).run_once()
    assert totals["logs"] == {"shipped": 2, "pruned": 0, "rejected": 0, "duplicates": 0}
    assert totals["metrics"]["shipped"] == 1
    found = query(pg_url, "SELECT message, extra_data->>'comment' FROM logs ORDER BY source_id")
    assert found == [("rejected", "nice \\ud83d"), ("ok\\xff!", "nice \\ud83d")]
    assert query(pg_url, "SELECT tags->>'t' FROM metrics") == [("\\udc80",)]


def test_libpqs_multi_line_errors_are_one_line_everywhere(db_path):
    handler = SQLiteHandler(db_path)
    make_logger(handler).info("x")
    handler.close()
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reports: list[str] = []
    url = f"postgresql://postgres@127.0.0.1:{port}/logs"
    with pytest.raises(ShippingStoppedError) as stopped:
        Shipper(db_path, url, retry_for=1.0, report=reports.append).run_once()
    (status,) = shipping_status(db_path)
    said = [str(stopped.value), status["last_error"], *reports]
    assert all("Is the server running" in line and "\n" not in line for line in said), said


@pytest.mark.parametrize(
    "change",
    [
        ("://postgres@", "://nosuchrole@"),  # SQLSTATE 28000: role does not exist
        ("/postgres", "/nosuchdb"),  # 3D000: database does not exist
        ("/postgres", "/postgres?sslmode=bogus"),  # a URL libpq refuses
    ],
)
def test_a_wrong_login_or_url_stops_at_once_and_is_not_retried(db_path, postgres, change):
    log_with_poison(db_path, 3, 0)
    url = postgres.url().replace(*change)
    assert url != postgres.url()
    with pytest.raises(ShippingStoppedError) as stopped:
        Shipper(db_path, url, retry_for=0).run_once()
    assert "gave up after retrying" not in str(stopped.value)  # refused, not unavailable
