"""Close leaves an empty WAL, also while a reader keeps the WAL file alive.

A follower (``sqlite-logs tail -F``) or any open ``LogStore`` keeps ``app.db-wal`` in
place after the application closes. Frames left in it (a checkpoint that could only
copy them while the follower was reading) were read over a file copied onto the
database later: ``cp other.db app.db`` read back as the old rows, and the application's
next run appended to them (SQLite's "mispairing", sqlite.org/howtocorrupt.html).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlite_logging_handler import SQLiteHandler

from .conftest import PYTHON, child_env, make_logger

_WAIT = 60.0  # seconds: a watchdog, never reached when the follower works


def write(db: Path, prefix: str, count: int) -> None:
    """Log ``count`` records into ``db`` and close, as an application's run does."""
    handler = SQLiteHandler(db)
    log = make_logger(handler)
    for i in range(count):
        log.warning("%s %d", prefix, i)
    handler.close()


def messages(db: Path) -> list[str]:
    """The messages in ``db``, through a fresh connection, as a user would check."""
    conn = sqlite3.connect(db)
    try:
        return [row[0] for row in conn.execute("SELECT message FROM logs ORDER BY id")]
    finally:
        conn.close()


def test_a_copy_over_a_followed_database_reads_as_copied(tmp_path):
    app, other = tmp_path / "app.db", tmp_path / "other.db"
    write(other, "B", 30)
    write(app, "A", 1)
    follower = subprocess.Popen(
        [PYTHON, "-m", "sqlite_logging_handler", "--db", str(app), "tail", "-F", "-n", "1"],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline().endswith("A 0\n")  # it is following
        write(app, "A", 50)  # a second run of the application, while it follows
        while not follower.stdout.readline().endswith("A 49\n"):
            pass  # each line of the run, until its last
        assert app.with_name("app.db-wal").stat().st_size == 0  # closed: WAL emptied
        shutil.copyfile(other, app)  # cp other.db app.db: a restore
        assert messages(app) == [f"B {i}" for i in range(30)]
    finally:
        follower.terminate()
        follower.wait(timeout=_WAIT)
        if follower.stdout is not None:
            follower.stdout.close()
