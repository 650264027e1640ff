"""writer="process": the application dies while another connection holds the database locked.

The writer process reads end of file and must then write what it received, or give up,
within ``_closing.DRAIN_TIMEOUT`` seconds of the application's end (the child script
tunes it to a few seconds), whatever it was blocked in (waiting for room behind
batches that wait for the lock, a busy retry, a flush); and when it gives up, say on
its own stderr (the application's, inherited) how many records it did not write,
where, and why. Real processes: the application is a child Python, the lock is a
sqlite3 connection of this test process, the kill a SIGKILL.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from ..conftest import PYTHON, child_env, rows
from .test_writer_process import gone, wait_until

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "log_then_die.py"
#: Seconds the child gives its writer process after its own end (DRAIN_TIMEOUT).
BOUND = 2.0
#: Seconds allowed beyond it (a slow, shared machine; the busy timeout under way).
MARGIN = 10.0


def hold_write_lock(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def start_app(
    db_path: Path, count: int, bound: float, stderr, busy_timeout: int = 1000
) -> tuple[subprocess.Popen[str], int]:
    """The child application, its database made; returns it and its writer process's pid."""
    app = subprocess.Popen(
        [PYTHON, str(SCRIPT), str(db_path), str(count), str(bound), str(busy_timeout)],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    assert app.stdout is not None
    words = app.stdout.readline().split()
    assert words[:1] == ["writer"], words
    return app, int(words[1])


def log_then_kill(app: subprocess.Popen[str], *, in_close: bool = False) -> None:
    """Let the child log its records; SIGKILL it once all are in the writer's pipe.

    ``in_close``: kill it during its ``close()``, once the writer process has been
    told its deadline.
    """
    assert app.stdin is not None and app.stdout is not None
    app.stdin.write("go\n")
    app.stdin.flush()
    assert app.stdout.readline() == "sent\n"
    if in_close:
        app.stdin.write("close\n")
        app.stdin.flush()
        assert app.stdout.readline() == "closing\n"
    app.kill()
    app.wait(60)
    app.stdin.close()
    app.stdout.close()


def lost_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "not written to" in line]


def messages(db_path: Path) -> list[str]:
    return [r["message"] for r in rows(db_path, "SELECT message FROM logs ORDER BY id")]


@pytest.mark.parametrize(
    ("count", "busy_timeout"),
    [(500, 1000), (3000, 1000), (3000, 60_000)],
    ids=["queue-not-full", "queue-full", "long-busy-wait"],
)
def test_the_writer_of_a_killed_application_gives_up_in_time_and_says_what_it_lost(
    tmp_path, db_path, count, busy_timeout
):
    """Issue 12: with 3,000 records it stayed as long as the lock; with 500, silent.

    With a busy timeout longer than the bound, the writer is inside SQLite's wait
    for the lock when the bound comes: the process ends all the same.
    """
    err_path = tmp_path / "app-stderr.txt"
    with err_path.open("w") as err:
        app, writer = start_app(db_path, count, BOUND, err, busy_timeout)
    lock = hold_write_lock(db_path)
    try:
        log_then_kill(app)
        killed = time.monotonic()
        ended = wait_until(lambda: gone(writer), BOUND + MARGIN)
        took = time.monotonic() - killed
    finally:
        lock.execute("ROLLBACK")
        lock.close()
        assert wait_until(lambda: gone(writer), 120)  # never leave it behind
    assert ended, f"the writer process outlived its application by more than {BOUND + MARGIN} s"
    assert took >= BOUND - 0.5  # it did wait for the lock meanwhile
    lines = lost_lines(err_path.read_text())
    assert len(lines) == 1, lines
    (line,) = lines
    assert line.startswith(f"sqlite_logging_handler: {count} record(s) not written to {db_path}: ")
    assert "the application ended" in line
    assert "locked by another connection" in line
    assert messages(db_path) == ["start"]  # what it said it lost was never written


def test_the_writer_of_an_application_killed_during_close_says_what_it_lost(tmp_path, db_path):
    """Killed during close(): close()'s own line never comes; the writer process says it."""
    count = 3000
    err_path = tmp_path / "app-stderr.txt"
    with err_path.open("w") as err:
        app, writer = start_app(db_path, count, BOUND, err)
    lock = hold_write_lock(db_path)
    try:
        log_then_kill(app, in_close=True)
        ended = wait_until(lambda: gone(writer), BOUND + MARGIN)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
        assert wait_until(lambda: gone(writer), 120)
    assert ended, f"the writer process outlived its application by more than {BOUND + MARGIN} s"
    lines = lost_lines(err_path.read_text())
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"sqlite_logging_handler: {count} record(s) not written to ")
    assert "locked by another connection" in lines[0]
    assert messages(db_path) == ["start"]


def test_the_writer_of_a_killed_application_writes_everything_once_the_lock_is_released(
    tmp_path, db_path
):
    """Released before the bound: every record stored once, no line about a loss."""
    count, bound = 3000, 30.0
    err_path = tmp_path / "app-stderr.txt"
    with err_path.open("w") as err:
        app, writer = start_app(db_path, count, bound, err)
    lock = hold_write_lock(db_path)
    try:
        log_then_kill(app)
        time.sleep(1.0)  # the writer process waits for the lock meanwhile
        assert not gone(writer)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert wait_until(lambda: gone(writer), bound + MARGIN)
    assert messages(db_path) == ["start"] + [f"r{i}" for i in range(count)]  # each once
    assert lost_lines(err_path.read_text()) == []
    assert rows(db_path, "SELECT COUNT(*) FROM writer_sessions")[0][0] == 0  # ended cleanly
