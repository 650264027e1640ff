"""#15 acceptance findings on ``sqlite-logs``, each tested as the whole class it is one case of.

Times and ages: one parser and its words everywhere, the years 1 to 9999.
Each runs ``sqlite-logs`` as a user does (a subprocess, or ``main()``), on real databases.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import subprocess
import time
from datetime import UTC, datetime

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

from ._cli_acceptance import NEW_YORK, make_app_db, parsers, sqlite_logs
from .conftest import PYTHON, child_env, make_logger

pytestmark = pytest.mark.slow


@pytest.fixture
def app_db(db_path):
    """A few records and metric values, as an application leaves them."""
    return make_app_db(db_path)


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


def test_eight_digits_are_a_basic_iso_date_not_epoch_seconds_of_1970(aged_db):
    """``20261130`` is a date, as ``date -d`` reads it; it was read as 1970-08-23 (#15)."""
    twenty_days_ago = datetime.fromtimestamp(time.time() - 20 * 86400)
    basic, extended = twenty_days_ago.strftime("%Y%m%d"), twenty_days_ago.strftime("%Y-%m-%d")
    assert parse_time(basic) == parse_time(extended)
    assert _would_delete(aged_db, basic) == _would_delete(aged_db, extended)
    assert _would_delete(aged_db, basic).startswith("would delete 1 log rows")
    with LogStore(str(aged_db)) as store:
        assert sorted(row.message for row in store.logs(since=basic)) == ["0d", "10d"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("20261131", "8 digits are a date (YYYYMMDD"),
        ("3600", "write '@3600' for epoch seconds, '3600s' for that many seconds ago"),
        ("-5", "write '@-5' for epoch seconds"),
        ("20261130.5", "epoch seconds only with 9 digits or more"),
    ],
)
def test_a_short_bare_number_is_refused_naming_what_it_may_have_meant(aged_db, value, says):
    result = sqlite_logs("--db", str(aged_db), "query", "--since", value)
    assert result.returncode == 2
    assert says in result.stderr
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_time(value)
    assert parse_time(f"@{value}") is not None  # the explicit form is epoch seconds


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
    with LogStore(aged_db) as store:
        assert len(store.logs()) == 3


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
        with pytest.raises(TypeError, match="use a datetime, epoch seconds") as info:
            store.logs(since=[2026])  # type: ignore[arg-type]
        assert TIME_FORMS in str(info.value)
        with pytest.raises(ValueError, match=r"cannot read .soon. as a time") as text_error:
            store.logs(since="soon")
        assert "datetime" not in str(text_error.value)


def test_no_help_text_names_a_python_type_or_keyword():
    words = re.compile(r"\b(datetime|str|int|float|None|True|False|dict)\b|\w=\W")
    for name, parser in parsers(_parser()):
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


def test_a_local_time_the_clocks_skipped_is_refused_not_moved(app_db):
    """02:30 on the night New York's clocks go forward never happened: GNU date says
    "invalid date"; it was read as 03:30 without a word. The hour that comes twice
    (01:30 on the night they go back) is its first, as Python's fold=0 and date read it.
    """
    zone = {"TZ": "America/New_York"}
    skipped = sqlite_logs("--db", str(app_db), "query", "--since", "2026-03-08 02:30", env=zone)
    assert skipped.returncode == 2
    assert skipped.stderr.count("\n") == 1
    assert "'2026-03-08 02:30' never happened in local time" in skipped.stderr
    for fine in ("2026-03-08 03:30", "2026-03-08 02:30-05:00", "2026-03-08T02:30Z"):
        result = sqlite_logs("--db", str(app_db), "query", "--since", fine, env=zone)
        assert result.returncode == 0, result.stderr
    twice = sqlite_logs("--db", str(app_db), "query", "--since", "2026-11-01 01:30", env=zone)
    assert twice.returncode == 0, twice.stderr
    script = (
        "from sqlite_logging_handler._times import parse_epoch\n"
        "print(parse_epoch('2026-11-01 01:30') == parse_epoch('2026-11-01 01:30-04:00'))\n"
    )
    first = subprocess.run(
        [PYTHON, "-c", script], env={**child_env(), **zone}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert first.stdout.split() == ["True"], first.stderr


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


@pytest.mark.parametrize("follow", ["-f", "--follow", "-F"])
@pytest.mark.parametrize("until", ["1h", "+1h", "2026-01-01"])
def test_following_refuses_an_until_as_it_would_wait_past_it_forever(app_db, follow, until):
    """``tail -f --until T``: records still to come are after now; one usage line, exit 2."""
    result = sqlite_logs("--db", str(app_db), "tail", follow, "--until", until)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "sqlite-logs: error: --until cannot be used with -f or -F: the records a follower "
        "waits for come after now (tail --until TIME shows those before it) "
        "(see: sqlite-logs tail --help)\n"
    )


def test_tail_without_following_takes_until(app_db):
    result = sqlite_logs("--db", str(app_db), "tail", "--until", "+1h")
    assert result.returncode == 0
    assert "payment failed" in result.stdout
