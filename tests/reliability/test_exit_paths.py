"""Scenario 1: however a process ends, every record it emitted is stored."""

from __future__ import annotations

import pytest

from ..conftest import rows
from .conftest import run_python

SETUP = """
import logging, os, sys, threading
from sqlite_logging_handler import SQLiteHandler
db = sys.argv[1]
handler = SQLiteHandler(db, flush_interval=60)   # only the exit path can write them
log = logging.getLogger("exit")
log.setLevel(logging.INFO)
log.addHandler(handler)
"""


@pytest.mark.parametrize(
    ("ending", "returncode"),
    [
        ("pass", 0),
        ("sys.exit(4)", 4),
        ("raise RuntimeError('uncaught')", 1),
        ("threading.Thread(target=lambda: sys.exit(0)).start()", 0),
    ],
    ids=["normal", "sys.exit", "uncaught-exception", "sys.exit-in-thread"],
)
def test_every_record_is_stored_however_the_main_thread_ends(db_path, ending, returncode):
    code = (
        SETUP
        + f"""
for i in range(5000):
    log.info("record %d", i)
{ending}
"""
    )
    result = run_python(code, db_path)
    assert result.returncode == returncode, result.stderr
    assert rows(db_path, "SELECT COUNT(*) FROM logs")[0][0] == 5000


def test_a_non_main_thread_still_logging_at_exit_keeps_its_records(db_path):
    """Python waits for non-daemon threads before logging.shutdown(): all are stored."""
    code = (
        SETUP
        + """
def late_worker():
    for i in range(20000):
        log.info("late %d", i)

threading.Thread(target=late_worker).start()
log.info("main thread done")
"""
    )
    result = run_python(code, db_path)
    assert result.returncode == 0, result.stderr
    assert rows(db_path, "SELECT COUNT(*) FROM logs")[0][0] == 20001


def test_a_daemon_thread_keeps_what_it_emitted_before_exit(db_path):
    """A daemon thread that logged and is still running at exit loses nothing it emitted."""
    code = (
        SETUP
        + """
emitted = threading.Event()
def daemon_worker():
    for i in range(3000):
        log.info("daemon %d", i)
    emitted.set()
    threading.Event().wait()   # still running when the interpreter exits

threading.Thread(target=daemon_worker, daemon=True).start()
emitted.wait()
"""
    )
    result = run_python(code, db_path)
    assert result.returncode == 0, result.stderr
    assert rows(db_path, "SELECT COUNT(*) FROM logs")[0][0] == 3000


def test_exit_without_any_record_leaves_a_valid_empty_database(db_path):
    result = run_python(SETUP, db_path)
    assert result.returncode == 0, result.stderr
    assert rows(db_path, "SELECT COUNT(*) FROM logs")[0][0] == 0
    assert result.stderr == ""
