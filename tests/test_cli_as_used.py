"""``sqlite-logs`` as people use it (#15): times, pipes, tail -F, exits, metrics out, stats.

Each command runs as a user runs it: a subprocess, on a real database, in a real pipe
or on a pseudo-terminal.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import time
from datetime import datetime

import pytest

from sqlite_logging_handler import LogStore, MetricsAdapter, SQLiteHandler, __version__

from .conftest import PYTHON, child_env, doubled_log_database, make_logger, rows, sqlite_logs
from .test_hostile_reading import Terminal

pytestmark = pytest.mark.slow

NEW_YORK = "America/New_York"
# 2026-11-30 17:00:00 UTC = 12:00 in New York (EST, UTC-05:00)
NOON_NY = 1796058000.0


def record(log: logging.Logger, level: int, message: str, created: float, **extra) -> None:
    made = log.makeRecord(log.name, level, __file__, 1, message, (), None, extra=extra)
    made.created = created
    log.handle(made)


@pytest.fixture
def timed_db(db_path):
    """Records at known times around noon in New York on 2026-11-30."""
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for minutes, level, message in [
        (-120, logging.INFO, "ten o'clock"),
        (-1, logging.WARNING, "a minute to noon"),
        (0, logging.ERROR, "noon"),
        (30, logging.INFO, "half past twelve"),
        (24 * 60, logging.INFO, "next day"),
    ]:
        record(log, level, message, NOON_NY + minutes * 60)
    handler.close()
    return db_path


def messages(result) -> list[str]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line)["message"] for line in result.stdout.splitlines()]


# -- times -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        ("2026-11-30 12:00:00", None, ["noon", "half past twelve", "next day"]),  # local
        ("2026-11-30 12:00", "2026-11-30 12:30", ["noon"]),
        ("2026-11-30T17:00:00Z", "2026-11-30T17:30:00+00:00", ["noon"]),
        (
            "2026-11-30 11:59:00-05:00",
            "2026-11-30T12:00:00.001-05:00",
            ["a minute to noon", "noon"],
        ),
        ("2026-11-30 17:00:00 UTC", "2026-12-01", ["noon", "half past twelve"]),
        ("2026-11-30", "2026-11-30T11:00", ["ten o'clock"]),
        ("@1796058000", "1796059800", ["noon"]),
    ],
)
def test_since_and_until_take_what_a_shell_can_pass(timed_db, since, until, expected):
    args = ["--db", str(timed_db), "query", "--json", "--since", since]
    args += ["--until", until] if until else []
    found = sqlite_logs(*args, tz=NEW_YORK)
    assert sorted(messages(found)) == sorted(expected)


def test_relative_times_and_days_count_from_now(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    now = time.time()
    record(log, logging.INFO, "90 minutes ago", now - 90 * 60)
    record(log, logging.INFO, "3 days ago", now - 3 * 86400)
    record(log, logging.INFO, "just now", now)
    handler.close()
    db = ["--db", str(db_path)]
    assert messages(sqlite_logs(*db, "query", "--json", "--since", "2h")) == [
        "just now",
        "90 minutes ago",
    ]
    assert messages(sqlite_logs(*db, "query", "--json", "--since", "1h30m ago")) == ["just now"]
    assert len(messages(sqlite_logs(*db, "export", "--since", "1w"))) == 3
    today = sqlite_logs(*db, "query", "--json", "--since", "today")
    midnight = datetime.combine(datetime.now().date(), datetime.min.time()).timestamp()
    assert sorted(messages(today)) == sorted(
        m for m, t in [("just now", now), ("90 minutes ago", now - 5400)] if t >= midnight
    )
    assert "3 days ago" in messages(sqlite_logs(*db, "query", "--json", "--until", "yesterday"))


def test_every_time_shown_carries_its_zone_and_pastes_back(timed_db):
    local = sqlite_logs("--db", str(timed_db), "tail", "-n", "5", tz=NEW_YORK)
    assert local.returncode == 0, local.stderr
    noon = next(line for line in local.stdout.splitlines() if line.endswith("] noon"))
    assert noon.startswith("2026-11-30 12:00:00.000-05:00 ERROR")
    utc = sqlite_logs("--db", str(timed_db), "--utc", "tail", "-n", "5", tz=NEW_YORK)
    assert any(
        line.startswith("2026-11-30 17:00:00.000Z ERROR") for line in utc.stdout.splitlines()
    )
    after = sqlite_logs("--db", str(timed_db), "tail", "--utc", "-n", "5", tz=NEW_YORK)
    assert after.stdout == utc.stdout  # --utc before or after the subcommand
    for shown in (noon[:29], "2026-11-30 17:00:00.000Z"):  # pasted back, exactly
        since = sqlite_logs("--db", str(timed_db), "query", "--json", "--since", shown, tz="UTC")
        assert messages(since)[-1] == "noon"
        until = sqlite_logs("--db", str(timed_db), "query", "--json", "--until", shown, tz="UTC")
        assert "noon" not in messages(until)
    table = sqlite_logs("--db", str(timed_db), "query", tz=NEW_YORK)
    assert "2026-11-30 12:30:00.000-05:00" in table.stdout
    stats = sqlite_logs("--db", str(timed_db), "stats", tz=NEW_YORK)
    assert "2026-11-30 10:00:00.000-05:00 .. 2026-12-01 12:00:00.000-05:00" in stats.stdout


def test_every_command_with_a_time_range_reads_it_the_same_way(timed_db, tmp_path):
    handler = SQLiteHandler(timed_db)
    metrics = MetricsAdapter(make_logger(handler))
    for minutes in (-1, 0, 30):
        metrics.record("latency", 10 + minutes, "ms")
    handler.close()
    conn = sqlite3.connect(timed_db)  # give the metrics the records' times
    conn.execute("UPDATE metrics SET created = ? + (value - 10) * 60", (NOON_NY,))
    conn.execute(
        "UPDATE metrics SET timestamp = strftime('%Y-%m-%d %H:%M:%f', created, 'unixepoch')"
    )
    conn.commit()
    conn.close()
    window = ["--since", "2026-11-30 12:00", "--until", "2026-11-30 12:30"]
    db = ["--db", str(timed_db)]
    tail = sqlite_logs(*db, "tail", *window, tz=NEW_YORK)
    assert [line.split()[-1] for line in tail.stdout.splitlines()] == ["noon"]
    exported = sqlite_logs(*db, "export", *window, tz=NEW_YORK)
    assert messages(exported) == ["noon"]
    summary = sqlite_logs(*db, "metrics", "--json", *window, tz=NEW_YORK)
    assert [json.loads(line)["count"] for line in summary.stdout.splitlines()] == [1]
    exported_metrics = sqlite_logs(*db, "export", "metrics", *window, tz=NEW_YORK)
    assert [json.loads(line)["value"] for line in exported_metrics.stdout.splitlines()] == [10.0]
    page = tmp_path / "r.html"
    report = sqlite_logs(*db, "report", "-o", str(page), *window, tz=NEW_YORK)
    assert report.returncode == 0, report.stderr
    assert 'data-records="1"' in page.read_text()


def test_logstore_reads_times_as_the_command_line_does(timed_db, monkeypatch):
    from sqlite_logging_handler._times import format_time

    monkeypatch.setenv("TZ", NEW_YORK)
    time.tzset()
    try:
        with LogStore(timed_db) as store:
            found = store.logs(since="2026-11-30 12:00", until="2026-11-30T12:30-05:00")
            assert [r.message for r in found] == ["noon"]
            assert [r.message for r in store.logs(since="2026-12-01")] == ["next day"]
            shown = format_time(NOON_NY)
            assert shown == "2026-11-30 12:00:00.000-05:00"
            with pytest.raises(ValueError, match=r"^until='.*' \(.*\) is not after since="):
                store.logs(until=shown, since=shown)  # no time between them, as on the CLI
            assert [r.message for r in store.logs(since=shown, limit=1, newest_first=False)] == [
                "noon"
            ]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


# -- tail -F, --level, pipes, exits ----------------------------------------------------------


def test_tail_F_waits_for_the_database_and_follows_it_when_replaced(tmp_path):
    db = tmp_path / "notyet.db"
    follower = subprocess.Popen(
        [PYTHON, "-m", "sqlite_logging_handler", "--db", str(db), "tail", "-F"],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follower.stdout is not None and follower.stderr is not None
    try:
        assert "waiting for it" in follower.stderr.readline()
        handler = SQLiteHandler(db)
        log = make_logger(handler)
        log.warning("first database")
        handler.close()
        assert follower.stdout.readline().rstrip().endswith("first database")
        notes = [follower.stderr.readline()]
        while "has appeared" not in notes[-1]:  # maybe seen half made: "not ... yet" first
            notes.append(follower.stderr.readline())
        assert all("is not a log database yet" in note for note in notes[:-1]), notes

        replacement = tmp_path / "replacement.db"
        handler = SQLiteHandler(replacement)
        make_logger(handler).warning("second database")
        handler.close()
        os.replace(replacement, db)
        assert "has been replaced" in follower.stderr.readline()
        assert follower.stdout.readline().rstrip().endswith("second database")
        handler = SQLiteHandler(db)
        make_logger(handler).error("written after the replacement")
        handler.close()
        assert follower.stdout.readline().rstrip().endswith("written after the replacement")
        assert follower.poll() is None  # still following
    finally:
        follower.terminate()
        follower.communicate(timeout=60)


def test_tail_f_on_a_missing_database_still_exits_at_once(tmp_path):
    result = sqlite_logs("--db", str(tmp_path / "missing.db"), "tail", "-f")
    assert result.returncode == 1 and "no log database" in result.stderr


def test_level_means_the_same_in_every_command(timed_db):
    db = ["--db", str(timed_db)]

    def found(command: str, *args: str) -> list[str]:
        if command == "tail":
            result = sqlite_logs(*db, "tail", *args)
            return [line.split("] ", 1)[1] for line in result.stdout.splitlines()]
        return messages(sqlite_logs(*db, command, *args, *(["--json"] * (command == "query"))))

    for command in ("tail", "query", "export"):
        assert found(command, "--level", "WARNING") == ["a minute to noon"], command
        minimum = found(command, "--min-level", "WARNING")
        assert sorted(minimum) == ["a minute to noon", "noon"], command
        help_text = sqlite_logs(command, "--help").stdout
        assert re.search(r"--level LEVEL\s+this level only", help_text), command
        assert re.search(r"--min-level MIN_LEVEL\s+this level and above", help_text), command


@pytest.fixture
def big_db(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(3000):
        log.info("record %d with some text to fill the pipe's buffer", i)
    handler.close()
    return db_path


@pytest.mark.parametrize("command", ["stats", "export", "tail -n 3000", "query --limit 3000"])
def test_a_closed_pipe_ends_quietly(big_db, command):
    shell = f"set -o pipefail; {PYTHON} -m sqlite_logging_handler --db {big_db} {command} | head -1"
    result = subprocess.run(
        ["bash", "-c", shell], env=child_env(), capture_output=True, text=True, timeout=120
    )
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr == ""  # no "Broken pipe", no traceback
    assert result.returncode in (0, 141)  # 141: as a Unix tool that SIGPIPE ended


def test_version():
    result = sqlite_logs("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"sqlite-logs {__version__}")


def test_a_missing_default_database_says_how_to_name_one(tmp_path):
    result = sqlite_logs("tail", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "sqlite-logs: error: no log database at 'logs.db': give one with --db PATH "
        "or $SQLITE_LOGS_DB"
    )
    env = dict(child_env(), SQLITE_LOGS_DB=str(tmp_path / "env.db"))
    from_env = sqlite_logs("stats", env=env)
    assert f"no log database at '{tmp_path / 'env.db'}' (from $SQLITE_LOGS_DB)" in from_env.stderr


def test_backup_errors_name_the_destination(timed_db, tmp_path):
    missing_dir = tmp_path / "nonexistent" / "x.db"
    result = sqlite_logs("--db", str(timed_db), "backup", str(missing_dir))
    assert result.returncode == 1
    assert str(missing_dir) in result.stderr and "no directory" in result.stderr
    assert not missing_dir.parent.exists()
    itself = sqlite_logs("--db", str(timed_db), "backup", str(timed_db))
    assert itself.returncode == 1 and "onto itself" in itself.stderr
    assert len(rows(timed_db)) == 5
    directory = sqlite_logs("--db", str(timed_db), "backup", str(tmp_path))
    assert directory.returncode == 1 and "is a directory" in directory.stderr


def test_search_takes_words_and_match_takes_fts_syntax(db_path):
    handler = SQLiteHandler(db_path, full_text=True)
    log = make_logger(handler)
    log.info("user logged-in from 10.0.0.1")
    log.info("user logged out")
    log.info("AND or NOT: words, not syntax")
    handler.close()
    db = ["--db", str(db_path)]
    assert messages(sqlite_logs(*db, "query", "--json", "--search", "logged-in")) == [
        "user logged-in from 10.0.0.1"
    ]
    assert messages(sqlite_logs(*db, "query", "--json", "--search", "10.0.0.1 user")) == [
        "user logged-in from 10.0.0.1"
    ]
    assert messages(sqlite_logs(*db, "query", "--json", "--search", "AND")) == [
        "AND or NOT: words, not syntax"
    ]
    assert len(messages(sqlite_logs(*db, "query", "--json", "--match", "logged NOT out"))) == 1
    bad = sqlite_logs(*db, "query", "--match", "logged-in")
    assert bad.returncode == 2 and "full-text query" in bad.stderr and "Traceback" not in bad.stderr
    assert "(to search for the words as written: --search logged-in)" in bad.stderr
    with LogStore(db_path) as store:  # the same words, the same records, in Python
        assert [r.message for r in store.logs(search="logged-in")] == [
            "user logged-in from 10.0.0.1"
        ]
        assert len(store.logs(match="logged NOT out")) == 1
        with pytest.raises(ValueError, match=re.escape("as written: search='logged-in')")):
            store.logs(match="logged-in")


def test_nested_extra_keys(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.info("user 7", extra={"user": {"id": 7, "name": "ann"}, "http.status": 200})
    log.info("user 8", extra={"user": {"id": 8}, "http": {"status": 404}})
    handler.close()
    with LogStore(db_path) as store:
        assert [r.message for r in store.logs(extra={"user": {"id": 7}})] == ["user 7"]
        assert [r.message for r in store.logs(extra={"user.id": 8})] == ["user 8"]
        assert [r.message for r in store.logs(extra={"http.status": 200})] == ["user 7"]
        assert [r.message for r in store.logs(extra={"http.status": 404})] == ["user 8"]
        assert store.logs(extra={"user": {"id": 7, "name": "bob"}}) == []
        assert len(store.logs(extra={"user": {}})) == 2  # "user" is an object
    found = sqlite_logs("--db", str(db_path), "query", "--json", "--extra", "user.id=7")
    assert messages(found) == ["user 7"]


# -- metrics and stats out --------------------------------------------------------------------


@pytest.fixture
def metrics_only_db(db_path):
    handler = SQLiteHandler(db_path)
    metrics = MetricsAdapter(make_logger(handler))
    for value in range(1, 1501):
        metrics.increment("requests", tags={"route": "/a" if value % 2 else "/b"})
    for latency in (12.5, 30.0, 7.5):
        metrics.record("latency", latency, "ms")
    handler.close()
    return db_path


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_export_writes_both_tables_in_every_format(metrics_only_db, tmp_path, fmt):
    target = tmp_path / f"metrics.{fmt}"
    result = sqlite_logs("--db", str(metrics_only_db), "export", "metrics", "--format", fmt,
                         "-o", str(target))  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = target.read_text()
    if fmt == "jsonl":
        exported = [json.loads(line) for line in text.splitlines()]
    elif fmt == "json":
        exported = json.loads(text)
    else:
        exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) == 1503
    assert {row["metric_name"] for row in exported} == {"requests", "latency"}
    assert "exported 1,503 metric values" in result.stderr
    logs = sqlite_logs("--db", str(metrics_only_db), "export", "--format", fmt)
    assert "holds no log records but 1,503 metric values" in logs.stderr
    tagged = sqlite_logs("--db", str(metrics_only_db), "export", "metrics", "--tag", "route=/a")
    assert len(tagged.stdout.splitlines()) == 750


def test_export_json_is_one_array_of_log_records(timed_db):
    result = sqlite_logs("--db", str(timed_db), "export", "--format", "json")
    records = json.loads(result.stdout)
    assert [r["message"] for r in records][:2] == ["ten o'clock", "a minute to noon"]
    empty = sqlite_logs("--db", str(timed_db), "export", "--format", "json", "--level", "99")
    assert json.loads(empty.stdout) == []
    wrong = sqlite_logs("--db", str(timed_db), "export", "metrics", "--level", "ERROR")
    assert wrong.returncode == 2 and "--level" in wrong.stderr


def test_metrics_as_json_csv_and_with_sums(metrics_only_db):
    db = ["--db", str(metrics_only_db)]
    as_json = {
        json.loads(line)["metric_name"]: json.loads(line)
        for line in sqlite_logs(*db, "metrics", "--json").stdout.splitlines()
    }
    assert as_json["requests"]["sum"] == 1500 and as_json["requests"]["count"] == 1500
    assert as_json["latency"]["sum"] == 50.0 and as_json["latency"]["unit"] == "ms"
    as_csv = list(csv.DictReader(io.StringIO(sqlite_logs(*db, "metrics", "--csv").stdout)))
    assert {r["metric_name"]: float(r["sum"]) for r in as_csv} == {
        "latency": 50.0,
        "requests": 1500.0,
    }
    table = sqlite_logs(*db, "metrics").stdout
    assert re.search(r"requests\s+1,500\s+1,500", table)
    with LogStore(metrics_only_db) as store:
        assert store.metric_summary()["latency"]["sum"] == 50.0


def test_stats_by_severity_with_separators(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for level, n in [(logging.ERROR, 1200), (logging.DEBUG, 3), (logging.WARNING, 40)]:
        for _ in range(n):
            log.log(level, "x")
    handler.close()
    out = sqlite_logs("--db", str(db_path), "stats").stdout
    levels = out.split("by level:")[1].split("\n\n")[0]
    assert [line.split()[0] for line in levels.splitlines()[3:]] == ["DEBUG", "WARNING", "ERROR"]
    assert "1,200" in levels and "1,243 logs" in out


def test_stats_of_a_metrics_only_database(metrics_only_db):
    out = sqlite_logs("--db", str(metrics_only_db), "stats").stdout
    assert "0 logs, 1,503 metric values" in out
    assert "- .. -" not in out and "by level" not in out and "by thread" not in out
    assert re.search(r"requests\s+1,500", out) and re.search(r"metrics\s+\d{4}-", out)


@pytest.mark.parametrize(
    ("command", "label"),
    [
        (["export", "-o", "{tmp}/out.jsonl"], "exporting logs"),
        (["prune", "--keep-rows", "10"], "pruning"),
        (["backup", "{tmp}/copy.db"], "backing up"),
        (["vacuum"], "vacuuming"),
    ],
)
def test_long_operations_show_progress_on_a_terminal_only(big_db, tmp_path, command, label):
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    shutil.copy(big_db, tmp_path / "piped.db")
    piped = sqlite_logs("--db", str(tmp_path / "piped.db"), *args)
    assert piped.returncode == 0, piped.stderr
    assert label not in piped.stderr and "\r" not in piped.stderr
    terminal = Terminal("--db", str(big_db), *args, stderr_on_terminal=True)
    code, output, _ = terminal.finish()
    assert code == 0
    assert label.encode() in output


def test_upgrade_shows_progress_on_a_terminal(tmp_path):
    from .test_schema import make_seed_database

    seed = tmp_path / "seed.db"
    make_seed_database(seed)
    code, output, _ = Terminal("--db", str(seed), "upgrade", stderr_on_terminal=True).finish()
    assert code == 0 and b"upgrading" in output and b"upgraded" in output


# -- the demo -----------------------------------------------------------------------------


def test_the_demo_says_what_happened(tmp_path):
    db = tmp_path / "demo.db"
    result = sqlite_logs("demo", "--db", str(db), "--threads", "3", "--duration", "1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    logged = re.search(
        r"3 threads logged for ([\d.]+) s: ([\d,]+) records \(([\d,]+) a second\) and as many "
        r"metric values",
        out,
    )
    assert logged, out
    seconds, records = float(logged[1]), int(logged[2].replace(",", ""))
    assert 1.0 <= seconds < 3.0  # about the --duration asked for, not the time to store
    assert records == rows(db, "SELECT COUNT(*) FROM logs")[0][0]
    assert records == rows(db, "SELECT COUNT(*) FROM metrics")[0][0]
    queue = re.search(r"spent \d+% of their time in logging calls; (.*)", out)
    assert queue, out
    # The queue holds metric values too: its size is not a count of records alone.
    assert "records and metric values together" in queue[1]
    assert re.search(r"All stored [\d.]+ s after the threads stopped", out)
    per_second = re.search(r"Logs per second: ([\d,]+) logged over ([\d.]+) s", out)
    assert per_second, out
    assert per_second[1] == logged[3]  # one figure, on one basis: records
    rate = int(logged[3].replace(",", ""))
    assert abs(rate * seconds - records) <= 0.01 * records  # records over the time logged
    assert "⏳" not in out + result.stderr and "storing" not in out + result.stderr  # piped
    samples = out.split("Sample Logs:")[1].split("\n\n")[0].splitlines()[1:]
    assert len({line.split()[3] for line in samples}) == 3  # one row from each thread


def test_the_demo_shows_its_progress_on_a_terminal(tmp_path):
    """While the threads log, a line redrawn in place on a terminal's stderr (#15)."""
    db = tmp_path / "demo.db"
    args = ("demo", "--db", str(db), "--threads", "2", "--duration", "1")
    code, output, _ = Terminal(*args, stderr_on_terminal=True).finish()
    assert code == 0, output
    shown = re.findall(rb"\r\xe2\x8f\xb3 +[\d.]+s  ([\d,]+) records and \1 metric values logged "
                       rb"by 2 threads", output)  # fmt: skip
    assert len(shown) >= 2, output  # redrawn, every quarter of a second


def test_vacuum_progress_only_goes_forward_and_ends_at_100_percent(db_path):
    """Not back to 0% when the checkpoint empties the WAL the rebuild was measured by."""
    doubled_log_database(db_path, 15)  # about 20 MB: a rebuild that takes a few draws
    code, output, err = Terminal("--db", str(db_path), "vacuum", stderr_on_terminal=True).finish()
    assert code == 0, err
    drawn = re.findall(rb"vacuuming: [\d,]+ of [\d,]+ KB written \((\d+)%\)", output)
    percents = [int(percent) for percent in drawn]
    assert len(percents) >= 2, output
    assert percents == sorted(percents), percents
    assert percents[-1] == 100, percents
