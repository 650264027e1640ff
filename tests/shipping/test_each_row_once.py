"""A clean run sends each row once, whatever path a batch takes: split by size, split
around rows refused as data, a partial success, a retry in the middle of a split."""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from sqlite_logging_handler import SQLiteHandler
from sqlite_logging_handler.shipping import OTLPDestination, Shipper

from ..conftest import PYTHON, child_env, make_logger
from .conftest import instance_of
from .receiver import Answer
from .test_otlp_failures import cursor, poison_judge

pytestmark = pytest.mark.slow


def log_with_big_rows(db_path: Path, count: int, big: set[int], size: int) -> None:
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(1, count + 1):
        log.info("%d %s", i, "x" * size if i in big else "fine")
    handler.close()


def uids(db_path: Path, ids: range, leave_out: set[int] = frozenset()) -> Counter[str]:  # type: ignore[assignment]
    instance = instance_of(db_path)
    return Counter(f"{instance}:{i}" for i in ids if i not in leave_out)


def bodies_with(request: Any) -> list[str]:
    return [
        r.body.string_value
        for resource_logs in request.resource_logs
        for scope_logs in resource_logs.scope_logs
        for r in scope_logs.log_records
    ]


def test_rows_too_large_for_a_request_are_rejected_and_their_neighbours_sent_once(
    db_path, receiver
):
    log_with_big_rows(db_path, 2_000, {501, 1_701}, 40_000)
    destination = OTLPDestination(receiver.url, max_request_bytes=30_000, compression="none")
    reports: list[str] = []
    totals = Shipper(db_path, destination, report=reports.append).run_once()

    assert receiver.log_uids() == uids(db_path, range(1, 2_001), {501, 1_701})
    assert totals["logs"] == {"shipped": 1_998, "pruned": 0, "rejected": 2, "duplicates": 0}
    first, second = [line for line in reports if "rejected" in line]  # one per batch
    assert "log row 501 was rejected and skipped" in first and "max_request_bytes" in first
    assert "log row 1701 was rejected" in second
    assert all(r[2] == 200 for r in receiver.requests)  # too large is found before sending
    status = cursor(db_path)
    assert (status["log_id"], status["logs_rejected"]) == (2_000, 2)


def test_the_command_line_sends_each_row_once_around_a_row_too_large(db_path, receiver):
    log_with_big_rows(db_path, 1_200, {300}, 5_000_000)
    done = subprocess.run(
        [PYTHON, "-m", "sqlite_logging_handler", "--db", str(db_path), "ship", "otlp",
         receiver.url, "--once"],
        env=child_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert receiver.log_uids() == uids(db_path, range(1, 1_201), {300})
    assert "1 rejected" in done.stdout
    assert done.returncode == 1, done.stderr  # rows were rejected: not a clean exit


def test_a_413_and_a_400_in_one_batch_send_every_other_row_once(db_path, receiver):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(1, 401):
        log.info("poison" if i == 250 else f"{i} {'x' * 1_000}")
    handler.close()

    def judge(path: str, request: Any) -> Answer | None:
        if len(bodies_with(request)) > 100:
            return Answer(413)
        answer: Answer | None = poison_judge(path, request)
        return answer

    receiver.judge = judge
    totals = Shipper(db_path, receiver.url).run_once()
    assert receiver.log_uids() == uids(db_path, range(1, 401), {250})
    assert totals["logs"]["rejected"] == 1


def test_a_retry_in_the_middle_of_a_split_resends_only_the_part_refused(db_path, receiver):
    log_with_big_rows(db_path, 1_000, set(range(600, 1_001)), 100)
    answered: list[str] = []

    def judge(path: str, request: Any) -> Answer | None:
        bodies = bodies_with(request)
        if len(bodies) > 300:  # our own requests, split by size: never this large
            return Answer(413)
        if any(b.startswith("900 ") for b in bodies) and "503" not in answered:
            answered.append("503")
            return Answer(503, {"Retry-After": "0"})
        return None

    receiver.judge = judge
    destination = OTLPDestination(receiver.url, max_request_bytes=40_000, compression="none")
    Shipper(db_path, destination).run_once()
    assert answered == ["503"]
    assert receiver.log_uids() == uids(db_path, range(1, 1_001))


def test_a_partial_success_is_not_sent_again(db_path, receiver):
    log_with_big_rows(db_path, 50, set(), 0)
    response = ExportLogsServiceResponse()
    response.partial_success.rejected_log_records = 3
    response.partial_success.error_message = "3 records too old"
    body = response.SerializeToString()
    receiver.script = [Answer(200, {"Content-Type": "application/x-protobuf"}, body)]
    totals = Shipper(db_path, receiver.url, batch_size=20).run_once()
    assert receiver.log_uids() == uids(db_path, range(1, 51))
    assert totals["logs"] == {"shipped": 47, "pruned": 0, "rejected": 3, "duplicates": 0}


def test_a_400_isolation_never_resends_an_acknowledged_part(db_path, receiver):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(1, 1_001):
        log.info("poison" if i in (10, 400, 999) else f"fine {i}")
    handler.close()
    receiver.judge = poison_judge
    Shipper(db_path, receiver.url).run_once()
    assert receiver.log_uids() == uids(db_path, range(1, 1_001), {10, 400, 999})


def test_a_request_without_an_answer_in_time_is_sent_again_and_says_it_may_repeat(
    db_path, receiver
):
    log_with_big_rows(db_path, 10, set(), 0)
    reports: list[str] = []
    timed_out = threading.Event()

    def report(line: str) -> None:
        reports.append(line)
        if "no answer from the collector" in line:
            timed_out.set()

    receiver.hold_after = 0  # the first request waits, unanswered, past the timeout
    shipper = Shipper(db_path, OTLPDestination(receiver.url, timeout=0.5), report=report)
    thread = threading.Thread(target=shipper.run_once)
    thread.start()
    try:
        assert receiver.held.wait(60)
        receiver.hold_after = None
        assert timed_out.wait(60)
    finally:
        receiver.hold.set()  # the collector takes the first request after all
        thread.join(60)
    assert not thread.is_alive()
    (line,) = [r for r in reports if "no answer" in r]
    assert "within 0.5 s" in line and "log.record.uid" in line
    assert set(receiver.log_uids()) == set(uids(db_path, range(1, 11)))
