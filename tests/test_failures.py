"""Bad configuration fails loudly at construction; faults at run time are counted, never raised."""

from __future__ import annotations

import logging
import logging.config
import sqlite3
import threading
import time

import pytest

from sqlite_logging_handler import (
    SchemaVersionError,
    SQLiteHandler,
    SQLiteLoggingError,
    _transactions,
)
from sqlite_logging_handler._transport import ThreadTransport

from .conftest import make_logger, rows, thread_mode_only


def wait_until(condition, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (for conditions no event signals)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class TestConstruction:
    def test_a_directory_is_refused_with_the_path_and_cause(self, tmp_path):
        with pytest.raises(SQLiteLoggingError, match="is a directory") as info:
            SQLiteHandler(tmp_path)
        assert str(tmp_path) in str(info.value)

    def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(self, tmp_path):
        path = tmp_path / "notes.txt"
        content = b"these are my notes, not a database\n" * 200
        path.write_bytes(content)
        with pytest.raises(SQLiteLoggingError, match="not an SQLite database") as info:
            SQLiteHandler(path)
        assert str(path) in str(info.value)
        assert path.read_bytes() == content
        assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]

    def test_an_unreachable_location_is_refused(self, tmp_path):
        blocker = tmp_path / "file"
        blocker.write_text("x")
        with pytest.raises(SQLiteLoggingError, match="is not a directory"):
            SQLiteHandler(blocker / "sub" / "app.db")

    def test_a_database_from_a_newer_schema_is_refused(self, db_path):
        SQLiteHandler(db_path).close()
        conn = sqlite3.connect(db_path)
        conn.execute("PRAGMA user_version = 99")
        conn.close()
        with pytest.raises(SchemaVersionError, match="newer"):
            SQLiteHandler(db_path)

    def test_an_empty_file_is_used(self, db_path):
        db_path.write_bytes(b"")
        handler = SQLiteHandler(db_path)
        make_logger(handler).info("into the empty file")
        handler.close()
        assert [r["message"] for r in rows(db_path)] == ["into the empty file"]

    def test_a_database_with_other_tables_is_shared(self, db_path):
        conn = sqlite3.connect(db_path)
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.execute("INSERT INTO users VALUES ('ada')")
        conn.commit()
        conn.close()
        handler = SQLiteHandler(db_path)
        make_logger(handler).info("beside the users")
        handler.close()
        assert rows(db_path, "SELECT name FROM users")[0][0] == "ada"
        assert len(rows(db_path)) == 1

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"batch_size": 0}, ValueError, "batch_size must be at least 1"),
            ({"batch_size": "500"}, TypeError, "batch_size must be an int"),
            ({"queue_size": -1}, ValueError, "queue_size"),
            ({"flush_interval": 0}, ValueError, "flush_interval"),
            ({"flush_interval": float("inf")}, ValueError, "flush_interval"),
            ({"flush_interval": "1"}, TypeError, "flush_interval"),
            ({"overflow": "wait"}, ValueError, "'block' or 'drop'"),
            ({"pragmas": {"journal_mode; DROP TABLE x": 1}}, ValueError, "identifier"),
            ({"pragmas": {"journal_mode": "WAL; DROP TABLE logs"}}, ValueError, "single word"),
            ({"level": "LOUD"}, ValueError, "LOUD"),
        ],
    )
    def test_bad_arguments_raise_clear_errors(self, db_path, kwargs, error, match):
        with pytest.raises(error, match=match):
            SQLiteHandler(db_path, **kwargs)
        assert not db_path.exists()

    def test_pragmas_override_the_defaults(self, db_path):
        handler = SQLiteHandler(db_path, pragmas={"journal_mode": "DELETE"})
        make_logger(handler).info("x")
        handler.close()
        assert rows(db_path, "PRAGMA journal_mode")[0][0] == "delete"

    def test_defaults_are_wal_and_incremental_auto_vacuum(self, db_path):
        SQLiteHandler(db_path).close()
        assert rows(db_path, "PRAGMA journal_mode")[0][0] == "wal"
        assert rows(db_path, "PRAGMA auto_vacuum")[0][0] == 2  # INCREMENTAL


def emit_many(log: logging.Logger, count: int) -> None:
    for i in range(count):
        log.info("%d", i)


def hold_write_lock(db_path) -> sqlite3.Connection:
    """Another connection that holds the write lock until it is rolled back."""
    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


class TestStalls:
    def test_construction_waits_out_a_lock_held_for_a_while(self, db_path):
        SQLiteHandler(db_path).close()
        lock = hold_write_lock(db_path)
        release = threading.Timer(1.5, lock.rollback)  # longer than the busy timeout
        release.start()
        handler = SQLiteHandler(db_path, pragmas={"busy_timeout": 100})
        release.join()
        lock.close()
        make_logger(handler).info("after the wait")
        handler.close()
        assert len(rows(db_path)) == 1

    def test_construction_gives_up_on_a_lock_held_forever(self, db_path, monkeypatch):
        from sqlite_logging_handler import handler as handler_module

        monkeypatch.setattr(handler_module, "CLOSE_TIMEOUT", 0.5)
        SQLiteHandler(db_path).close()
        lock = hold_write_lock(db_path)
        try:
            with pytest.raises(SQLiteLoggingError, match="database is locked"):
                SQLiteHandler(db_path, pragmas={"busy_timeout": 100})
        finally:
            lock.rollback()
            lock.close()

    def test_flush_with_timeout_gives_up_while_the_database_is_locked(self, db_path):
        handler = SQLiteHandler(db_path, pragmas={"busy_timeout": 50})
        log = make_logger(handler)
        lock = hold_write_lock(db_path)
        log.info("waits for the lock")
        assert handler.flush(timeout=0.3) is False
        lock.rollback()
        lock.close()
        assert handler.flush(timeout=10) is True
        assert [r["message"] for r in rows(db_path)] == ["waits for the lock"]
        handler.close()

    def test_flush_without_timeout_gives_up_on_a_writer_stuck_for_good(self, db_path, monkeypatch):
        """So that logging.shutdown(), which calls flush(), never hangs the exit."""
        from sqlite_logging_handler import handler as handler_module

        monkeypatch.setattr(handler_module, "STALL_TIMEOUT", 0.5)
        handler = SQLiteHandler(db_path, pragmas={"busy_timeout": 50})
        log = make_logger(handler)
        lock = hold_write_lock(db_path)
        log.info("stuck behind the lock")
        started = time.monotonic()
        assert handler.flush() is False
        assert time.monotonic() - started < 10
        lock.rollback()
        lock.close()
        assert handler.flush(timeout=10) is True
        handler.close()
        assert [r["message"] for r in rows(db_path)] == ["stuck behind the lock"]

    def test_drop_mode_never_waits_and_counts_what_it_drops(self, db_path):
        handler = SQLiteHandler(
            db_path, batch_size=10, queue_size=100, overflow="drop", pragmas={"busy_timeout": 50}
        )
        log = make_logger(handler)
        lock = hold_write_lock(db_path)
        caller = threading.Thread(target=emit_many, args=(log, 3000))
        caller.start()
        caller.join(timeout=30)
        assert not caller.is_alive()
        lock.rollback()
        lock.close()
        assert handler.flush(timeout=30)
        stats = handler.stats()
        assert stats["dropped"] > 0
        assert stats["written"] + stats["dropped"] + stats["failed"] == stats["emitted"] == 3000
        assert len(rows(db_path)) == stats["written"]
        handler.close()

    def test_block_mode_waits_only_while_full_and_stores_everything(self, db_path):
        handler = SQLiteHandler(
            db_path, batch_size=10, queue_size=100, overflow="block", pragmas={"busy_timeout": 50}
        )
        log = make_logger(handler)
        lock = hold_write_lock(db_path)
        caller = threading.Thread(target=emit_many, args=(log, 1000))
        caller.start()
        assert wait_until(lambda: handler._queue is not None and handler._queue.full())
        assert caller.is_alive()  # it is waiting for room
        lock.rollback()
        lock.close()
        caller.join(timeout=30)
        assert not caller.is_alive()
        assert handler.flush(timeout=30)
        assert [int(r["message"]) for r in rows(db_path)] == list(range(1000))
        assert handler.stats()["dropped"] == 0
        handler.close()


class TestFaults:
    def test_disk_full_is_counted_reported_and_writing_resumes(self, db_path, monkeypatch, capsys):
        monkeypatch.setattr(_transactions, "RETRY_FOR", 0.3)
        conn = sqlite3.connect(db_path)
        conn.execute("CREATE TABLE ballast (b BLOB)")
        conn.executemany("INSERT INTO ballast VALUES (zeroblob(3000))", [()] * 100)
        conn.commit()
        handler = SQLiteHandler(db_path, batch_size=50)  # creates the log tables
        handler.close()
        pages = rows(db_path, "PRAGMA page_count")[0][0]

        handler = SQLiteHandler(db_path, batch_size=50, pragmas={"max_page_count": pages + 2})
        log = make_logger(handler)
        for i in range(2000):
            log.info("filling the disk %d %s", i, "x" * 200)
        assert handler.flush(timeout=60) is False  # some records could not be written
        stats = handler.stats()
        assert stats["failed"] > 0
        assert stats["written"] + stats["failed"] == stats["emitted"] == 2000
        assert "could not be written" in capsys.readouterr().err

        conn.execute("DELETE FROM ballast")  # frees pages for reuse
        conn.commit()
        conn.close()
        log.info("after the disk was freed")
        assert handler.flush(timeout=60) is True
        assert rows(db_path, "SELECT message FROM logs ORDER BY id DESC LIMIT 1")[0][0] == (
            "after the disk was freed"
        )
        assert len(rows(db_path)) == handler.stats()["written"]
        handler.close()

    def test_the_caller_never_sees_a_write_error(self, db_path, monkeypatch):
        monkeypatch.setattr(_transactions, "RETRY_FOR", 0.1)
        handler = SQLiteHandler(db_path, batch_size=5)
        log = make_logger(handler)
        conn = sqlite3.connect(db_path)
        conn.execute(  # every insert now fails
            "CREATE TRIGGER refuse BEFORE INSERT ON logs BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
        conn.close()
        for i in range(50):
            log.info("%d", i)
        assert handler.flush(timeout=30) is False
        stats = handler.stats()
        assert stats["failed"] == stats["emitted"] == 50
        handler.close()

    def test_a_log_table_dropped_while_running_is_made_again(self, db_path):
        """As a removed file is: the writer reconnects, and the schema is put back."""
        handler = SQLiteHandler(db_path, batch_size=5)
        log = make_logger(handler)
        log.info("before")
        assert handler.flush()
        conn = sqlite3.connect(db_path)
        conn.execute("DROP TABLE logs")
        conn.close()
        for i in range(50):
            log.info("%d", i)
        assert handler.flush(timeout=30)
        handler.close()
        assert len(rows(db_path)) == 50
        assert handler.stats()["failed"] == 0

    def test_close_is_bounded_when_the_database_stays_locked(self, db_path, monkeypatch, capsys):
        from sqlite_logging_handler import handler as handler_module

        monkeypatch.setattr(handler_module, "CLOSE_TIMEOUT", 1.0)
        handler = SQLiteHandler(db_path, pragmas={"busy_timeout": 50})
        log = make_logger(handler)
        lock = hold_write_lock(db_path)
        for i in range(100):
            log.info("%d", i)
        started = time.monotonic()
        handler.close()
        assert time.monotonic() - started < 10
        lock.rollback()
        lock.close()
        stats = handler.stats()
        assert stats["failed"] == 100
        assert "unwritten" in capsys.readouterr().err


def test_sqlite_workers_own_logger_never_feeds_back(db_path):
    """sqlite-worker logs query errors on 'SqliteWorker'; a root handler must ignore them."""
    handler = SQLiteHandler(db_path)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.getLogger("SqliteWorker").error("Query error: %s", "INSERT ...")
    logging.getLogger("app").info("real record")
    handler.flush()
    assert [r["message"] for r in rows(db_path)] == ["real record"]
    assert handler.stats()["emitted"] == 1
    root.removeHandler(handler)
    handler.close()


def test_a_database_file_removed_while_running_is_recreated(db_path, capsys):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.info("into the first file")
    assert handler.flush()
    for suffix in ("", "-wal", "-shm"):
        path = db_path.with_name(db_path.name + suffix)
        if path.exists():
            path.unlink()
    log.info("into the new file")
    assert handler.flush()
    assert [r["message"] for r in rows(db_path)] == ["into the new file"]
    assert "removed or replaced" in capsys.readouterr().err
    handler.close()


@thread_mode_only
def test_a_dead_writer_thread_is_detected_and_replaced(handler, logger, db_path):
    transport = handler._transport
    assert isinstance(transport, ThreadTransport)
    writer = transport.writer
    writer._worker.stop(time.monotonic() + 5)  # the thread ends, as if it had died
    assert not writer._worker.is_alive()
    for i in range(10):
        logger.info("%d", i)
    assert handler.flush(timeout=10)
    assert len(rows(db_path)) == 10
    assert handler.stats()["writer_restarts"] == 1


def test_reconfiguring_logging_closes_the_old_handler_without_losing_records(tmp_path):
    def configure(name: str) -> None:
        logging.config.dictConfig(
            {
                "version": 1,
                "handlers": {
                    "db": {
                        "class": "sqlite_logging_handler.SQLiteHandler",
                        "database": str(tmp_path / name),
                        "flush_interval": 60,
                    }
                },
                "root": {"handlers": ["db"], "level": "INFO"},
            }
        )

    configure("first.db")
    for i in range(500):
        logging.getLogger("reconfigured").info("%d", i)
    configure("second.db")  # closes the first handler under logging's lock
    logging.getLogger("after").info("into the second")  # "reconfigured" is now disabled
    logging.getLogger().handlers[0].flush()
    assert len(rows(tmp_path / "first.db")) == 500
    assert [r["message"] for r in rows(tmp_path / "second.db")] == ["into the second"]
