"""The comparison script of docs/performance.md runs (with tiny numbers)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ..conftest import PYTHON, child_env

pytestmark = pytest.mark.slow


def test_compare_prints_a_row_per_contender():
    script = Path(__file__).with_name("compare.py")
    result = subprocess.run(
        [PYTHON, str(script), "--records", "400", "--rounds", "1", "--threads", "2"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [line.split("|")[1].strip() for line in table[1:]] == [
        "null",
        "file",
        "queue+file",
        "sqlite",
        "sqlite-process",
    ]
