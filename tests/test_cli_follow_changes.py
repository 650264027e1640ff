"""``tail -f``/``-F`` when the database file changes under them, and Ctrl-C (#15 follow-up).

Each case runs ``sqlite-logs`` as a user does: a subprocess on a real database, with
the file truncated (``: > app.db``), restored in place (``cp backup.db app.db``) or
the process interrupted with SIGINT.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from sqlite_logging_handler import LogStore, MetricsAdapter, SQLiteHandler

from ._follow import WAIT, Follower, write
from .conftest import PYTHON, child_env, make_logger, sqlite_logs

pytestmark = pytest.mark.slow


@pytest.fixture
def app_db(tmp_path: Path) -> Path:
    db = tmp_path / "app.db"
    write(db, "first", "second")
    return db


@pytest.mark.parametrize("flag", ["-f", "-F"])
def test_a_restore_in_place_is_noticed_and_the_new_content_shown(app_db, tmp_path, flag):
    backup = tmp_path / "backup.db"
    shutil.copyfile(app_db, backup)  # first, second
    write(app_db, "third")
    follower = Follower(app_db, flag, "-n", "1")
    try:
        assert follower.messages(1) == ["third"]
        inode = app_db.stat().st_ino
        shutil.copyfile(backup, app_db)  # cp: same file, older content
        assert app_db.stat().st_ino == inode
        assert f"{str(app_db)!r} has been replaced" in follower.note()
        assert follower.messages(1) == ["second"]  # the new content's last -n
        write(app_db, "after the restore")
        assert follower.messages(1) == ["after the restore"]
    finally:
        follower.stop()


def test_tail_F_waits_through_a_truncation(app_db):
    follower = Follower(app_db, "-F", "-n", "1")
    try:
        assert follower.messages(1) == ["second"]
        with open(app_db, "w"):  # : > app.db
            pass
        assert "has been truncated; waiting" in follower.note()
        write(app_db, "a new life")
        assert "has appeared; following it" in follower.note()
        assert follower.messages(1) == ["a new life"]
        assert follower.process.poll() is None
    finally:
        follower.stop()


def test_tail_f_ends_on_a_truncation_naming_the_database(app_db):
    follower = Follower(app_db, "-f", "-n", "1")
    assert follower.messages(1) == ["second"]
    with open(app_db, "w"):
        pass
    assert follower.stop(terminate=False) == 1
    assert follower.note() == (
        f"sqlite-logs: error: {str(app_db)!r} has been truncated: it is no longer a log "
        "database (-F waits for one)"
    )


@pytest.mark.parametrize(
    ("args", "ready"),
    [
        (["-f"], "line"),
        (["-F"], "line"),
        (["-F", "--db", "missing.db"], "note"),  # while waiting for the file
    ],
)
def test_ctrl_c_ends_a_follow_with_130(app_db, args, ready):
    follower = Follower(app_db, *args, "-n", "1")
    try:
        assert (follower.line() if ready == "line" else follower.note()) != "<EOF>"
        for _ in range(3):  # poll ticks go by: the signal lands wherever the loop is
            write(app_db, "tick")
            if ready == "line":
                assert follower.messages(1) == ["tick"]
        follower.process.send_signal(signal.SIGINT)
        assert follower.stop(terminate=False) == 130
        assert follower.err.get(timeout=WAIT) == "<EOF>"  # nothing said, no traceback
    finally:
        follower.stop()


def test_ctrl_c_on_a_terminal_exits_130(app_db):
    """As a user presses it: SIGINT to the foreground process group of a terminal."""
    leader, terminal = os.openpty()
    process = subprocess.Popen(
        [PYTHON, "-m", "sqlite_logging_handler", "--db", str(app_db), "tail", "-f"],
        env=child_env(),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    try:
        seen = b""
        while b"second" not in seen:
            seen += os.read(leader, 4096)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=WAIT) == 130
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)


# -- options whose value starts with '-', and time ranges ------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["query", "--since", "-2h", "--until", "-1s", "--json"],
        ["tail", "--since", "-2h", "-n", "5"],
        ["export", "--until", "-0s", "--since", "-1d"],
        ["metrics", "--since", "-7d", "--until", "-1s"],
        ["query", "--thread", "-1", "--json"],  # a thread id may be negative
        ["--db", "-1.db", "stats"],  # a path that starts with '-'
    ],
)
def test_values_starting_with_a_dash_are_read_as_values(app_db, args):
    """As getopt reads them (journalctl --since -2h, git log, tail -n)."""
    if "-1.db" in args:
        shutil.copyfile(app_db, app_db.parent / "-1.db")
        result = sqlite_logs(*args, cwd=app_db.parent)
    else:
        result = sqlite_logs("--db", str(app_db), *args)
    assert result.returncode == 0, result.stderr
    assert "expected one argument" not in result.stderr


def test_a_bad_value_starting_with_a_dash_is_judged_as_a_value(app_db):
    result = sqlite_logs("--db", str(app_db), "prune", "--older-than", "-soon")
    assert result.returncode == 2
    assert "cannot read '-soon' as a time" in result.stderr


@pytest.mark.parametrize("command", ["query", "tail", "export", "metrics", "report"])
def test_until_before_since_is_an_error(app_db, command):
    since, until = "2026-11-30T00:00Z", "2026-11-29T00:00Z"
    result = sqlite_logs("--db", str(app_db), command, "--utc", "--since", since, "--until", until)
    assert result.returncode == 2
    assert result.stderr == (
        "sqlite-logs: error: --until '2026-11-29T00:00Z' (2026-11-29 00:00:00.000Z) is not after "
        "--since '2026-11-30T00:00Z' (2026-11-30 00:00:00.000Z): no time is left between them "
        f"(see: sqlite-logs {command} --help)\n"
    )
    assert result.stdout == ""


# -- output paths: '-' is stdout, and errors name the path and the cause ---------------------


def test_dash_is_stdout_for_every_command_with_an_output_path(app_db, tmp_path):
    report = sqlite_logs("--db", str(app_db), "report", "-o", "-", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith("<!DOCTYPE html>") and 'data-records="2"' in report.stdout
    export = sqlite_logs(
        "--db", str(app_db), "export", "-o", "-", "--format", "json", cwd=tmp_path
    )  # fmt: skip
    assert export.returncode == 0, export.stderr
    assert [row["message"] for row in json.loads(export.stdout)] == ["first", "second"]
    copy = tmp_path / "copy.db"
    with open(copy, "wb") as target:
        backup = subprocess.run(
            [PYTHON, "-m", "sqlite_logging_handler", "--db", str(app_db), "backup", "-"],
            env=child_env(), stdout=target, stderr=subprocess.PIPE, timeout=WAIT, cwd=tmp_path,
        )  # fmt: skip
    assert backup.returncode == 0, backup.stderr
    conn = sqlite3.connect(copy)
    assert [m for (m,) in conn.execute("SELECT message FROM logs ORDER BY id")] == [
        "first",
        "second",
    ]
    conn.close()
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["export", "-o", "{missing}/x.jsonl"], "there is no directory '{missing}'"),
        (["export", "--format", "csv", "-o", "{tmp}"], "it is a directory"),
        (["report", "-o", "{tmp}"], "it is a directory"),
        (["report", "-o", "{missing}/r.html"], "there is no directory '{missing}'"),
        (["report", "-o", "{db}/r.html"], "a part of the path is a file, not a directory"),
    ],
)
def test_an_output_path_that_cannot_be_written_is_named_with_its_cause(
    app_db, tmp_path, args, cause
):
    names = {"missing": str(tmp_path / "missing"), "tmp": str(tmp_path), "db": str(app_db)}
    args = [arg.format(**names) for arg in args]
    result = sqlite_logs("--db", str(app_db), *args)
    assert result.returncode == 1
    assert (
        result.stderr == f"sqlite-logs: error: cannot write {args[-1]!r}: {cause.format(**names)}\n"
    )


# -- query --json/--csv stream -----------------------------------------------------------------


@pytest.fixture
def wide_db(tmp_path: Path) -> Path:
    """40,000 records of 4 KB each (160 MB of messages), copied in SQL for speed."""
    db = tmp_path / "wide.db"
    write(db, "seed")
    conn = sqlite3.connect(db)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(logs)") if row[1] != "id"]
    copied = ", ".join(
        "printf('%d %.4000c', n, 'x')" if name == "message" else name for name in columns
    )
    with conn:
        conn.execute(
            f"INSERT INTO logs ({', '.join(columns)}) "
            "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < 40000) "
            f"SELECT {copied} FROM k, (SELECT * FROM logs LIMIT 1)"
        )
    conn.close()
    return db


@pytest.mark.parametrize("form", ["--json", "--csv"])
def test_query_json_and_csv_stream_in_constant_memory(wide_db, form):
    script = (
        "import resource, subprocess, sys\n"
        "with open('/dev/null', 'w') as sink:\n"
        "    status = subprocess.call(sys.argv[1:], stdout=sink)\n"
        "print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run(
        [PYTHON, "-c", script, PYTHON, "-m", "sqlite_logging_handler", "--db", str(wide_db),
         "query", form, "--limit", "999999"],
        env=child_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    status, peak_kb = map(int, result.stdout.split())
    assert status == 0, result.stderr
    assert peak_kb < 100_000, f"peak RSS {peak_kb:,} KB for 160 MB of rows"


# -- metric_summary takes the filters of metrics(), tags included ------------------------------


def test_metric_summary_and_the_metrics_command_filter_by_tags(tmp_path):
    db = tmp_path / "m.db"
    handler = SQLiteHandler(db)
    metrics = MetricsAdapter(make_logger(handler))
    for value, region in [(1.0, "eu"), (2.0, "eu"), (30.0, "us"), (50.0, "us")]:
        metrics.increment("orders", value, tags={"region": region, "site": {"id": 7}})
    handler.close()
    with LogStore(db) as store:
        eu = store.metric_summary(tags={"region": "eu"})["orders"]
        assert (eu["count"], eu["sum"], eu["max"]) == (2, 3.0, 2.0)
        assert store.metric_summary("orders", tags={"region": "mars"}) == {}
        assert store.metric_summary(tags={"site.id": 7})["orders"]["count"] == 4
    result = sqlite_logs("--db", str(db), "metrics", "--tag", "region=us", "--json")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["sum"] == 80.0
    plot = sqlite_logs("--db", str(db), "metrics", "orders", "--tag", "region=us", "--plot")
    assert plot.returncode == 0, plot.stderr
    assert "30 .. 50" in plot.stdout
