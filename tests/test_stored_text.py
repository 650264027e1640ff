"""Text UTF-8 cannot hold never breaks a reader (issue 14.5, follow-up).

A lone surrogate logged in an extra (half an emoji from a client's JSON, a file name
``os.fsdecode()`` could not decode) is stored as ``backslashreplace`` text; a database
written by other tools may hold bytes that are not UTF-8, or JSON escaping a lone
surrogate. ``LogStore``, ``sql()``, ``json_extract`` through it and every ``sqlite-logs``
output read such rows, showing those characters as ``\\xNN`` / ``\\udXXX`` text.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess

import pytest

from sqlite_logging_handler import LogStore, MetricsAdapter, SQLiteHandler

from .conftest import PYTHON, child_env, make_logger

HALF_AN_EMOJI = json.loads('"nice \\ud83d"')
UNDECODABLE_NAME = os.fsdecode(b"report\xff.pdf")


def sqlite_logs(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line into pipes (UTF-8, strict: what a terminal or a pipe takes)."""
    env = child_env()
    env.pop("SQLITE_LOGS_DB", None)
    env["PYTHONIOENCODING"] = "utf-8:strict"
    return subprocess.run(
        [PYTHON, "-m", "sqlite_logging_handler", *args],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


@pytest.fixture
def logged_db(db_path):
    """Surrogates logged through the handler, as the tester did."""
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.warning("comment rejected", extra={"comment": HALF_AN_EMOJI, "file": UNDECODABLE_NAME})
    MetricsAdapter(log).increment("rejected", tags={"comment": HALF_AN_EMOJI})
    handler.close()
    return db_path


@pytest.fixture
def foreign_db(tmp_path):
    """A log database another tool wrote into: bytes that are not UTF-8, escaped surrogates."""
    db_path = tmp_path / "foreign.db"
    handler = SQLiteHandler(db_path)
    make_logger(handler).info("written by the handler")
    handler.close()
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO logs (timestamp, created, level, levelno, module, message, extra_data) "
        "VALUES ('2026-01-02 03:04:05.000', 1767323045.0, 'ERROR', 40, "
        "CAST(x'6170702e6dff' AS TEXT), CAST(x'6f6bff20eda0bd21' AS TEXT), "
        """'{"comment":"nice \\ud83d","raw":"\\\\ud83d"}')"""
    )
    conn.execute(
        "INSERT INTO metrics (timestamp, created, metric_name, value, unit, tags) VALUES "
        """('2026-01-02 03:04:05.000', 1767323045.0, CAST(x'6dff' AS TEXT), 1, 'ms', """
        """'{"t":"\\udc80"}')"""
    )
    conn.commit()
    conn.close()
    return db_path


FOREIGN_MESSAGE = "ok\\xff \\ud83d!"  # the text form of backslashreplace


def test_the_store_reads_what_other_tools_wrote(foreign_db):
    with LogStore(foreign_db) as store:
        foreign = store.logs(newest_first=False)[0]  # logged "earlier", by hand
        assert (foreign.module, foreign.message) == ("app.m\\xff", FOREIGN_MESSAGE)
        assert foreign.extra_data == {"comment": "nice \\ud83d", "raw": "\\ud83d"}
        assert next(store.iter_logs()).message == FOREIGN_MESSAGE
        assert store.statistics()["logs_by_logger"]["app.m\\xff"] == 1
        (metric,) = store.metrics()
        assert (metric.metric_name, metric.tags) == ("m\\xff", {"t": "\\udc80"})
        assert set(store.metric_summary()) == {"m\\xff"}
        # SQLite's json_extract turns the escape into bytes that are not UTF-8
        (found,) = store.sql(
            "SELECT json_extract(extra_data, '$.comment') AS comment, message FROM logs "
            "WHERE id = ?",
            (foreign.id,),
        )
        assert (found["comment"], found["message"]) == ("nice \\ud83d", FOREIGN_MESSAGE)


def test_following_reads_what_other_tools_write(foreign_db):
    with LogStore(foreign_db) as store:
        rows = store.follow(after_id=0, poll_interval=0.05)
        assert [next(rows).message for _ in range(2)] == ["written by the handler", FOREIGN_MESSAGE]


def test_iterating_goes_past_an_undecodable_row_without_repeating_or_skipping(db_path):
    """``iter_logs`` reads a thousand rows at a time: the bad one is in the second thousand."""
    handler = SQLiteHandler(db_path, batch_size=500)
    log = make_logger(handler)
    for i in range(2500):
        log.info("record %d", i)
    handler.close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE logs SET message = CAST(x'626164ff' AS TEXT) WHERE id = 1500")
    conn.commit()
    conn.close()
    with LogStore(db_path) as store:
        messages = [row.message for row in store.iter_logs()]
    assert messages == [f"record {i}" if i != 1499 else "bad\\xff" for i in range(2500)]


@pytest.mark.slow
@pytest.mark.parametrize("which", ["logged", "foreign"])
def test_every_output_of_the_command_line_shows_such_text(which, request):
    db = str(request.getfixturevalue(f"{which}_db"))
    expected = FOREIGN_MESSAGE if which == "foreign" else "comment rejected"
    for args in (["query"], ["tail", "-n", "5"], ["stats"], ["metrics"]):
        result = sqlite_logs("--db", db, *args)
        assert (result.returncode, result.stderr) == (0, ""), args
        if args[0] in ("query", "tail"):
            assert expected in result.stdout, args
    for args in (["query", "--json"], ["export", "--format", "jsonl"]):
        result = sqlite_logs("--db", db, *args)
        assert (result.returncode, result.stderr) == (0, ""), args
        exported = [json.loads(line) for line in result.stdout.splitlines()]
        assert expected in [r["message"] for r in exported]
        assert [r["extra_data"]["comment"] for r in exported if r["extra_data"]] == ["nice \\ud83d"]
    result = sqlite_logs("--db", db, "export", "--format", "csv")
    assert (result.returncode, result.stderr) == (0, "")
    assert expected in [r["message"] for r in csv.DictReader(io.StringIO(result.stdout))]


def test_a_filter_finds_such_text_as_it_was_stored(logged_db):
    with LogStore(logged_db) as store:
        assert [r.message for r in store.logs(extra={"comment": HALF_AN_EMOJI})] == [
            "comment rejected"
        ]
        assert len(store.metrics(tags={"comment": HALF_AN_EMOJI})) == 1
        (found,) = store.logs(extra={"file": UNDECODABLE_NAME})
        assert found.extra_data == {"comment": "nice \\ud83d", "file": "report\\udcff.pdf"}


def test_the_level_filter_reads_level_names_other_tools_stored(db_path):
    handler = SQLiteHandler(db_path)
    make_logger(handler).info("plain")
    handler.close()
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO logs (timestamp, level, levelno, module, message) VALUES "
        "('2026-01-02 03:04:05', CAST(x'4e4f5449ff' AS TEXT), 25, 'x', 'odd level')"
    )
    conn.commit()
    conn.close()
    with LogStore(db_path) as store:
        assert [r.message for r in store.logs(min_level="INFO")] == ["plain", "odd level"]
        assert [r.level for r in store.logs(level=25)] == ["NOTI\\xff"]
