"""Every sqlite-logs subcommand, run as a user runs it: a subprocess on a real database."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import time

import pytest

from sqlite_logging_handler import MetricsAdapter, SQLiteHandler
from sqlite_logging_handler.schema import SCHEMA_VERSION

from .conftest import PYTHON, child_env, make_logger, rows
from .test_schema import make_seed_database

pytestmark = pytest.mark.slow


def sqlite_logs(
    *args: str, env: dict[str, str] | None = None, cwd=None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "sqlite_logging_handler", *args],
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture
def logs_db(db_path):
    """A database with known records and metrics."""
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.debug("debug detail")
    log.info("user logged in", extra={"user_id": 7})
    log.warning("disk almost full")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("payment failed", extra={"user_id": 7})
    metrics = MetricsAdapter(log)
    for value in range(1, 101):
        metrics.record("latency", value, "ms")
    handler.close()
    return db_path


def test_tail_prints_the_last_records_oldest_first(logs_db):
    result = sqlite_logs("--db", str(logs_db), "tail", "-n", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "WARNING" in lines[0] and lines[0].endswith("disk almost full")
    assert "ERROR" in lines[1] and lines[1].endswith("payment failed")
    assert "ValueError: boom" in result.stdout  # the traceback, indented
    assert "\033[" not in result.stdout  # no colours into a pipe


def test_db_is_accepted_after_the_subcommand_and_from_the_environment(logs_db):
    after = sqlite_logs("tail", "--db", str(logs_db), "-n", "1", "--level", "ERROR")
    env = dict(child_env(), SQLITE_LOGS_DB=str(logs_db))
    from_env = sqlite_logs("tail", "-n", "1", "--level", "ERROR", env=env)
    assert after.returncode == from_env.returncode == 0
    assert after.stdout == from_env.stdout
    assert "payment failed" in after.stdout


def test_tail_follow_writes_each_new_record_as_it_arrives(logs_db):
    follower = subprocess.Popen(
        [PYTHON, "-m", "sqlite_logging_handler", "--db", str(logs_db), "tail", "-f", "-n", "1"],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    output = follower.stdout
    assert output is not None

    def next_record() -> str:
        line = output.readline()
        while line.startswith("    "):  # a traceback under the previous record
            line = output.readline()
        return line.rstrip()

    try:
        assert next_record().endswith("payment failed")
        handler = SQLiteHandler(logs_db)
        log = make_logger(handler)
        for i in range(3):
            log.error("new %d", i)
            handler.flush()
            assert next_record().endswith(f"new {i}")
        handler.close()
    finally:
        follower.terminate()
        follower.communicate(timeout=30)


def test_query_filters_and_its_three_outputs(logs_db):
    table = sqlite_logs("--db", str(logs_db), "query", "--since", "1h", "--extra", "user_id=7")
    assert table.returncode == 0, table.stderr
    assert "payment failed" in table.stdout and "user logged in" in table.stdout
    assert "disk almost full" not in table.stdout

    as_json = sqlite_logs("--db", str(logs_db), "query", "--min-level", "WARNING", "--json")
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [r["message"] for r in records] == ["payment failed", "disk almost full"]
    assert records[0]["extra_data"] == {"user_id": 7}

    as_csv = sqlite_logs("--db", str(logs_db), "query", "--contains", "DISK", "--csv")
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["message"] for r in parsed] == ["disk almost full"]


def test_stats_counts_and_sizes(logs_db):
    result = sqlite_logs("--db", str(logs_db), "stats")
    assert result.returncode == 0, result.stderr
    assert "4 logs, 100 metric values" in result.stdout
    assert "by level:" in result.stdout and "by logger:" in result.stdout
    assert "by thread:" in result.stdout and "MainThread" in result.stdout
    assert "size" in result.stdout and "WAL" in result.stdout


def test_metrics_summary_and_plot(logs_db):
    result = sqlite_logs("--db", str(logs_db), "metrics", "latency", "--plot", "--buckets", "10")
    assert result.returncode == 0, result.stderr
    header, _, row, *rest = result.stdout.splitlines()
    fields = ["count", "sum", "min", "avg", "p50", "p95", "p99", "max", "unit"]
    assert header.split() == ["metric_name", *fields]
    assert row.split() == ["latency", "100", "5,050", "1", "50.5", "50", "95", "99", "100", "ms"]
    sparkline = rest[-1].strip()
    assert 1 <= len(sparkline) <= 10 and set(sparkline) <= set("▁▂▃▄▅▆▇█ ")
    missing = sqlite_logs("--db", str(logs_db), "metrics", "nothing")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "sqlite-logs: error: no metric 'nothing'"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_streams_every_record(logs_db, tmp_path, fmt):
    target = tmp_path / f"out.{fmt}"
    result = sqlite_logs("--db", str(logs_db), "export", "--format", fmt, "-o", str(target))
    assert result.returncode == 0, result.stderr
    text = target.read_text()
    if fmt == "jsonl":
        messages = [json.loads(line)["message"] for line in text.splitlines()]
    else:
        messages = [r["message"] for r in csv.DictReader(io.StringIO(text))]
    assert messages == ["debug detail", "user logged in", "disk almost full", "payment failed"]
    assert "exported 4 records" in result.stderr


def test_prune_by_age_and_by_count(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(10):
        record = log.makeRecord(log.name, logging.INFO, __file__, 1, f"old {i}", (), None)
        record.created = time.time() - 40 * 86400
        log.handle(record)
    for i in range(10):
        log.info("new %d", i)
    handler.close()
    dry = sqlite_logs("--db", str(db_path), "prune", "--older-than", "30d", "--dry-run")
    assert dry.stdout.startswith("would delete 10 log rows and 0 metric rows older than ")
    assert len(rows(db_path)) == 20
    real = sqlite_logs("--db", str(db_path), "prune", "--older-than", "30d")
    assert real.stdout.startswith("deleted 10 log rows and 0 metric rows older than ")
    assert real.stdout.splitlines()[1].startswith("gave back ")
    keep = sqlite_logs("--db", str(db_path), "prune", "--keep-rows", "3")
    assert keep.returncode == 0, keep.stderr
    assert [r["message"] for r in rows(db_path)] == ["new 7", "new 8", "new 9"]
    nothing = sqlite_logs("--db", str(db_path), "prune")
    assert nothing.returncode == 2


def test_backup_vacuum_and_upgrade(logs_db, tmp_path):
    copy = tmp_path / "copy.db"
    backup = sqlite_logs("--db", str(logs_db), "backup", str(copy))
    assert backup.returncode == 0, backup.stderr
    assert len(rows(copy)) == 4
    assert rows(copy, "PRAGMA integrity_check")[0][0] == "ok"
    vacuum = sqlite_logs("--db", str(logs_db), "vacuum")
    assert vacuum.returncode == 0 and vacuum.stdout.startswith("vacuumed")

    seed = tmp_path / "seed.db"
    make_seed_database(seed)
    refused = sqlite_logs("--db", str(seed), "tail")
    assert refused.returncode == 1
    assert "sqlite-logs upgrade" in refused.stderr or "SQLiteHandler" in refused.stderr
    upgraded = sqlite_logs("--db", str(seed), "upgrade")
    assert upgraded.stdout.strip() == f"upgraded {seed} from schema version 0 to {SCHEMA_VERSION}"
    assert sqlite_logs("--db", str(seed), "upgrade").stdout.startswith(f"{seed} is already")
    assert sqlite_logs("--db", str(seed), "tail").returncode == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["query", "--since", "yesterdayish"],
        ["query", "--level", ""],  # (an unknown name needs the database: test_hostile_reading)
        ["query", "--extra", "no-equals-sign"],
        ["tail", "-n", "-1"],
        ["prune", "--older-than", "soon"],
        ["export", "--format", "xml"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_exit_2_with_a_one_line_error(argv, tmp_path):
    result = sqlite_logs("--db", str(tmp_path / "x.db"), *argv)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("sqlite-logs")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["tail"],
        ["query"],
        ["stats"],
        ["metrics"],
        ["export"],
        ["prune", "--keep-rows", "1"],
        ["backup", "x"],
        ["vacuum"],
        ["upgrade"],
    ],
)
def test_a_missing_database_exits_1_with_one_line_and_creates_nothing(argv, tmp_path):
    missing = tmp_path / "missing.db"
    result = sqlite_logs("--db", str(missing), *argv, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"sqlite-logs: error: no log database at '{missing}'"
    assert not missing.exists()


def test_every_subcommand_has_help():
    for command in [
        "demo",
        "tail",
        "query",
        "stats",
        "metrics",
        "export",
        "prune",
        "backup",
        "vacuum",
        "upgrade",
    ]:
        result = sqlite_logs(command, "--help")
        assert result.returncode == 0
        assert "--db" in result.stdout


def test_the_console_script_is_installed_by_pip():
    """`sqlite-logs` exists when the package is installed (CI installs it)."""
    import shutil

    path = shutil.which("sqlite-logs", path=os.path.dirname(PYTHON))
    if path is None:
        pytest.skip("the package is not installed in this interpreter's environment")
    result = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "demo" in result.stdout


def test_report_writes_one_html_file(logs_db, tmp_path):
    out = tmp_path / "report.html"
    result = sqlite_logs("--db", str(logs_db), "report", "-o", str(out))
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3
    assert 'data-name="latency"' in page


def test_query_search_and_trace_id(db_path):
    handler = SQLiteHandler(db_path, full_text=True)
    log = make_logger(handler)
    log.info("connection timeout on db")
    log.info("timeout on cache")
    handler.close()
    found = sqlite_logs("--db", str(db_path), "query", "--match", "timeout AND db", "--json")
    assert found.returncode == 0, found.stderr
    assert [json.loads(line)["message"] for line in found.stdout.splitlines()] == [
        "connection timeout on db"
    ]
    traced = sqlite_logs("--db", str(db_path), "query", "--trace-id", "0" * 31 + "1", "--json")
    assert (traced.returncode, traced.stdout) == (0, "")


def test_search_without_a_full_text_index_is_a_one_line_error(logs_db):
    result = sqlite_logs("--db", str(logs_db), "query", "--search", "boom")
    assert result.returncode == 1
    assert "full_text=True" in result.stderr and "Traceback" not in result.stderr


def test_a_malformed_search_is_a_usage_error(db_path):
    SQLiteHandler(db_path, full_text=True).close()
    result = sqlite_logs("--db", str(db_path), "query", "--match", '"unterminated')
    assert result.returncode == 2
    assert "full-text query" in result.stderr and "Traceback" not in result.stderr
