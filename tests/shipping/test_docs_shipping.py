"""The shipping examples of the docs run, against a real collector and PostgreSQL.

tests/test_docs.py runs the python and bash blocks of every page; the examples that need
a collector or PostgreSQL are ``sh`` and ``py`` blocks, run here with the docs' host
names pointed at the test servers.
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import time

import pytest

from sqlite_logging_handler import MetricsAdapter, SQLiteHandler

from ..conftest import PYTHON, REPO, child_env, make_logger
from .test_postgres import count_logs

pytestmark = pytest.mark.slow

_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
COLLECTOR = "http://collector.internal:4318"
POSTGRES = "postgresql://logs@db.internal/logs"


def examples(language: str) -> list[str]:
    found = []
    for page in ("shipping.md", "cli.md"):
        for lang, code in _BLOCK.findall((REPO / "docs" / page).read_text()):
            if lang == language:
                found.append(code)
    return found


def ship_lines() -> list[str]:
    return [
        line for code in examples("sh") for line in code.splitlines()
        if line.startswith("sqlite-logs ") and " ship " in line
    ]  # fmt: skip


def test_the_docs_have_shipping_examples():
    lines = ship_lines()
    assert any("ship otlp" in line and "--once" not in line for line in lines)
    assert any("ship otlp" in line and "--once" in line for line in lines)
    assert any("ship postgres" in line for line in lines)
    assert any("Shipper(" in code for code in examples("py"))


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    handler = SQLiteHandler("app.db")
    log = make_logger(handler)
    for i in range(20):
        log.info("order %d placed", i, extra={"order_id": i})
    MetricsAdapter(log).increment("orders")
    handler.close()
    return tmp_path / "app.db"


@pytest.mark.parametrize("line", ship_lines())
def test_a_ship_command_of_the_docs_runs(line, app_db, collector, receiver, request):
    if " postgres " in line:
        url = request.getfixturevalue("pg_url")
        line = line.replace(POSTGRES, url)

        def arrived(timeout: float = 0.2) -> bool:
            deadline = time.monotonic() + timeout
            while count_logs(url) < 20:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.05)  # no event to wait on: PostgreSQL is polled
            return True
    else:
        line = line.replace(COLLECTOR, collector.url)

        def arrived(timeout: float = 0.2) -> bool:
            # The collector acknowledges, then exports to the receiver a moment later.
            return bool(receiver.wait_for(lambda: len(receiver.logs) >= 20, timeout=timeout))

    assert COLLECTOR not in line and POSTGRES not in line
    command = [PYTHON, "-m", "sqlite_logging_handler", *shlex.split(line)[1:]]
    process = subprocess.Popen(
        command, cwd=app_db.parent, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        if "--once" not in line:  # a running shipper: stopped as systemd would
            for _ in range(300):
                if arrived() or process.poll() is not None:
                    break
            process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert arrived(timeout=60)


def test_the_python_example_of_the_docs_runs(app_db, collector, receiver):
    (code,) = [code for code in examples("py") if "Shipper(" in code]
    code = code.replace(COLLECTOR, collector.url)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    exec(compile(code, "docs/shipping.md", "exec"), namespace)
    assert namespace["thread"].is_alive() is False  # type: ignore[attr-defined]
