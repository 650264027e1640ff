"""A destination that refuses every row is a fault, not bad data: the shipper stops before
the rows, says so (exit status, last error, one line), and skips nothing; rows that are
really at fault are skipped, counted, and make ``--once`` exit 1."""

from __future__ import annotations

import subprocess
from typing import Any

import psycopg
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from sqlite_logging_handler import SQLiteHandler, cli
from sqlite_logging_handler.shipping import Shipper, ShippingStoppedError, shipping_status
from sqlite_logging_handler.shipping.postgres import DDL

from ..conftest import PYTHON, child_env, make_logger
from .conftest import fill
from .receiver import Answer
from .test_otlp_failures import cursor, log_with_poison, poison_judge, ship_command, status_400

pytestmark = pytest.mark.slow


def refuse_all(path: str, request: Any) -> Answer:
    return status_400("bad gateway configuration")


def test_a_collector_refusing_everything_stops_the_shipper_before_the_rows(db_path, receiver):
    log_with_poison(db_path, 2_000, 0)
    receiver.judge = refuse_all
    reports: list[str] = []
    with pytest.raises(ShippingStoppedError, match=r"refuses everything.*bad gateway"):
        Shipper(db_path, receiver.url, report=reports.append).run_once()
    assert len(receiver.requests) < 40  # found out quickly, not row by row
    assert len(reports) <= 1
    status = cursor(db_path)
    assert (status["log_id"], status["logs_rejected"], status["last_success"]) == (0, 0, None)
    assert "refuses everything" in status["last_error"]

    receiver.judge = None  # fixed: everything goes, nothing was skipped
    Shipper(db_path, receiver.url).run_once()
    assert len(receiver.log_uids()) == 2_000


def test_the_command_line_says_so_once_and_exits_1(db_path, receiver):
    log_with_poison(db_path, 3_000, 0)
    receiver.judge = refuse_all
    done = subprocess.run(
        ship_command(db_path, receiver.url, "--once"),
        env=child_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) <= 2, done.stderr
    assert "refuses everything" in done.stderr
    status = subprocess.run(
        [PYTHON, "-m", "sqlite_logging_handler", "--db", str(db_path), "ship", "--status"],
        env=child_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "last success  never" in status.stdout
    assert "refuses everything" in status.stdout


def test_a_partial_success_dropping_everything_is_a_fault_too(db_path, receiver):
    log_with_poison(db_path, 500, 0)

    def drop_all(path: str, request: Any) -> Answer:
        count = sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
        response = ExportLogsServiceResponse()
        response.partial_success.rejected_log_records = count
        response.partial_success.error_message = "no pipeline for logs"
        body = response.SerializeToString()
        return Answer(200, {"Content-Type": "application/x-protobuf"}, body)

    receiver.judge = drop_all
    with pytest.raises(ShippingStoppedError, match=r"refuses everything.*no pipeline for logs"):
        Shipper(db_path, receiver.url).run_once()
    assert cursor(db_path)["log_id"] == 0


def test_rows_at_fault_are_skipped_with_one_line_and_once_exits_1(db_path, receiver, capsys):
    log_with_poison(db_path, 1_000, 500)
    receiver.judge = poison_judge
    assert cli.main(["--db", str(db_path), "ship", "otlp", receiver.url, "--once"]) == 1
    captured = capsys.readouterr()
    assert "999 log rows" in captured.out and "1 rejected" in captured.out
    (line,) = captured.err.splitlines()
    assert "log row 500 was rejected and skipped" in line
    status = cursor(db_path)
    assert "log row 500 was rejected" in status["last_error"]
    assert status["last_success"] is not None


def test_postgresql_refusing_every_row_stops_before_them(db_path, pg_url):
    with psycopg.connect(pg_url) as conn:
        for statement in DDL:
            conn.execute(statement)
        conn.execute("ALTER TABLE logs ADD CONSTRAINT nothing_fits CHECK (levelno < 0)")
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(300):
        log.info("record %d", i)
    handler.close()
    with pytest.raises(ShippingStoppedError, match=r"refuses everything.*nothing_fits"):
        Shipper(db_path, pg_url).run_once()
    (status,) = shipping_status(db_path)
    assert (status["log_id"], status["logs_rejected"], status["last_success"]) == (0, 0, None)
    assert "nothing_fits" in status["last_error"]


def test_skip_all_skips_rows_known_to_be_at_fault_even_when_all_are_refused(db_path, receiver):
    log_with_poison(db_path, 30, 0)
    receiver.judge = refuse_all
    with pytest.raises(ShippingStoppedError, match="--on-rejected skip-all"):
        Shipper(db_path, receiver.url).run_once()
    totals = Shipper(db_path, receiver.url, on_rejected="skip-all").run_once()
    assert totals["logs"]["rejected"] == 30
    status = cursor(db_path)
    assert (status["log_id"], status["logs_rejected"], status["last_success"]) == (30, 30, None)


def test_small_batches_refused_by_a_destination_that_never_accepted_one_are_kept(db_path, receiver):
    """Fewer than ``REFUSE_ALL_AFTER`` rows a run: still nothing skipped, run after run."""
    receiver.judge = refuse_all
    for count in (5, 7):
        log_with_poison(db_path, count, 0)
        with pytest.raises(ShippingStoppedError, match=r"refuses everything.*bad gateway"):
            Shipper(db_path, receiver.url).run_once()
        status = cursor(db_path)
        assert (status["log_id"], status["logs_rejected"], status["last_success"]) == (0, 0, None)
    receiver.judge = None
    Shipper(db_path, receiver.url).run_once()
    assert len(receiver.log_uids()) == 12


def refuse_metrics(path: str, request: Any) -> Answer | None:
    return status_400("no metrics here") if "metrics" in path else None


def test_metrics_never_accepted_are_not_skipped_while_logs_go(db_path, receiver):
    fill(db_path, 3, metrics=5)
    receiver.judge = refuse_metrics
    with pytest.raises(ShippingStoppedError, match=r"metric row.*refuses everything"):
        Shipper(db_path, receiver.url).run_once()
    status = cursor(db_path)
    assert (status["metric_id"], status["metrics_rejected"]) == (0, 0)


def test_logs_accepted_do_not_excuse_every_metric_refused(db_path, receiver):
    """Metrics accepted once, then refused while logs go, batch after batch: the count of
    refusals is per kind of row, so the shipper stops after ``REFUSE_ALL_AFTER``."""
    fill(db_path, 1, metrics=1)
    Shipper(db_path, receiver.url).run_once()
    fill(db_path, 40, metrics=40)
    receiver.judge = refuse_metrics
    with pytest.raises(ShippingStoppedError, match=r"metric row.*refuses everything"):
        Shipper(db_path, receiver.url, batch_size=3).run_once()
    status = cursor(db_path)
    assert status["metrics_rejected"] < 10
    assert status["metric_id"] < 20
