"""Issue 14.11: every entry point leaves one clean database file at exit, without close().

No ``-wal`` or ``-shm`` file is left beside it, and a copy of the database file alone
(as a user copies it off a server) holds every record.
"""

from __future__ import annotations

import shutil

import pytest

from ..conftest import rows
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
