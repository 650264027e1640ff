"""Fixtures: real database files in tmp_path, handlers that are always closed.

The whole suite runs with either writer: ``pytest`` uses the default (``"thread"``),
``pytest --writer=process`` (or ``SQLITE_LOGGING_TEST_WRITER=process``) makes
``"process"`` the default of every ``SQLiteHandler`` made in the test process and in
the Python processes the tests start (``tests/writer_mode/sitecustomize.py``).
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sqlite_logging_handler import SQLiteHandler

_names = itertools.count()

REPO = Path(__file__).resolve().parent.parent
WRITER_ENV = "SQLITE_LOGGING_TEST_WRITER"
_WRITER_MODE_PATH = Path(__file__).resolve().parent / "writer_mode"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--writer",
        choices=("thread", "process"),
        default=os.environ.get(WRITER_ENV, "thread"),
        help="the writer every SQLiteHandler uses unless a test says otherwise",
    )


def pytest_configure(config: pytest.Config) -> None:
    mode = config.getoption("--writer")
    os.environ[WRITER_ENV] = mode
    defaults = SQLiteHandler.__init__.__kwdefaults__
    assert defaults is not None
    defaults["writer"] = mode


def pytest_report_header(config: pytest.Config) -> str:
    return f"SQLiteHandler writer: {config.getoption('--writer')}"


def writer_mode() -> str:
    """The writer this run's handlers use by default."""
    return os.environ.get(WRITER_ENV, "thread")


thread_mode_only = pytest.mark.skipif(
    "os.environ.get('SQLITE_LOGGING_TEST_WRITER') == 'process'",
    reason="looks at the writer thread itself; the process writer has its own test",
)


@pytest.fixture(autouse=True)
def _restore_root_logger():
    """Leave the root logger as we found it, whatever a test configured."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers = handlers
    root.setLevel(level)
    # dictConfig and fileConfig disable the loggers that existed before them.
    for existing in logging.root.manager.loggerDict.values():
        if isinstance(existing, logging.Logger):
            existing.disabled = False


@pytest.fixture(autouse=True)
def _collect_what_the_test_left():
    """Collect the test's garbage before the next test starts.

    Python 3.13 warns of an SQLite connection never closed when it is collected; without
    this the warning, an error under ``filterwarnings = error``, would land on whichever
    later test the collector happened to run in, and only some of the time.
    """
    yield
    gc.collect()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where a test's database lives."""
    return tmp_path / "app.db"


@pytest.fixture
def handler(db_path):
    """A started SQLiteHandler on a fresh database; closed after the test."""
    h = SQLiteHandler(db_path, batch_size=50, flush_interval=0.05)
    yield h
    h.close()


@pytest.fixture
def logger(handler):
    """A logger with a unique name whose only handler is ``handler``."""
    log = logging.getLogger(f"tests.{next(_names)}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(handler)
    yield log
    log.removeHandler(handler)


def make_logger(handler: logging.Handler) -> logging.Logger:
    """A fresh DEBUG logger, not propagating, whose only handler is ``handler``."""
    log = logging.getLogger(f"tests.{next(_names)}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(handler)
    return log


def doubled_log_database(path: Path, doublings: int) -> None:
    """A log database at ``path`` of ``2**doublings`` log rows, quick to make at any size.

    One record (a 316-character message, an extra) logged through ``SQLiteHandler``,
    then doubled with SQL ``doublings`` times: 2**17 rows are about 90 MB. Checkpointed,
    so the file itself holds every row.
    """
    handler = SQLiteHandler(str(path))
    log = make_logger(handler)
    log.warning("request handled " + "x" * 300, extra={"user_id": 7})
    handler.close()
    log.removeHandler(handler)
    conn = sqlite3.connect(path)
    try:
        info = conn.execute("PRAGMA table_info(logs)")
        columns = ", ".join(row[1] for row in info if row[1] != "id")
        for _ in range(doublings):
            conn.execute(f"INSERT INTO logs ({columns}) SELECT {columns} FROM logs")
            conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def rows(db_path, sql: str = "SELECT * FROM logs ORDER BY id", params=()) -> list[sqlite3.Row]:
    """Rows read through a fresh sqlite3 connection, as a user would check."""
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def child_env() -> dict[str, str]:
    """Environment for child Python processes that import this checkout (and its writer)."""
    env = dict(os.environ)
    paths = [str(REPO), str(_WRITER_MODE_PATH), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    return env


PYTHON = sys.executable


def sqlite_logs(
    *args: str, env: dict[str, str] | None = None, tz: str | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """``sqlite-logs ARGS`` as a user runs it: a subprocess, its output captured as text.

    Args:
        args: the command line after ``sqlite-logs``.
        env: variables set on top of ``child_env()``, from which $SQLITE_LOGS_DB is
            removed (a test names its database, or sets it here).
        tz: $TZ, if given.
        kw: more of ``subprocess.run``'s arguments (``cwd``, ``input``).
    """
    environment = child_env()
    environment.pop("SQLITE_LOGS_DB", None)
    environment.update(env or {})
    if tz is not None:
        environment["TZ"] = tz
    return subprocess.run(
        [PYTHON, "-m", "sqlite_logging_handler", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )
