"""The shipping benchmark of docs/performance.md runs (with tiny numbers)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ..conftest import PYTHON, child_env

pytestmark = pytest.mark.slow


def test_the_shipping_benchmark_prints_a_row_per_destination():
    script = Path(__file__).with_name("ship.py")
    result = subprocess.run(
        [PYTHON, str(script), "--records", "500", "--rounds", "1"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [line.split("|")[1].strip() for line in table[1:]] == ["otlp", "postgres"]
    assert "OTLP encoding alone" in result.stdout
