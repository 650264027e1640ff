"""The soak script runs (for seconds instead of minutes) and its accounting holds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ..conftest import PYTHON, child_env

pytestmark = pytest.mark.slow


def test_a_short_soak_passes_its_own_checks(tmp_path):
    result = subprocess.run(
        [
            PYTHON,
            str(Path(__file__).with_name("soak.py")),
            "--minutes",
            "0.1",
            "--kill-every",
            "2",
            "--db",
            str(tmp_path / "soak.db"),
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "integrity_check: ok; reader errors: 0" in result.stdout
