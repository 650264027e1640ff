"""Helpers for the reliability battery: child processes that log, and their results."""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from ..conftest import PYTHON, child_env


def run_python(
    code: str, *args: object, timeout: float = 120, **kwargs
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that imports this checkout; never hangs."""
    return subprocess.run(
        [PYTHON, "-c", textwrap.dedent(code), *map(str, args)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def pytest_collection_modifyitems(items):
    """Every test of the battery is slow: the quick local suite skips it with -m 'not slow'."""
    for item in items:
        if "reliability" in item.nodeid:
            item.add_marker(pytest.mark.slow)
