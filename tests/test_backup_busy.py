"""A backup of a database an application keeps writing to finishes (#15).

SQLite's online backup API, run in steps, starts over whenever another connection
writes between two steps: with a writer committing every few tens of milliseconds, a
database of 90 megabytes was never copied. The copy is now one read transaction.
Real processes: an application logging through ``SQLiteHandler`` and committing every
20 ms, and ``sqlite-logs backup`` run beside it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import PYTHON, child_env, doubled_log_database, rows

pytestmark = pytest.mark.slow

_DOUBLINGS = 17  # 131,072 log rows, about 90 MB
_COUNT = "SELECT COUNT(*) FROM logs"
_BOUND = 60.0  # seconds: a copy of 90 MB takes well under one, even on a slow machine

_APPLICATION = """
import logging, sys, time
from sqlite_logging_handler import SQLiteHandler
handler = SQLiteHandler(sys.argv[1])
log = logging.getLogger("busy")
log.propagate = False
log.addHandler(handler)
log.warning("busy writer started")
handler.flush()
print("ready", flush=True)
while True:
    log.warning("busy writer")
    handler.flush()  # one commit
    time.sleep(0.02)
"""


def test_backup_of_a_database_written_every_20ms_finishes(tmp_path: Path) -> None:
    source = tmp_path / "app.db"
    doubled_log_database(source, _DOUBLINGS)
    application = subprocess.Popen(
        [PYTHON, "-c", _APPLICATION, str(source)],
        env=child_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert application.stdout is not None
        assert application.stdout.readline() == "ready\n"
        before = rows(source, _COUNT)[0][0]
        copy = tmp_path / "bk.db"
        started = time.monotonic()
        backup = subprocess.run(
            [PYTHON, "-m", "sqlite_logging_handler", "--db", str(source), "backup", str(copy)],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=_BOUND,
        )
        took = time.monotonic() - started
        assert backup.returncode == 0, backup.stderr
        after = rows(source, _COUNT)[0][0]
    finally:
        application.kill()
        application.wait()
        if application.stdout is not None:
            application.stdout.close()
    assert after > before  # the application committed while the copy was made
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM logs").fetchone()[0] >= before
    finally:
        conn.close()
    assert took < _BOUND
