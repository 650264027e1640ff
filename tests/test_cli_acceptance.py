"""#15 acceptance findings on ``sqlite-logs``, each tested as the whole class it is one case of.

Help texts state what the commands really do, errors are one line, bounds and times
say what is accepted, colour follows one rule. Each runs ``sqlite-logs`` as a user
does (a subprocess, or ``main()``), on real databases.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import logging
import os
import pty
import re
import sqlite3
import subprocess
import time
import tty
from datetime import UTC, datetime
from typing import Any

import pytest

from sqlite_logging_handler import LogStore, MetricsAdapter, SQLiteHandler
from sqlite_logging_handler._times import (
    AGE_FORMS,
    TIME_FORMS,
    format_time,
    parse_age,
    parse_epoch,
    parse_time,
)
from sqlite_logging_handler.cli import _parser
from sqlite_logging_handler.exceptions import SQLiteLoggingError

from .conftest import PYTHON, child_env, make_logger

pytestmark = pytest.mark.slow

NEW_YORK = "America/New_York"

_COMMANDS = (
    ["tail"], ["query"], ["stats"], ["metrics"], ["export"], ["report", "-o", "-"],
    ["prune", "--keep-rows", "1"], ["backup", "copy.db"], ["vacuum"], ["upgrade"],
)  # fmt: skip


def sqlite_logs(
    *args: str, env: dict[str, str] | None = None, **kw
) -> subprocess.CompletedProcess[str]:
    environment = child_env()
    environment.pop("SQLITE_LOGS_DB", None)
    environment.update(env or {})
    return subprocess.run(
        [PYTHON, "-m", "sqlite_logging_handler", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


@pytest.fixture
def app_db(db_path):
    """A few records and metric values, as an application leaves them."""
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.info("cart opened", extra={"user_id": 7})
    log.error("payment failed")
    MetricsAdapter(log).record("db_query", 12.5, "ms")
    handler.close()
    return db_path


def _parsers(parser: argparse.ArgumentParser, name: str = "sqlite-logs"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- 1. every default a help text states is what the command does ------------------------


def test_every_option_with_a_default_states_it_in_its_help():
    """Each default the parser holds is in the help, as "default: VALUE", and no other."""
    checked = 0
    for name, parser in _parsers(_parser()):
        for action in parser._actions:
            stated = re.findall(r"default: ([^;,)\s]+)", action.help or "")
            default = action.default
            if default in (None, argparse.SUPPRESS, False, True, []) or action.help is None:
                continue
            if isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            assert stated == [_shown(default)], (name, action.option_strings, action.help)
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize("command", _COMMANDS, ids=lambda c: c[0])
def test_the_default_database_in_help_is_the_one_used(command, tmp_path):
    helped = sqlite_logs(command[0], "--help")
    assert "(default: $SQLITE_LOGS_DB, else logs.db)" in " ".join(helped.stdout.split())
    plain = sqlite_logs(*command, cwd=tmp_path)
    assert "no log database at 'logs.db'" in plain.stderr
    named = sqlite_logs(*command, cwd=tmp_path, env={"SQLITE_LOGS_DB": "env.db"})
    assert "no log database at 'env.db'" in named.stderr


def test_the_demo_writes_the_database_its_help_names(tmp_path):
    helped = " ".join(sqlite_logs("demo", "--help").stdout.split())
    stated = re.search(r"--db PATH the database to write \(default: (\S+) ", helped)
    assert stated is not None, helped
    env = {"SQLITE_LOGS_DB": str(tmp_path / "real.db")}
    ran = sqlite_logs("demo", "--threads", "1", "--duration", "0.2", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / stated[1]).is_file()
    assert not (tmp_path / "real.db").exists()


def test_the_ship_database_default_is_stated_too():
    for kind in ("otlp", "postgres"):
        helped = " ".join(sqlite_logs("ship", kind, "--help").stdout.split())
        assert "--db PATH the log database (default: $SQLITE_LOGS_DB, else logs.db)" in helped


# -- 3. every error is one line, usage errors exit 2, without a usage dump ----------------


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["query", "--since", "bogus"], "query"),  # a bad value
        (["query", "--bogus"], "query"),  # an unknown option
        (["--bogus", "stats"], "stats"),
        (["tail", "-n"], "tail"),  # a missing value
        (["backup"], "backup"),  # a missing argument
        (["export", "--format", "xml"], "export"),  # a bad choice
        (["metrics", "--buckets", "many"], "metrics"),  # a bad number
        (["query", "--json", "--csv"], "query"),  # options that exclude each other
        (["query", "--l", "5"], "query"),  # an ambiguous abbreviation
        (["query", "--until", "2h", "--since", "1h"], "query"),  # an empty time range
        (["prune"], "prune"),
        (["export", "metrics", "--level", "INFO"], "export"),
        (["ship"], "ship"),
        (["ship", "otlp"], "ship otlp"),
        (["ship", "otlp", "http://x", "--batch-size", "0"], "ship otlp"),
        (["frobnicate"], ""),
        ([], ""),
    ],
)
def test_a_usage_error_is_one_line_and_exits_2(args, command, app_db):
    result = sqlite_logs("--db", str(app_db), *args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "usage:" not in result.stderr
    hint = " ".join(["sqlite-logs", command, "--help"]).replace("  ", " ")
    assert result.stderr.startswith("sqlite-logs: error: "), result.stderr
    assert result.stderr.endswith(f" (see: {hint})\n"), result.stderr


def test_a_runtime_error_is_one_line_and_exits_1(tmp_path):
    result = sqlite_logs("--db", str(tmp_path / "none.db"), "stats")
    assert result.returncode == 1
    assert result.stderr.startswith("sqlite-logs: error: ") and result.stderr.count("\n") == 1


# -- 2. every option that takes a time or an age reads it with the one parser -----------


@pytest.fixture
def aged_db(db_path):
    """Records 40, 10 and 0 days old, and a metric value 40 days old."""
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    now = time.time()
    for days in (40, 10, 0):
        made = log.makeRecord(log.name, logging.INFO, __file__, 1, f"{days}d", (), None)
        made.created = now - days * 86400
        log.handle(made)
    MetricsAdapter(log).record("old", 1.0)
    handler.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE metrics SET created = ?", (now - 40 * 86400,))
        conn.execute(
            "UPDATE metrics SET timestamp = strftime('%Y-%m-%d %H:%M:%f', created, 'unixepoch')"
        )
    conn.close()
    return db_path


def _would_delete(db, when: str) -> str:
    result = sqlite_logs("--db", str(db), "--utc", "prune", "--dry-run", "--older-than", when)
    assert result.returncode == 0, result.stderr
    return str(result.stdout)


@pytest.mark.parametrize(
    ("when", "logs"),
    [
        ("30d", 1),  # 30 days ago, as --since 30d
        ("-30d", 1),
        ("3 days ago", 2),
        ("720h", 1),
        ("today", 2),
        ("yesterday", 2),
        ("now", 3),
        ("2w", 1),
    ],
)
def test_prune_older_than_takes_relative_times_as_since_does(aged_db, when, logs):
    assert _would_delete(aged_db, when).startswith(f"would delete {logs} log rows")


def test_prune_older_than_takes_absolute_times_as_since_does(aged_db):
    twenty_days_ago = time.time() - 20 * 86400
    day = datetime.fromtimestamp(twenty_days_ago).strftime("%Y-%m-%d")
    forms = [
        day,
        f"{day} 12:00",
        datetime.fromtimestamp(twenty_days_ago, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        f"{twenty_days_ago:.0f}",
        f"@{twenty_days_ago:.0f}",
    ]
    for when in forms:
        said = _would_delete(aged_db, when)
        assert said.startswith("would delete 1 log rows and 1 metric rows older than "), said
    # What the tool prints pastes back.
    shown = _would_delete(aged_db, day).rstrip("\n").rpartition("older than ")[2]
    assert _would_delete(aged_db, shown).endswith(f"older than {shown}\n")


def test_prune_refuses_a_time_in_the_future_and_reads_nothing_else(aged_db):
    future = sqlite_logs("--db", str(aged_db), "prune", "--older-than", "+1h")
    assert future.returncode == 2
    assert "is in the future: it would delete every row" in future.stderr
    bad = sqlite_logs("--db", str(aged_db), "prune", "--older-than", "soon")
    since = sqlite_logs("--db", str(aged_db), "query", "--since", "soon")
    assert bad.returncode == since.returncode == 2
    assert (
        bad.stderr.split("--older-than: ")[1].split(" (see:")[0]
        == (since.stderr.split("--since: ")[1].split(" (see:")[0])
    )
    assert len(LogStore(aged_db).logs()) == 3


@pytest.mark.parametrize(
    ("args", "bad"),
    [
        (["demo", "--duration", "soon"], "soon"),
        (["ship", "otlp", "http://127.0.0.1:9", "--retry-for", "soon"], "soon"),
    ],
)
def test_every_length_of_time_reads_the_ages_retention_reads(args, bad, tmp_path):
    result = sqlite_logs(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert AGE_FORMS in result.stderr
    with pytest.raises(ValueError, match=re.escape(AGE_FORMS)):
        SQLiteHandler(tmp_path / "x.db", retention=bad)


def test_demo_duration_takes_a_duration(tmp_path):
    result = sqlite_logs("demo", "--threads", "1", "--duration", "300ms", cwd=tmp_path)
    assert result.returncode == 2  # "ms" is no unit of a duration: said, not guessed
    result = sqlite_logs("demo", "--threads", "1", "--duration", "0.2s", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_ages_take_the_relative_forms_of_times():
    assert parse_age("3 days") == parse_age("3d") == parse_age("72h") == 3 * 86400
    assert parse_age("3600") == parse_age(3600) == 3600
    for bad in ("0", "-5", "soon", "inf", "nan"):
        with pytest.raises(ValueError, match=re.escape(AGE_FORMS)):
            parse_age(bad)


# -- 4. texts speak of what a person can type, on the command line ----------------------


def test_time_errors_on_the_command_line_name_only_what_can_be_typed(app_db):
    for args in (["query", "--since", "soon"], ["prune", "--older-than", "soon"]):
        result = sqlite_logs("--db", str(app_db), *args)
        assert result.returncode == 2
        assert "datetime" not in result.stderr, result.stderr
        assert TIME_FORMS in result.stderr


def test_logstore_names_a_datetime_for_a_value_of_another_type(app_db):
    with LogStore(app_db) as store:
        with pytest.raises(ValueError, match="use a datetime, epoch seconds") as info:
            store.logs(since=[2026])  # type: ignore[arg-type]
        assert TIME_FORMS in str(info.value)
        with pytest.raises(ValueError, match=r"cannot read .soon. as a time") as text_error:
            store.logs(since="soon")
        assert "datetime" not in str(text_error.value)


def test_no_help_text_names_a_python_type_or_keyword():
    words = re.compile(r"\b(datetime|str|int|float|None|True|False|dict)\b|\w=\W")
    for name, parser in _parsers(_parser()):
        for action in parser._actions:
            found = words.search(action.help or "")
            assert found is None or "full_text=True" in action.help, (name, action.help)


# -- 7. extreme but valid times work, or are said to be out of range --------------------


@pytest.mark.parametrize(
    ("zone", "since", "until", "found"),
    [
        (NEW_YORK, "0001-01-01", "9999-12-30", 2),
        ("UTC", "0001-01-01", "9999-12-31 23:59:59", 2),
        ("Asia/Tokyo", "0001-01-01T00:00Z", "9999-12-31 23:59:59", 2),
        (NEW_YORK, "0001-01", "9999-12", 2),
        (NEW_YORK, "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59Z", 2),
    ],
)
def test_the_first_and_last_years_work_in_every_zone(app_db, zone, since, until, found):
    result = sqlite_logs(
        "--db", str(app_db), "query", "--since", since, "--until", until, "--json",
        env={"TZ": zone},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == found


@pytest.mark.parametrize(
    ("zone", "value"),
    [
        ("Asia/Tokyo", "0001-01-01"),  # 0000-12-31 15:00 UTC
        (NEW_YORK, "9999-12-31 23:59"),  # 10000-01-01 04:59 UTC
        ("UTC", "0001-01-01T00:00+05:00"),
        ("UTC", "@-99999999999"),
        ("UTC", "99999999999999"),
    ],
)
def test_a_time_past_the_years_1_to_9999_is_said_to_be_out_of_range(app_db, zone, value):
    for option in ("--since", "--until"):
        result = sqlite_logs("--db", str(app_db), "query", option, value, env={"TZ": zone})
        assert result.returncode == 2
        assert "is out of range: a time must fall in the years 1 to 9999 (UTC)" in result.stderr
        assert "cannot read" not in result.stderr


def test_times_of_the_first_years_are_shown_with_four_digits_and_paste_back():
    epoch = parse_epoch("0001-01-01T00:00Z")
    assert epoch is not None
    assert format_time(epoch, utc=True) == "0001-01-01 00:00:00.000Z"
    assert parse_time("0999-05-01T00:00Z") == "0999-05-01 00:00:00.000"  # sorts before 2026
    script = (
        "from sqlite_logging_handler._times import format_time, parse_epoch\n"
        "e = parse_epoch('0001-01-01')\n"
        "shown = format_time(e)\n"
        "print(shown, parse_epoch(shown) == e)\n"
    )
    ran = subprocess.run(
        [PYTHON, "-c", script], env={**child_env(), "TZ": NEW_YORK},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert ran.stdout == "0001-01-01 00:00:00.000-04:56:02 True\n"


# -- 6. every bound an error states is the bound accepted ---------------------------------

_NUMBERS = [
    ["tail", "-n"],
    ["query", "--limit"],
    ["prune", "--keep-rows"],
    ["metrics", "--buckets"],
    ["report", "--buckets"],
    ["demo", "--threads"],
    ["ship", "otlp", "http://127.0.0.1:9", "--batch-size"],
]


def _parse(args: list[str]) -> str:
    """The one-line error for ``args`` ("" if they parse)."""
    err = io.StringIO()
    code: object = 0
    with contextlib.redirect_stderr(err):
        try:
            _parser().parse_args(args)
        except SystemExit as stop:
            code = stop.code
    assert code == (2 if err.getvalue() else 0)
    return err.getvalue()


@pytest.mark.parametrize("option", _NUMBERS, ids=lambda o: " ".join((o[0], o[-1])))
def test_every_number_bound_said_is_the_bound_accepted(option):
    said = _parse([*option, "-5"])
    stated = re.search(r"expected a whole number(?:, (\d+) or more| from (\d+) to (\d+)),", said)
    assert stated is not None, said
    low = int(stated[1] or stated[2])
    high = int(stated[3]) if stated[3] else None
    assert _parse([*option, str(low)]) == ""
    assert _parse([*option, str(low - 1)]) == said.replace("'-5'", f"'{low - 1}'")
    if high is None:  # any size: more than SQLite counts means all
        assert _parse([*option, "9" * 40]) == ""
    else:
        assert _parse([*option, str(high)]) == ""
        assert "expected a whole number from" in _parse([*option, str(high + 1)])
    for bad in ("many", "1.5", ""):
        assert said.split(", not ")[0] in _parse([*option, bad])


def test_a_batch_size_of_any_size_ships_rather_than_failing_on_sqlite(app_db):
    result = sqlite_logs(
        "--db", str(app_db), "ship", "otlp", "http://127.0.0.1:9", "--once",
        "--retry-for", "0", "--batch-size", "9" * 30,
    )  # fmt: skip
    assert result.returncode == 1
    assert "gave up after retrying for 0 s: cannot reach the collector" in result.stderr


# -- 5. a hint on the command line names the flag, not the Python keyword ---------------


@pytest.fixture
def fts_db(tmp_path):
    handler = SQLiteHandler(tmp_path / "fts.db", full_text=True)
    make_logger(handler).warning("user logged-in")
    handler.close()
    return tmp_path / "fts.db"


@pytest.mark.parametrize("command", ["query", "tail", "export"])
def test_full_text_hints_name_the_command_line_flags(command, app_db, fts_db):
    no_index = sqlite_logs("--db", str(app_db), command, "--search", "payment")
    assert no_index.returncode == 1
    assert no_index.stderr.endswith("or use --contains TEXT for a substring\n"), no_index.stderr
    malformed = sqlite_logs("--db", str(fts_db), command, "--match", "logged AND")
    assert malformed.returncode == 2
    assert "(to search for the words as written: --search 'logged AND')" in malformed.stderr
    for result in (no_index, malformed):
        assert not re.search(r"\w=", result.stderr.replace("full_text=True", "")), result.stderr
    # The hint works as given.
    hinted = sqlite_logs("--db", str(fts_db), command, "--search", "logged AND")
    assert hinted.returncode == 0, hinted.stderr


def test_logstore_hints_name_its_keywords(app_db, fts_db):
    with LogStore(app_db) as store, pytest.raises(SQLiteLoggingError, match="contains="):
        store.logs(search="payment")
    with LogStore(fts_db) as store, pytest.raises(ValueError, match="quote them"):
        store.logs(search="logged AND")


# -- 8. every path a user gives that is no good is named, with what is wrong -------------

_READERS = [
    ["stats"], ["query"], ["tail"], ["tail", "-f"], ["metrics"], ["export"],
    ["report", "-o", "-"], ["prune", "--keep-rows", "1"], ["vacuum"], ["upgrade"],
    ["backup", "copy.db"], ["ship", "--status"],
]  # fmt: skip


def _bad_databases(tmp_path, app_db):
    (tmp_path / "junk.txt").write_text("not a database\n")
    (tmp_path / "empty.db").write_bytes(b"")
    return {
        str(tmp_path): "it is a directory",
        str(tmp_path / "no" / "x.db"): re.escape(f"there is no directory '{tmp_path / 'no'}'"),
        str(app_db / "x.db"): re.escape(f"'{app_db}' is a file, not a directory"),
        str(tmp_path / "junk.txt"): "(file is not a database|is not an SQLite database)",
        str(tmp_path / "empty.db"): "has no log tables",
    }


@pytest.mark.parametrize("command", _READERS, ids=" ".join)
def test_a_bad_database_path_is_named_with_what_is_wrong(command, app_db, tmp_path):
    for path, wrong in _bad_databases(tmp_path, app_db).items():
        result = sqlite_logs("--db", path, *command, cwd=tmp_path)
        assert result.returncode == 1, (path, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert f"'{path}'" in result.stderr or f"'{os.path.basename(path)}'" in result.stderr
        assert re.search(wrong, result.stderr), (path, result.stderr)


def test_an_empty_database_path_is_refused(app_db):
    result = sqlite_logs("--db", "", "stats", env={"SQLITE_LOGS_DB": str(app_db)})
    assert result.returncode == 1
    assert result.stderr == "sqlite-logs: error: --db '': give the database's path\n"


@pytest.mark.parametrize(
    "command",
    [["export", "-o"], ["report", "-o"], ["backup"], ["demo", "--duration", "0.1", "--db"]],
)
def test_a_bad_output_path_is_named_with_what_is_wrong(command, app_db, tmp_path):
    for path, wrong in {
        str(tmp_path): "it is a directory",
        str(tmp_path / "no" / "x.db"): f"'{tmp_path / 'no'}'",
        str(app_db / "x.db"): f"'{app_db}' is not a directory",
    }.items():
        result = sqlite_logs("--db", str(app_db), *command, path, cwd=tmp_path)
        assert result.returncode == 1, (path, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert f"'{path}'" in result.stderr, result.stderr
        assert wrong in result.stderr or "a part of the path is a file" in result.stderr, (
            result.stderr
        )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_database_is_named(app_db):
    app_db.chmod(0)
    try:
        result = sqlite_logs("--db", str(app_db), "stats")
    finally:
        app_db.chmod(0o644)
    assert result.returncode == 1
    assert result.stderr == f"sqlite-logs: error: cannot read '{app_db}': permission denied\n"


# -- 9. a reader that goes away ends every command the same way -------------------------

_WRITERS = [
    ["tail"], ["tail", "-f"], ["query"], ["query", "--json"], ["query", "--csv"], ["stats"],
    ["metrics"], ["metrics", "--json"], ["metrics", "--csv"], ["metrics", "--plot"],
    ["export"], ["export", "--format", "csv"], ["export", "metrics", "--format", "json"],
    ["report", "-o", "-"], ["backup", "-"], ["ship", "--status"], ["prune", "--keep-rows", "9"],
    ["vacuum"], ["upgrade"], ["demo", "--duration", "0.2", "--threads", "1", "--db", "demo.db"],
]  # fmt: skip


def _closed_pipe(args: list[str], stream: str, cwd) -> subprocess.CompletedProcess[bytes]:
    """Run with ``stream`` (stdout or stderr) a pipe whose reader has gone."""
    read, write = os.pipe()
    os.close(read)
    other = subprocess.PIPE
    try:
        return subprocess.run(
            [PYTHON, "-m", "sqlite_logging_handler", *args],
            env=child_env(),
            stdout=write if stream == "stdout" else other,
            stderr=write if stream == "stderr" else other,
            cwd=cwd,
            timeout=120,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize("command", _WRITERS, ids=" ".join)
def test_every_command_ends_with_141_quietly_when_stdout_is_gone(command, app_db, tmp_path):
    result = _closed_pipe(["--db", str(app_db), *command], "stdout", tmp_path)
    assert result.returncode == 141
    assert result.stderr == b""


@pytest.mark.parametrize(
    "command",
    [["export", "-o", "out.jsonl"], ["export", "metrics", "-o", "m.csv", "--format", "csv"]],
)
def test_a_line_on_a_closed_stderr_ends_as_one_on_stdout(command, app_db, tmp_path):
    result = _closed_pipe(["--db", str(app_db), *command], "stderr", tmp_path)
    assert result.returncode == 141
    assert result.stdout == b""


@pytest.mark.parametrize(
    ("command", "status"),
    [
        (["query", "--since", "bogus"], 2),
        (["query", "--bogus"], 2),
        (["metrics", "no-such-metric"], 1),
        (["--db", "missing.db", "stats"], 1),
    ],
)
def test_an_error_on_a_closed_stderr_keeps_its_status(command, status, app_db, tmp_path):
    result = _closed_pipe(["--db", str(app_db), *command], "stderr", tmp_path)
    assert result.returncode == status
    assert result.stdout == b""


# -- 10. colour follows one rule: --color, $NO_COLOR, $FORCE_COLOR, the terminal --------


def _on_a_terminal(args: list[str], env: dict[str, str]) -> bytes:
    """What ``sqlite-logs`` writes to stdout when it is a terminal (raw mode)."""
    leader, follower = pty.openpty()
    tty.setraw(follower)
    environment = child_env()
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        environment.pop(name, None)
    process = subprocess.Popen(
        [PYTHON, "-m", "sqlite_logging_handler", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**environment, **env},
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: it ended, and the terminal closed
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=60) == 0
    os.close(leader)
    return output


@pytest.mark.parametrize(
    ("terminal", "options", "env", "coloured"),
    [
        (True, [], {}, True),
        (True, [], {"NO_COLOR": "1"}, False),
        (True, [], {"NO_COLOR": ""}, True),  # set but empty: as if not set
        (True, [], {"TERM": "dumb"}, False),
        (True, ["--color", "never"], {}, False),
        (True, ["--color=always"], {"NO_COLOR": "1"}, True),  # the command line decides
        (False, [], {}, False),
        (False, [], {"FORCE_COLOR": "1"}, True),
        (False, [], {"FORCE_COLOR": "0"}, False),
        (False, [], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
        (False, ["--colour", "always"], {}, True),
    ],
)
def test_colour_follows_one_rule(app_db, terminal, options, env, coloured):
    args = ["--db", str(app_db), "tail", *options]
    if terminal:
        output = _on_a_terminal(args, env)
    else:
        output = sqlite_logs(*args, env={"NO_COLOR": "", "FORCE_COLOR": "", **env}).stdout.encode()
    assert b"payment failed" in output
    assert (b"\x1b[31m" in output) is coloured, output


def test_colour_is_the_same_rule_before_and_after_the_command(app_db):
    before = sqlite_logs("--db", str(app_db), "--color", "always", "tail").stdout
    after = sqlite_logs("--db", str(app_db), "tail", "--color", "always").stdout
    assert before == after and "\x1b[31m" in before


# -- 11. machine-readable output: one set of names, each once ------------------------------


def test_metrics_table_json_and_csv_have_the_same_columns_once(app_db):
    db = ["--db", str(app_db), "metrics"]
    table_header = sqlite_logs(*db).stdout.splitlines()[0].split()
    as_json = [json.loads(line) for line in sqlite_logs(*db, "--json").stdout.splitlines()]
    csv_header = sqlite_logs(*db, "--csv").stdout.splitlines()[0].split(",")
    assert list(as_json[0]) == csv_header == table_header
    assert len(set(csv_header)) == len(csv_header)
    assert as_json[0]["metric_name"] == "db_query"
    exported = json.loads(sqlite_logs(*db[:2], "export", "metrics").stdout.splitlines()[0])
    assert exported["metric_name"] == "db_query"  # the database's name, as export says it


@pytest.mark.parametrize(
    "args", [["query", "--json"], ["export"], ["export", "--format", "json"], ["export", "metrics"]]
)
def test_json_and_csv_outputs_name_the_database_columns(app_db, args):
    table = "metrics" if "metrics" in args else "logs"
    with sqlite3.connect(app_db) as conn:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    conn.close()
    out = sqlite_logs("--db", str(app_db), *args).stdout
    first = json.loads(out)[0] if "json" in args else json.loads(out.splitlines()[0])
    assert list(first) == columns
    csv_args = [a for a in args if a not in ("--json", "--format", "json")]
    csv_args += ["--csv"] if args[0] == "query" else ["--format", "csv"]
    header = sqlite_logs("--db", str(app_db), *csv_args).stdout.splitlines()[0]
    assert header.split(",") == columns


# -- 12. a metric is summed up over time by its kind, the same way everywhere -------------


@pytest.fixture
def kinds_db(db_path):
    """A counter, a gauge and a timing, each with values in two far-apart moments."""
    handler = SQLiteHandler(db_path)
    metrics = MetricsAdapter(make_logger(handler))
    for value in (1, 1, 1, 1, 10):
        metrics.increment("requests", value)
    for reading in (5.0, 7.0, 100.0):
        metrics.gauge("queue_depth", reading)
        metrics.record("latency", reading, "ms")
    handler.close()
    with sqlite3.connect(db_path) as conn:  # the first half an hour before the rest
        conn.execute("UPDATE metrics SET created = created - 1800 WHERE id % 2 = 1")
        conn.execute(
            "UPDATE metrics SET timestamp = strftime('%Y-%m-%d %H:%M:%f', created, 'unixepoch')"
        )
    conn.close()
    return db_path


def _plotted(db, name: str) -> tuple[str, list[float]]:
    """What ``metrics NAME --plot --buckets 2`` says it plots, and each bucket's value."""
    out = sqlite_logs("--db", str(db), "metrics", name, "--plot", "--buckets", "2").stdout
    title = out.splitlines()[-2]
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT value, created FROM metrics WHERE metric_name = ? ORDER BY created", (name,)
        ).fetchall()
    conn.close()
    middle = (rows[0][1] + rows[-1][1]) / 2
    halves = [[v for v, c in rows if c < middle], [v for v, c in rows if c >= middle]]
    return title, [float(sum(h)) for h in halves] if "total" in title else [
        sorted(h)[(len(h) + 1) // 2 - 1] for h in halves
    ]


def test_the_plot_sums_counters_and_shows_the_median_of_other_values(kinds_db):
    title, (first, second) = _plotted(kinds_db, "requests")
    assert title.startswith("requests (total per bucket, ")
    assert (
        title
        == f"requests (total per bucket, {min(first, second):g} .. {max(first, second):g} count)"
    )
    for name in ("queue_depth", "latency"):
        title, (first, second) = _plotted(kinds_db, name)
        assert title.startswith(f"{name} (median (p50) per bucket, {min(first, second):g} .. ")


def test_the_plot_and_the_report_sum_up_a_metric_by_the_one_rule(kinds_db, tmp_path):
    from sqlite_logging_handler._aggregates import bucket_statistic

    assert [bucket_statistic(k) for k in ("counter", "gauge", "timer", "histogram", None)] == [
        "sum", "p50", "p50", "p50", "p50",
    ]  # fmt: skip
    page = sqlite_logs("--db", str(kinds_db), "report", "-o", "-").stdout
    plotted = sqlite_logs("--db", str(kinds_db), "metrics", "--plot").stdout
    for name, unit in (("requests", "count"), ("queue_depth", None), ("latency", "ms")):
        label = re.search(rf'aria-label="{name}[^"]*"', page)
        assert label is not None, name
        summed = "total per bucket" in label[0]
        assert summed is (name == "requests"), label[0]
        assert (f"{name} (total per bucket" in plotted) is summed, plotted
        assert (f"{name} (median (p50) per bucket" in plotted) is not summed
        assert unit is None or unit in label[0]


# -- 13. JSON and CSV carry every stored text column exactly as stored ----------------------

_STORED = '{"user_id":7,  "f":1.10, "big":18446744073709551617, "s":"caf\\u00e9", "k":1, "k":2}'


@pytest.fixture
def stored_db(app_db):
    """Rows as another writer may leave them: JSON text in its own spelling, and not JSON."""
    with sqlite3.connect(app_db) as conn:
        for extra in (_STORED, "not JSON {"):
            conn.execute(
                "INSERT INTO logs (timestamp, level, levelno, module, message, extra_data, "
                "created, exc_text) VALUES (strftime('%Y-%m-%d %H:%M:%f', 'now'), 'INFO', 20, "
                "'hand', ?, ?, ?, ?)",
                ("tab\there\r\nand \x1b[31m", extra, time.time(), "Traceback:\n  x\n"),
            )
        conn.execute(
            "INSERT INTO metrics (timestamp, metric_name, value, tags, created) "
            "VALUES (strftime('%Y-%m-%d %H:%M:%f', 'now'), 'hand', 1.5, ?, ?)",
            (_STORED, time.time()),
        )
    conn.close()
    return app_db


def _exact_output(db, *args: str) -> str:
    """stdout as written, without newline translation (a message may hold a \\r\\n)."""
    result = subprocess.run(
        [PYTHON, "-m", "sqlite_logging_handler", "--db", str(db), *args],
        env=child_env(),
        capture_output=True,
        timeout=120,
        check=True,
    )
    return result.stdout.decode()


def _stored(db, table: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY id")]
    conn.close()
    return rows


def _raw_json_values(line: str) -> dict[str, str]:
    """Each key's value as the text it is written as in a JSON object line."""
    decoder = json.JSONDecoder()
    values, index = {}, 1
    while line[index] != "}":
        key, index = decoder.raw_decode(line, index)
        index = line.index(":", index) + 1
        while line[index] == " ":
            index += 1
        _, end = decoder.raw_decode(line, index)
        values[key] = line[index:end]
        index = end
        while line[index] in ", ":
            index += 1
    return values


@pytest.mark.parametrize(
    ("args", "table", "column"),
    [
        (["export", "--format", "csv"], "logs", "extra_data"),
        (["query", "--csv", "--limit", "9"], "logs", "extra_data"),
        (["export", "metrics", "--format", "csv"], "metrics", "tags"),
    ],
)
def test_csv_carries_the_stored_text(stored_db, args, table, column):
    out = _exact_output(stored_db, *args)
    got = {int(r["id"]): r for r in csv.DictReader(io.StringIO(out, newline=""))}
    for row in _stored(stored_db, table):
        for name in (column, "message", "exc_text"):
            if name in row:
                assert got[row["id"]][name] == ("" if row[name] is None else row[name]), name


@pytest.mark.parametrize(
    ("args", "table", "column"),
    [
        (["export"], "logs", "extra_data"),
        (["query", "--json", "--limit", "9"], "logs", "extra_data"),
        (["export", "metrics"], "metrics", "tags"),
        (["export", "--format", "json"], "logs", "extra_data"),
    ],
)
def test_json_carries_the_stored_text(stored_db, args, table, column):
    out = _exact_output(stored_db, *args)
    lines = [line.rstrip(",") for line in out.splitlines() if line.startswith("{")]
    got = {json.loads(line)["id"]: (json.loads(line), _raw_json_values(line)) for line in lines}
    for row in _stored(stored_db, table):
        parsed, raw = got[row["id"]]
        stored = row[column]
        if stored is None:
            assert parsed[column] is None
        elif stored == "not JSON {":
            assert parsed[column] == stored  # a string, exactly
        else:
            assert raw[column] == stored  # the JSON as it is stored, spliced in
        for name in ("message", "exc_text"):
            if name in row:
                assert parsed[name] == row[name]
