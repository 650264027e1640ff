"""What the shipper does when things go wrong: kills, outages, refusals."""

from __future__ import annotations

import email.utils
import signal
import subprocess
import threading
import time
from collections import Counter
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from sqlite_logging_handler import SQLiteHandler
from sqlite_logging_handler.shipping import OTLPDestination, Shipper, ShippingStoppedError

from ..conftest import PYTHON, child_env, make_logger, rows
from .conftest import fill, instance_of
from .receiver import Answer

pytestmark = pytest.mark.slow


def cursor(db_path, destination_prefix: str = "otlp") -> dict[str, Any]:
    (row,) = rows(
        db_path, "SELECT * FROM ship_cursors WHERE destination LIKE ?", (f"{destination_prefix}%",)
    )
    return dict(row)


def ship_command(db_path, url: str, *options: str) -> list[str]:
    return [
        PYTHON,
        "-m",
        "sqlite_logging_handler",
        "--db",
        str(db_path),
        "ship",
        "otlp",
        url,
        *options,
    ]


def status_400(message: str) -> Answer:
    # google.rpc.Status { message = 2 }, as OTLP/HTTP servers answer errors
    encoded = message.encode()
    body = b"\x08\x03" + b"\x12" + bytes([len(encoded)]) + encoded
    return Answer(400, {"Content-Type": "application/x-protobuf"}, body)


def test_a_shipper_killed_mid_run_and_restarted_sends_everything(db_path, receiver):
    fill(db_path, 5_000, 500)
    receiver.hold_after = 8  # the 9th request waits, in flight, until the kill
    first = subprocess.Popen(
        ship_command(db_path, receiver.url, "--once", "--batch-size", "200"),
        env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert receiver.held.wait(60), first.poll()
        first.send_signal(signal.SIGKILL)
        assert first.wait(60) == -signal.SIGKILL
    finally:
        first.kill()
        first.communicate()
    receiver.hold_after = None
    receiver.drop_held = True  # the request in flight never reached the collector
    receiver.hold.set()
    killed_at = cursor(db_path)
    assert 0 < killed_at["log_id"] < 5_000  # it really died mid-run

    second = subprocess.run(
        ship_command(db_path, receiver.url, "--once", "--batch-size", "200"),
        env=child_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr

    instance = instance_of(db_path)
    logs, points = receiver.log_uids(), receiver.point_uids()
    assert set(logs) == {f"{instance}:{i}" for i in range(1, 5_001)}  # none skipped
    assert set(points) == {f"{instance}:{i}" for i in range(1, 501)}
    assert max(logs.values()) == max(points.values()) == 1  # nothing was acknowledged twice
    assert cursor(db_path)["log_id"] == 5_000
    assert cursor(db_path)["metric_id"] == 500


def test_a_collector_down_for_a_few_seconds_gets_everything_once_back(db_path, collector, receiver):
    handler = SQLiteHandler(db_path, flush_interval=0.05)
    log = make_logger(handler)
    reports: list[str] = []
    retrying = threading.Event()

    def report(line: str) -> None:
        reports.append(line)
        if "cannot reach" in line:
            retrying.set()

    shipper = Shipper(db_path, collector.url, report=report)
    thread = threading.Thread(target=shipper.run)
    thread.start()
    try:
        for i in range(1_000):
            log.info("before %d", i)
        assert handler.flush(30)
        assert receiver.wait_for(lambda: len(receiver.logs) >= 1_000)
        collector.stop()
        for i in range(1_000):
            log.info("during %d", i)
        assert handler.flush(30)
        assert retrying.wait(30)
        time.sleep(2)  # the outage: a few seconds of refused connections
        collector.start()
        assert receiver.wait_for(lambda: len(receiver.log_uids()) >= 2_000, timeout=90)
    finally:
        shipper.stop()
        thread.join(60)
        handler.close()
    assert not thread.is_alive()
    instance = instance_of(db_path)
    assert set(receiver.log_uids()) == {f"{instance}:{i}" for i in range(1, 2_001)}
    assert any("reachable again" in line for line in reports)
    status = cursor(db_path)
    assert "cannot reach" in status["last_error"]
    assert status["last_success"] > status["last_error_at"]


def poison_judge(path, request):
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            if any(r.body.string_value == "poison" for r in scope_logs.log_records):
                return status_400("log record 'poison' is not acceptable here")
    return None


def log_with_poison(db_path, count: int, poison_at: int) -> None:
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(1, count + 1):
        log.info("poison" if i == poison_at else f"fine {i}")
    handler.close()


def test_a_400_is_reported_with_the_servers_message_and_only_the_bad_row_is_skipped(
    db_path, receiver
):
    log_with_poison(db_path, 1_000, 500)
    receiver.judge = poison_judge
    reports: list[str] = []
    totals = Shipper(db_path, receiver.url, report=reports.append).run_once()

    assert totals["logs"] == {"shipped": 999, "pruned": 0, "rejected": 1, "duplicates": 0}
    assert sorted(r["body"] for r in receiver.logs) == sorted(
        f"fine {i}" for i in range(1, 1_001) if i != 500
    )
    assert len(receiver.requests) < 40  # isolated by halving, not looped on
    (line,) = [line for line in reports if "rejected" in line]
    assert "row 500" in line and "log record 'poison' is not acceptable here" in line
    status = cursor(db_path)
    assert (status["log_id"], status["logs_rejected"], status["logs_shipped"]) == (1_000, 1, 999)


def test_on_rejected_stop_keeps_the_rows_before_and_stops_at_the_bad_one(db_path, receiver):
    log_with_poison(db_path, 1_000, 500)
    receiver.judge = poison_judge
    with pytest.raises(ShippingStoppedError, match=r"row 500 was rejected: .*not acceptable here"):
        Shipper(db_path, receiver.url, on_rejected="stop").run_once()
    assert sorted(r["body"] for r in receiver.logs) == sorted(f"fine {i}" for i in range(1, 500))
    status = cursor(db_path)
    assert (status["log_id"], status["logs_rejected"]) == (499, 0)
    assert "not acceptable here" in status["last_error"]

    requests = len(receiver.requests)
    with pytest.raises(ShippingStoppedError):  # again: stops again, at once
        Shipper(db_path, receiver.url, on_rejected="stop").run_once()
    assert len(receiver.requests) - requests < 25
    Shipper(db_path, receiver.url, on_rejected="skip").run_once()
    assert len(receiver.logs) == 999


@pytest.mark.parametrize("status", [404, 401, 500])
def test_a_permanent_refusal_stops_without_skipping_anything(db_path, receiver, status):
    log_with_poison(db_path, 10, 0)
    receiver.script = [Answer(status, {"Content-Type": "text/plain"}, b"no such pipeline")]
    with pytest.raises(ShippingStoppedError, match=f"answered {status} .*: no such pipeline"):
        Shipper(db_path, receiver.url).run_once()
    assert len(receiver.requests) == 1
    assert (cursor(db_path)["log_id"], cursor(db_path)["logs_rejected"]) == (0, 0)


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(429, "2"), (503, "date"), (502, None), (504, None)],
)
def test_retryable_answers_are_retried_honouring_retry_after(
    db_path, receiver, status, retry_after
):
    log_with_poison(db_path, 10, 0)
    headers = {}
    if retry_after == "date":  # the HTTP-date form, 3 s ahead (whole seconds)
        headers["Retry-After"] = email.utils.formatdate(time.time() + 3, usegmt=True)
    elif retry_after is not None:
        headers["Retry-After"] = retry_after
    receiver.script = [Answer(status, headers), Answer(status)]
    Shipper(db_path, receiver.url).run_once()
    assert [r[2] for r in receiver.requests] == [status, status, 200]
    times = [r[3] for r in receiver.requests]
    if retry_after is not None:
        assert times[1] - times[0] >= 1.9  # waited as the server asked
    assert len(receiver.logs) == 10


def test_an_unreachable_collector_is_given_up_after_retry_for(db_path, receiver):
    log_with_poison(db_path, 10, 0)
    url = receiver.url
    receiver.close()  # nothing listens there any more
    started = time.monotonic()
    with pytest.raises(ShippingStoppedError, match=r"gave up after retrying .*cannot reach"):
        Shipper(db_path, url, retry_for=1.5).run_once()
    assert time.monotonic() - started < 30
    assert cursor(db_path)["log_id"] == 0


def test_a_partial_success_is_counted_as_rejected(db_path, receiver):
    log_with_poison(db_path, 10, 0)
    response = ExportLogsServiceResponse()
    response.partial_success.rejected_log_records = 2
    response.partial_success.error_message = "2 records too old"
    receiver.script = [
        Answer(200, {"Content-Type": "application/x-protobuf"}, response.SerializeToString())
    ]
    reports: list[str] = []
    totals = Shipper(db_path, receiver.url, report=reports.append).run_once()
    assert totals["logs"]["rejected"] == 2
    assert totals["logs"]["shipped"] == 8
    assert any("2 records too old" in line for line in reports)
    assert cursor(db_path)["logs_rejected"] == 2


def test_a_413_splits_the_batch_and_requests_respect_max_request_bytes(db_path, receiver):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(400):
        log.info("%d %s", i, "x" * 1_000)
    handler.close()

    def too_large(path, request):
        count = sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
        return Answer(413) if count > 100 else None

    receiver.judge = too_large
    destination = OTLPDestination(receiver.url, max_request_bytes=60_000, compression="none")
    totals = Shipper(db_path, destination).run_once()
    assert totals["logs"] == {"shipped": 400, "pruned": 0, "rejected": 0, "duplicates": 0}
    assert Counter(r["body"].split()[0] for r in receiver.logs) == Counter(
        str(i) for i in range(400)
    )
    sizes = [int(r[1]["Content-Length"]) for r in receiver.requests if r[2] == 200]
    assert max(sizes) <= 60_000
