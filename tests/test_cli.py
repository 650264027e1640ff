"""sqlite-logs: the demo, exit codes, and the module entry point."""

from __future__ import annotations

import re
import subprocess

import pytest

from sqlite_logging_handler.cli import main

from .conftest import PYTHON, child_env, rows


def test_demo_logs_from_threads_and_prints_a_summary_read_back(tmp_path, capsys):
    db = tmp_path / "demo.db"
    assert main(["demo", "--db", str(db), "--threads", "3", "--duration", "0.3"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"Total Logs: ([\d,]+)", out)
    assert match, out
    total = int(match.group(1).replace(",", ""))
    assert total == rows(db, "SELECT COUNT(*) FROM logs")[0][0] > 0
    for section in [
        "Total Metrics",
        "Logs per second",
        "Logs by Level",
        "Logs by Thread",
        "Sample Logs",
        "Recent Errors",
        "Sample Metrics",
    ]:
        assert section in out
    metrics = int(re.search(r"Total Metrics: ([\d,]+)", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert metrics == rows(db, "SELECT COUNT(*) FROM metrics")[0][0] == total
    threads = {r[0] for r in rows(db, "SELECT DISTINCT thread_name FROM logs")}
    assert threads == {"demo-0", "demo-1", "demo-2"}


def test_demo_writes_system_logs_db_in_the_current_directory_by_default(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--duration", "0.1", "--threads", "1"]) == 0
    assert (tmp_path / "system_logs.db").exists()
    assert "system_logs.db" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["demo", "--threads", "0"], ["demo", "--duration", "soon"], ["nonsense"]]
)
def test_bad_arguments_exit_2_with_a_one_line_error(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("sqlite-logs: error: ") and err.count("\n") == 1


def test_an_unusable_database_exits_1_with_one_line(tmp_path, capsys):
    assert main(["demo", "--db", str(tmp_path), "--duration", "0.1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sqlite-logs: error: cannot use")
    assert "Traceback" not in err


def test_python_dash_m_runs_the_command_line():
    result = subprocess.run(
        [PYTHON, "-m", "sqlite_logging_handler", "--help"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout


def test_lines_are_coloured_by_level_only_when_asked(tmp_path):
    from sqlite_logging_handler import LogStore, SQLiteHandler
    from sqlite_logging_handler._render import log_line, sparkline

    from .conftest import make_logger

    handler = SQLiteHandler(tmp_path / "c.db")
    log = make_logger(handler)
    log.error("red")
    log.info("plain")
    handler.close()
    with LogStore(tmp_path / "c.db") as store:
        plain, error = store.logs()
    assert log_line(error, colour=True).startswith("\033[31m")
    assert log_line(error, colour=True).endswith("\033[0m")
    assert "\033[" not in log_line(plain, colour=True)  # INFO keeps the terminal's colour
    assert "\033[" not in log_line(error)
    assert sparkline([1, None, 8]) == "▁ █"
    assert sparkline([]) == ""
