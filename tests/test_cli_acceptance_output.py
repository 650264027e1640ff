"""#15 acceptance findings on ``sqlite-logs``, each tested as the whole class it is one case of.

Machine-readable output: column names, metrics over time, stored text.
Each runs ``sqlite-logs`` as a user does (a subprocess, or ``main()``), on real databases.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import subprocess
import time
from typing import Any

import pytest

from sqlite_logging_handler import MetricsAdapter, SQLiteHandler
from sqlite_logging_handler._words import number

from ._cli_acceptance import make_app_db, sqlite_logs
from .conftest import PYTHON, child_env, make_logger

pytestmark = pytest.mark.slow


@pytest.fixture
def app_db(db_path):
    """A few records and metric values, as an application leaves them."""
    return make_app_db(db_path)


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


@pytest.fixture
def logs_only_db(db_path):
    """Log records, and no metric value."""
    handler = SQLiteHandler(db_path)
    make_logger(handler).warning("no metrics here")
    handler.close()
    return db_path


@pytest.mark.parametrize(
    ("args", "note"),
    [
        (["metrics"], "no metrics in this database"),
        (["metrics", "--plot"], "no metrics in this database"),
        (["metrics", "--until", "2000-01-01"], "no metric values match"),
        (["query", "--contains", "nowhere"], "no records match"),
    ],
)
def test_a_table_with_no_rows_is_a_note_on_stderr_not_a_bare_header(logs_only_db, args, note):
    """No header without rows on stdout (a pipe reads nothing); a note says why."""
    if "--until" in args:  # metric values there are, none before 2000
        MetricsAdapter(make_logger(handler := SQLiteHandler(logs_only_db))).record("x", 1.0)
        handler.close()
    result = sqlite_logs("--db", str(logs_only_db), *args)
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == f"sqlite-logs: {note}\n"


@pytest.mark.parametrize("args", [["metrics", "--json"], ["query", "--json", "--contains", "x"]])
def test_json_with_no_rows_is_empty_and_says_nothing(logs_only_db, args):
    result = sqlite_logs("--db", str(logs_only_db), *args)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


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
        title == f"requests (total per bucket, {number(min(first, second), 4)} .. "
        f"{number(max(first, second), 4)} count)"
    )
    for name in ("queue_depth", "latency"):
        title, (first, second) = _plotted(kinds_db, name)
        assert title.startswith(
            f"{name} (median (p50) per bucket, {number(min(first, second), 4)} .. "
        )


def test_the_plot_covers_the_period_asked_for_and_rounds_its_label(db_path):
    """Values of one moment, ``--since 1h``: one bar at the end of the hour, not 40 (#15).

    Before, the buckets ran from the first value to the last (a millisecond), and the
    label gave ``1234.57``, unrounded and without the separators of the rest of the CLI.
    """
    handler = SQLiteHandler(db_path)
    metrics = MetricsAdapter(make_logger(handler))
    for _ in range(4):
        metrics.record("latency", 1234.56789, "ms")
    handler.close()
    out = sqlite_logs("--db", str(db_path), "metrics", "latency", "--since", "1h", "--plot")
    assert out.returncode == 0, out.stderr
    title, line = out.stdout.splitlines()[-2:]
    assert title == "latency (median (p50) per bucket, 1,235 .. 1,235 ms)"
    bars = line[2:]
    assert len(bars) == 40 and bars[:-1] == " " * 39 and bars[-1] != " ", repr(line)
    ended = sqlite_logs(
        "--db", str(db_path), "metrics", "latency", "--since", "1h", "--until", "+1h", "--plot"
    ).stdout.splitlines()[-1][2:]
    assert ended.index(ended.strip()) == 19, repr(ended)  # now: the middle of two hours
    unbounded = sqlite_logs("--db", str(db_path), "metrics", "latency", "--plot")
    assert unbounded.stdout.splitlines()[-1][2:].strip()  # the data's own span


def test_metrics_tables_write_numbers_with_separators_and_json_keeps_them_whole(db_path):
    """A gauge of 1234567.5 was ``1.23457e+06`` in every column of the table (#15)."""
    handler = SQLiteHandler(db_path)
    metrics = MetricsAdapter(make_logger(handler))
    metrics.gauge("bytes_in_use", 1234567.5)
    metrics.gauge("ratio", 0.123456789)
    handler.close()
    table = sqlite_logs("--db", str(db_path), "metrics").stdout
    assert "e+" not in table and "e-" not in table, table
    (big,) = [line for line in table.splitlines() if line.startswith("bytes_in_use")]
    assert big.split()[2:9] == ["1,234,568"] * 7, big  # sum, min, avg, p50, p95, p99, max
    (small,) = [line for line in table.splitlines() if line.startswith("ratio")]
    assert small.split()[2] == "0.123457", small
    as_json = [
        json.loads(line)
        for line in sqlite_logs("--db", str(db_path), "metrics", "--json").stdout.splitlines()
    ]
    assert {row["metric_name"]: row["max"] for row in as_json} == {
        "bytes_in_use": 1234567.5, "ratio": 0.123456789,
    }  # fmt: skip
    as_csv = sqlite_logs("--db", str(db_path), "metrics", "--csv").stdout
    assert "1234567.5" in as_csv and "0.123456789" in as_csv


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
