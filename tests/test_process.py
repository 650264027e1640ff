"""Promises about whole processes: a process that logs and exits keeps every record."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import PYTHON, child_env, rows

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).parent / "scripts" / "log_and_exit.py"


def run_child(db_path, count: int, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, str(SCRIPT), str(db_path), str(count), mode],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(("mode", "returncode"), [("return", 0), ("sys_exit", 3), ("raise", 1)])
def test_a_process_that_exits_without_close_keeps_every_record(db_path, mode, returncode):
    result = run_child(db_path, 20_000, mode)
    assert result.returncode == returncode, result.stderr
    assert rows(db_path, "SELECT COUNT(*) FROM logs")[0][0] == 20_000
    assert rows(db_path, "PRAGMA integrity_check")[0][0] == "ok"
    assert "sqlite_logging_handler:" not in result.stderr


def test_os_exit_keeps_what_was_flushed(db_path):
    result = run_child(db_path, 1_000, "os_exit_after_flush")
    assert result.returncode == 1, result.stderr
    assert rows(db_path, "SELECT COUNT(*) FROM logs")[0][0] == 1_000
    assert rows(db_path, "PRAGMA integrity_check")[0][0] == "ok"
