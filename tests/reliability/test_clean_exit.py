"""Issue 14.11: every entry point leaves one clean database file at exit, without close().

No ``-wal`` or ``-shm`` file is left beside it, and a copy of the database file alone
(as a user copies it off a server) holds every record.
"""

from __future__ import annotations

import shutil
import signal
import subprocess

import pytest

from sqlite_logging_handler import SQLiteHandler

from ..conftest import PYTHON, child_env, make_logger, rows
from .conftest import run_python

COUNT = 2_000

PROGRAMS = {
    "handler": """
        import logging, sys
        from sqlite_logging_handler import SQLiteHandler
        log = logging.getLogger("app")
        log.setLevel(logging.INFO)
        log.addHandler(SQLiteHandler(sys.argv[1]))
        for i in range(COUNT):
            log.info("record %d", i)
    """,
    "dictConfig": """
        import logging, logging.config, sys
        logging.config.dictConfig({
            "version": 1,
            "handlers": {"db": {"class": "sqlite_logging_handler.SQLiteHandler",
                                "database": sys.argv[1]}},
            "root": {"handlers": ["db"], "level": "INFO"},
        })
        for i in range(COUNT):
            logging.getLogger("app").info("record %d", i)
    """,
    "MultiThreadedLogger": """
        import sys
        from sqlite_logging_handler import MultiThreadedLogger
        logger = MultiThreadedLogger(sys.argv[1])
        for i in range(COUNT):
            logger.log("INFO", "app", f"record {i}")
        assert len(logger.get_logs(limit=5)) == 5   # its reader is open at exit
    """,
    "MetricsAdapter": """
        import logging, sys
        from sqlite_logging_handler import MetricsAdapter, SQLiteHandler
        log = logging.getLogger("app")
        log.setLevel(logging.INFO)
        log.addHandler(SQLiteHandler(sys.argv[1]))
        metrics = MetricsAdapter(log)
        for i in range(COUNT // 2):
            metrics.increment("requests")
            log.info("record %d", i)
    """,
    "handler.store() left open": """
        import logging, sys
        from sqlite_logging_handler import SQLiteHandler
        handler = SQLiteHandler(sys.argv[1])
        log = logging.getLogger("app")
        log.setLevel(logging.INFO)
        log.addHandler(handler)
        store = handler.store()
        for i in range(COUNT):
            log.info("record %d", i)
        assert store.statistics()["total_logs"] == COUNT
    """,
    "LogStore left open": """
        import logging, sys
        from sqlite_logging_handler import LogStore, SQLiteHandler
        handler = SQLiteHandler(sys.argv[1])
        log = logging.getLogger("app")
        log.setLevel(logging.INFO)
        log.addHandler(handler)
        store = LogStore(sys.argv[1])
        for i in range(COUNT):
            log.info("record %d", i)
        handler.flush()
        assert store.statistics()["total_logs"] == COUNT
    """,
}


@pytest.mark.parametrize("program", PROGRAMS.values(), ids=PROGRAMS.keys())
def test_exit_without_close_leaves_one_clean_file(tmp_path, program):
    db = tmp_path / "n.db"
    result = run_python(f"COUNT = {COUNT}\n" + program.strip().replace("\n        ", "\n"), db)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.db"]
    copy = tmp_path / "copy" / "n.db"
    copy.parent.mkdir()
    shutil.copy(db, copy)  # the file alone, as a user copies it
    stored = rows(copy, "SELECT (SELECT COUNT(*) FROM logs) + (SELECT COUNT(*) FROM metrics)")
    assert stored[0][0] == COUNT


# -- readers (#14.11 follow-up): a read-only connection made -wal and -shm, never removed --

READERS = {
    "LogStore closed": """
        import sys
        from sqlite_logging_handler import LogStore
        store = LogStore(sys.argv[1])
        assert len(store.logs()) == 3
        store.close()
    """,
    "LogStore left open": """
        import sys
        from sqlite_logging_handler import LogStore
        store = LogStore(sys.argv[1])
        assert len(store.logs()) == 3
    """,
    "iter_logs and sql": """
        import sys
        from sqlite_logging_handler import LogStore
        with LogStore(sys.argv[1]) as store:
            assert len(list(store.iter_logs())) == 3
            assert store.sql("SELECT COUNT(*) FROM logs")[0][0] == 3
    """,
    "sqlite-logs stats": "-m sqlite_logging_handler --db {db} stats",
    "sqlite-logs query": "-m sqlite_logging_handler --db {db} query --json",
    "sqlite-logs export": "-m sqlite_logging_handler --db {db} export --format csv",
    "sqlite-logs metrics": "-m sqlite_logging_handler --db {db} metrics",
    "sqlite-logs ship --status": "-m sqlite_logging_handler --db {db} ship --status",
}


@pytest.fixture
def clean_db(tmp_path):
    """A log database that is one clean file, as a handler's close() leaves it."""
    db = tmp_path / "a.db"
    handler = SQLiteHandler(db)
    log = make_logger(handler)
    for i in range(3):
        log.warning("record %d", i)
    handler.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db"]  # the premise
    return db


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_readers_leave_one_clean_file(clean_db, reader):
    before = clean_db.read_bytes()
    if reader.startswith("-m"):
        result = subprocess.run(
            [PYTHON, *reader.format(db=clean_db).split()],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    else:
        result = run_python(reader, clean_db)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in clean_db.parent.iterdir()) == ["a.db"]
    assert clean_db.read_bytes() == before  # nothing written to the database


def test_tail_f_stopped_with_ctrl_c_leaves_one_clean_file(clean_db):
    tail = subprocess.Popen(
        [PYTHON, "-m", "sqlite_logging_handler", "--db", str(clean_db), "tail", "-f"],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert tail.stdout is not None
    for _ in range(3):
        tail.stdout.readline()  # it is following now
    tail.send_signal(signal.SIGINT)
    tail.communicate(timeout=60)
    assert tail.returncode in (0, 130)  # 130: Ctrl-C, as docs/cli.md says
    assert sorted(p.name for p in clean_db.parent.iterdir()) == ["a.db"]


def test_a_reader_leaves_the_files_a_running_writer_uses(clean_db):
    handler = SQLiteHandler(clean_db)
    try:
        make_logger(handler).warning("while a reader comes and goes")
        assert handler.flush()
        result = run_python(READERS["LogStore closed"].replace("== 3", "== 4"), clean_db)
        assert result.returncode == 0, result.stderr
        make_logger(handler).warning("the writer goes on")
        assert handler.flush()
        assert len(rows(clean_db)) == 5
    finally:
        handler.close()
    assert sorted(p.name for p in clean_db.parent.iterdir()) == ["a.db"]


def test_a_wal_holding_records_is_left_for_a_writer(tmp_path):
    """A copy taken off a running server: its WAL holds records; a reader never writes them."""
    source = tmp_path / "live.db"
    handler = SQLiteHandler(source)
    make_logger(handler).warning("only in the WAL")
    assert handler.flush()
    copy = tmp_path / "copy"
    copy.mkdir()
    for suffix in ("", "-wal"):
        shutil.copy(f"{source}{suffix}", copy / f"a.db{suffix}")
    handler.close()
    before = (copy / "a.db").read_bytes()
    result = run_python(READERS["LogStore closed"].replace("== 3", "== 1"), copy / "a.db")
    assert result.returncode == 0, result.stderr
    assert (copy / "a.db").read_bytes() == before
    assert (copy / "a.db-wal").stat().st_size > 0
