"""writer="process" chosen the ways applications configure logging, and what stays in the
application: hooks run there after the commit, and dead writer processes are reaped.

Real processes throughout: the writer process is the one the handler starts.
"""

from __future__ import annotations

import logging
import logging.config
import os
import signal
import sqlite3
import threading
from pathlib import Path

from sqlite_logging_handler import SQLiteHandler

from ..conftest import make_logger, rows
from .test_writer_process import gone, messages, wait_until


def reaped(pid: int) -> bool:
    """Whether process ``pid`` is gone for good: ended and waited for (no zombie left)."""
    return not Path(f"/proc/{pid}").exists()


def test_dictconfig_chooses_the_writer_process(db_path):
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {
                "db": {
                    "class": "sqlite_logging_handler.SQLiteHandler",
                    "database": str(db_path),
                    "writer": "process",
                },
            },
            "loggers": {"chosen": {"handlers": ["db"], "level": "INFO", "propagate": False}},
        }
    )
    log = logging.getLogger("chosen")
    (handler,) = log.handlers
    assert isinstance(handler, SQLiteHandler)
    try:
        log.info("through dictConfig")
        assert handler.flush(timeout=60)
        pid = handler.stats()["writer_pid"]
        assert handler.writer == "process"
        assert pid is not None and pid != os.getpid()
    finally:
        log.handlers.clear()
        handler.close()
    assert reaped(pid)
    assert messages_of(db_path) == ["through dictConfig"]


def test_fileconfig_kwargs_choose_the_writer_process(tmp_path):
    db = tmp_path / "app.db"
    ini = tmp_path / "logging.ini"
    ini.write_text(
        "[loggers]\nkeys=root,chosen\n\n[handlers]\nkeys=db\n\n[formatters]\nkeys=\n\n"
        "[logger_root]\nlevel=WARNING\nhandlers=\n\n"
        "[logger_chosen]\nlevel=INFO\nhandlers=db\nqualname=chosen\npropagate=0\n\n"
        "[handler_db]\nclass=sqlite_logging_handler.SQLiteHandler\n"
        f"args=({str(db)!r},)\nkwargs={{'writer': 'process'}}\n"
    )
    logging.config.fileConfig(ini, disable_existing_loggers=False)
    log = logging.getLogger("chosen")
    (handler,) = log.handlers
    assert isinstance(handler, SQLiteHandler)
    try:
        log.info("through fileConfig")
        assert handler.flush(timeout=60)
        pid = handler.stats()["writer_pid"]
        assert pid is not None and pid != os.getpid()
    finally:
        log.handlers.clear()
        handler.close()
    assert messages_of(db) == ["through fileConfig"]


def messages_of(db) -> list[str]:
    return [r["message"] for r in rows(db)]


def test_hooks_run_in_the_application_after_the_commit(db_path):
    """A hook sees its rows committed (a fresh connection reads them) and runs here."""
    seen: list[tuple[int, str, list[str]]] = []
    handler = SQLiteHandler(db_path, writer="process", batch_size=10)

    def hook(batch) -> None:
        conn = sqlite3.connect(db_path)
        try:
            stored = [r[0] for r in conn.execute("SELECT message FROM logs ORDER BY id")]
        finally:
            conn.close()
        for row in batch:
            seen.append((os.getpid(), threading.current_thread().name, stored))
            assert row.message in stored

    handler.add_hook(hook)
    log = make_logger(handler)
    try:
        for i in range(25):
            log.info("%d", i)
        assert handler.flush(timeout=60)
        writer_pid = handler.stats()["writer_pid"]
    finally:
        handler.close()
    assert writer_pid is not None and writer_pid != os.getpid()
    assert len(seen) == 25
    assert {pid for pid, _, _ in seen} == {os.getpid()}  # the application's process
    assert all(str(i) in seen[i][2] for i in range(25))  # committed before the hook ran


def test_a_dead_writer_process_is_reaped_and_its_successor_ends_with_close(db_path):
    """Neither a killed writer process nor the last one is left a zombie or running."""
    handler = SQLiteHandler(db_path, writer="process")
    log = make_logger(handler)
    try:
        log.info("0")
        assert handler.flush(timeout=60)
        first = handler.stats()["writer_pid"]
        os.kill(first, signal.SIGKILL)
        log.info("1")
        assert handler.flush(timeout=60)
        second = handler.stats()["writer_pid"]
        assert second not in (None, first)
        assert wait_until(lambda: reaped(first)), "the killed writer process was left a zombie"
    finally:
        handler.close()
    assert gone(second) and reaped(second)
    assert messages(db_path) == [0, 1]
