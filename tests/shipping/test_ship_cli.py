"""``sqlite-logs ship``: the command line of shipping."""

from __future__ import annotations

import base64
import json
import logging
import signal
import sqlite3
import subprocess
import time

import pytest

from sqlite_logging_handler import SQLiteHandler, cli
from sqlite_logging_handler._times import AGE_FORMS
from sqlite_logging_handler.exceptions import SchemaVersionError
from sqlite_logging_handler.shipping import Shipper

from ..conftest import PYTHON, child_env, make_logger, rows
from .receiver import Answer

pytestmark = pytest.mark.slow


def logged(db_path, count: int) -> None:
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(count):
        log.info("record %d", i)
    handler.close()


def test_status_before_and_after_shipping(db_path, receiver, capsys):
    logged(db_path, 30)
    assert cli.main(["--db", str(db_path), "ship", "--status"]) == 0
    assert capsys.readouterr().out == f"nothing has been shipped from {db_path} yet\n"

    assert cli.main(["--db", str(db_path), "ship", "otlp", receiver.url, "--once"]) == 0
    out = capsys.readouterr().out
    assert out == (
        f"shipped 30 log rows and 0 metric rows to otlp {receiver.url}/; "
        "0 deleted before shipping, 0 rejected\n"
    )
    logged(db_path, 5)

    assert cli.main(["--db", str(db_path), "ship", "--status"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == [
        "destination",
        "table",
        "cursor",
        "behind",
        "shipped",
        "pruned",
        "rejected",
    ]
    assert lines[2].split() == ["otlp", f"{receiver.url}/", "logs", "30", "5", "30", "0", "0"]
    assert lines[3].split() == ["otlp", f"{receiver.url}/", "metrics", "0", "0", "0", "0", "0"]
    assert "last success  20" in out and "+00:00 (" in out  # local time (TZ=UTC here)
    assert "last error    -" in out

    assert cli.main(["--db", str(db_path), "ship", "--status", "--json"]) == 0
    (status,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (status["log_id"], status["logs_behind"], status["logs_shipped"]) == (30, 5, 30)


def test_the_last_error_is_shown_with_control_characters_escaped(db_path, receiver, capsys):
    logged(db_path, 3)
    receiver.script = [Answer(404, {"Content-Type": "text/plain"}, b"no route \x1b[2J here")]
    assert cli.main(["--db", str(db_path), "ship", "otlp", receiver.url, "--once"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sqlite-logs: error: the collector at ") and err.count("\n") == 1
    assert cli.main(["--db", str(db_path), "ship", "--status"]) == 0
    out = capsys.readouterr().out
    assert "answered 404 Not Found: no route \\x1b[2J here" in out
    assert "\x1b" not in out


def test_bad_invocations_exit_2_with_one_line(db_path, capsys):
    logged(db_path, 1)
    assert cli.main(["--db", str(db_path), "ship"]) == 2
    assert "give a destination" in capsys.readouterr().err
    assert cli.main(["--db", str(db_path), "ship", "otlp", "ftp://example.com", "--once"]) == 2
    assert "http(s)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--db", str(db_path), "ship", "otlp", "http://x", "--on-rejected", "ignore"])
    assert exit_info.value.code == 2
    assert (
        cli.main(["--db", str(db_path / "missing.db"), "ship", "otlp", "http://x", "--once"]) == 1
    )


def test_an_unreachable_collector_with_once_gives_up_and_exits_1(db_path, receiver, capsys):
    logged(db_path, 3)
    url = receiver.url
    receiver.close()
    command = ["--db", str(db_path), "ship", "otlp", url, "--once", "--retry-for", "1"]
    assert cli.main(command) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("sqlite-logs ship: cannot reach the collector at")
    assert err[-1].startswith("sqlite-logs: error: gave up after retrying for")


def test_progress_lines_go_to_stderr_when_it_is_not_a_terminal(db_path, receiver, capsys):
    logged(db_path, 250)
    command = [
        "--db",
        str(db_path),
        "ship",
        "otlp",
        receiver.url,
        "--once",
        "--batch-size",
        "100",
        "--progress",
    ]
    assert cli.main(command) == 0
    err = capsys.readouterr().err
    assert "shipped 250 rows" in err and "about 0 behind" in err
    assert "\r" not in err  # redrawn in place only on a terminal


def test_sigterm_stops_a_running_shipper_cleanly(db_path, receiver):
    logged(db_path, 100)
    command = [
        PYTHON,
        "-m",
        "sqlite_logging_handler",
        "--db",
        str(db_path),
        "ship",
        "otlp",
        receiver.url,
    ]
    process = subprocess.Popen(
        command, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert receiver.wait_for(lambda: len(receiver.logs) >= 100, timeout=60)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert rows(db_path, "SELECT log_id FROM ship_cursors")[0][0] == 100
    # a service's log: what is shipped where and from where, then what was done
    start, stop = err.decode().splitlines()
    assert start.startswith(f"sqlite-logs ship: shipping {db_path} (instance ")
    assert f"to otlp {receiver.url}/: log rows after 0, metric rows after 0 (100 behind)" in start
    assert stop == (
        "sqlite-logs ship: stopped: shipped 100 log rows and 0 metric rows; "
        "0 deleted before shipping, 0 rejected"
    )


class Spy(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("destination", ["otlp", "postgres"])
def test_the_shipper_never_logs_into_the_database_it_ships_from(
    db_path, receiver, request, destination
):
    """In-process, beside an SQLiteHandler on the root logger at DEBUG, nothing the shipper
    or its clients log (retries, notices) lands in the database."""
    url = receiver.url if destination == "otlp" else request.getfixturevalue("pg_url")
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    handler = SQLiteHandler(db_path, flush_interval=0.05)
    root.addHandler(handler)
    spy = Spy()
    seen = spy.records
    root.addHandler(spy)
    try:
        logging.getLogger("app").info("the application's record")
        assert handler.flush(30)
        receiver.script = [Answer(503)]  # a retry, reported through logging
        for _ in range(2):  # the second time, PostgreSQL says the tables exist (a notice)
            Shipper(db_path, url, name=f"{destination} {_}").run_once()
        if destination == "otlp":
            assert any("retrying" in r.getMessage() for r in seen)
        assert handler.flush(30)
        logging.getLogger("app").info("after shipping")
        assert handler.flush(30)
    finally:
        root.removeHandler(handler)
        root.removeHandler(spy)
        handler.close()
    assert [r["module"] for r in rows(db_path)] == ["app", "app"]


def test_status_from_python_before_and_after_a_run(db_path, receiver):
    logged(db_path, 20)
    shipper = Shipper(db_path, receiver.url, name="central")
    before = shipper.status()
    assert (before["destination"], before["log_id"], before["logs_behind"]) == ("central", 0, 20)
    shipper.run_once()
    after = shipper.status()  # also once the run has closed its connections
    assert (after["log_id"], after["logs_behind"], after["logs_shipped"]) == (20, 0, 20)
    assert after["last_success"] is not None


def test_headers_and_resource_pairs_are_taken_literally(db_path, receiver, capsys):
    logged(db_path, 1)
    command = [
        "--db", str(db_path), "ship", "otlp", receiver.url, "--once",
        "--header", "Authorization=Bearer a%3D,b", "--resource", "team=a,b%20c",
        "--service-name", "checkout",
    ]  # fmt: skip
    assert cli.main(command) == 0
    headers = receiver.requests[0][1]
    assert headers["Authorization"] == "Bearer a%3D,b"
    (record,) = receiver.logs
    assert record["resource"]["team"] == "a,b%20c"
    assert record["resource"]["service.name"] == "checkout"


def test_progress_is_one_line_redrawn_in_place_on_a_terminal(db_path, receiver):
    import os
    import pty

    logged(db_path, 300)
    primary, secondary = pty.openpty()
    command = [
        PYTHON, "-m", "sqlite_logging_handler", "--db", str(db_path),
        "ship", "otlp", receiver.url, "--once", "--batch-size", "100", "--progress",
    ]  # fmt: skip
    try:
        process = subprocess.Popen(
            command, env=child_env(), stdout=subprocess.PIPE, stderr=secondary
        )
        os.close(secondary)
        shown = b""
        while chunk := _read(primary):
            shown += chunk
        process.communicate(timeout=60)
    finally:
        os.close(primary)
    assert process.returncode == 0
    redraws = shown.split(b"\r\x1b[K")
    assert len(redraws) >= 4  # one per batch, each over the last
    assert redraws[-1].startswith(b"shipped 300 rows") and b"about 0 behind" in redraws[-1]


def _read(fd: int) -> bytes:
    import os

    try:
        return os.read(fd, 4096)
    except OSError:  # the terminal closed with the process
        return b""


def test_ship_never_upgrades_an_older_database_and_says_how(db_path, receiver, capsys):
    logged(db_path, 3)
    conn = sqlite3.connect(db_path)
    conn.executescript(
        "DROP TABLE ship_cursors; DROP TABLE log_metadata; "
        "ALTER TABLE metrics DROP COLUMN kind; PRAGMA user_version = 2;"
    )
    conn.close()
    assert cli.main(["--db", str(db_path), "ship", "otlp", receiver.url, "--once"]) == 1
    err = capsys.readouterr().err
    assert "schema version 2" in err and f"sqlite-logs --db {db_path} upgrade" in err
    assert err.count("\n") == 1
    with pytest.raises(SchemaVersionError, match="upgrade"):
        Shipper(db_path, receiver.url)
    assert rows(db_path, "PRAGMA user_version")[0][0] == 2  # untouched
    assert not receiver.requests


def test_status_shows_times_as_the_other_subcommands_do(db_path, receiver, capsys, monkeypatch):
    logged(db_path, 1)
    assert cli.main(["--db", str(db_path), "ship", "otlp", receiver.url, "--once"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("TZ", "EST+5")  # POSIX form: no tzdata needed
    time.tzset()
    try:
        assert cli.main(["--db", str(db_path), "ship", "--status"]) == 0
        assert "-05:00 (" in capsys.readouterr().out
        assert cli.main(["--db", str(db_path), "ship", "--status", "--utc"]) == 0
        assert "Z (" in capsys.readouterr().out
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("command", [["ship", "--status"], ["ship", "otlp", "http://x", "--once"]])
def test_ship_without_a_database_says_how_to_give_one(tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SQLITE_LOGS_DB", raising=False)
    assert cli.main(command) == 1
    assert capsys.readouterr().err == (
        "sqlite-logs: error: no log database at 'logs.db': give one with --db PATH or "
        "$SQLITE_LOGS_DB\n"
    )


def test_retry_for_zero_gives_up_at_once_and_inf_never(db_path, receiver, capsys):
    logged(db_path, 3)
    url = receiver.url
    receiver.close()
    assert cli.main(["--db", str(db_path), "ship", "otlp", url, "--once", "--retry-for", "0"]) == 1
    err = capsys.readouterr().err
    assert "gave up after retrying for 0 s" in err
    for bad in ("-1", "nan", "soon"):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["--db", str(db_path), "ship", "otlp", url, "--retry-for", bad])
        assert exit_info.value.code == 2
        assert f"as a time to retry for: use 0, inf, or {AGE_FORMS}" in capsys.readouterr().err
    forever = Shipper(db_path, url, retry_for=float("inf"))
    forever.close()
    assert forever.retry_for is None


def test_credentials_in_the_url_are_sent_as_basic_authentication(db_path, receiver, capsys):
    logged(db_path, 2)
    url = receiver.url.replace("http://", "http://ship%40er:p%3Ass@")
    assert cli.main(["--db", str(db_path), "ship", "otlp", url, "--once"]) == 0
    assert "p:ss" not in capsys.readouterr().out  # never shown
    token = base64.b64encode(b"ship@er:p:ss").decode()
    assert receiver.requests[0][1]["Authorization"] == f"Basic {token}"
    logged(db_path, 1)  # an explicit header wins
    command = ["--db", str(db_path), "ship", "otlp", url, "--once", "--header", "Authorization=X"]
    assert cli.main(command) == 0
    assert receiver.requests[-1][1]["Authorization"] == "X"


def test_a_follower_started_before_the_database_waits_for_it_and_says_so_once(db_path, receiver):
    """Follow mode waits for the application to make the database (``--once`` refuses:
    ``test_ship_without_a_database_says_how_to_give_one``)."""
    command = [PYTHON, "-m", "sqlite_logging_handler", "--db", str(db_path), "ship", "otlp",
               receiver.url]  # fmt: skip
    process = subprocess.Popen(
        command, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline().decode()
        assert (
            first == f"sqlite-logs ship: no log database at {str(db_path)!r} yet; waiting for it\n"
        )
        logged(db_path, 5)
        assert receiver.wait_for(lambda: len(receiver.logs) == 5, timeout=60)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "waiting" not in err.decode()  # said once
    assert rows(db_path, "SELECT log_id FROM ship_cursors")[0][0] == 5
