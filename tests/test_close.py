"""What close() reports is final (issue 14.3): nothing is written after it returns.

Another connection holds the write lock while the handler closes; close() gives up,
counts what it could not write, and says so. When the lock is released afterwards, the
database must hold exactly what ``stats()["written"]`` says: a user who re-sends the
records reported lost must not get duplicates.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from sqlite_logging_handler import SQLiteHandler, SQLiteLoggingError
from sqlite_logging_handler import handler as handler_module

from .conftest import make_logger, rows


def hold_write_lock(path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def writer_threads() -> list[threading.Thread]:
    names = ("sqlite-logging-writer", "sqlite-logging-listener")
    return [t for t in threading.enumerate() if t.name in names]


def wait_for_writers_to_end(before: list[threading.Thread], timeout: float = 30.0) -> None:
    """Wait until the handler threads started since ``before`` have ended; they must end."""
    for thread in writer_threads():
        if thread not in before:
            thread.join(timeout)
            assert not thread.is_alive()


@pytest.fixture
def short_close(monkeypatch):
    monkeypatch.setattr(handler_module, "CLOSE_TIMEOUT", 1.5)


@pytest.mark.parametrize("busy_timeout", [1_000, 5_000], ids=["default", "long-busy-wait"])
def test_nothing_is_written_after_close_reported_it_unwritten(
    db_path, short_close, capsys, busy_timeout
):
    before = writer_threads()
    handler = SQLiteHandler(db_path, flush_interval=0.05, pragmas={"busy_timeout": busy_timeout})
    log = make_logger(handler)
    log.info("committed before the lock")
    assert handler.flush()
    lock = hold_write_lock(db_path)
    for i in range(50):
        log.info("behind the lock %d", i)
    started = time.monotonic()
    handler.close()
    assert time.monotonic() - started < 10  # bounded
    stats = handler.stats()
    assert (stats["written"], stats["failed"]) == (1, 50)
    assert "with 50 record(s) unwritten" in capsys.readouterr().err
    lock.execute("COMMIT")  # the writer, still waiting inside SQLite, now gets the lock
    lock.close()
    wait_for_writers_to_end(before)
    assert [r["message"] for r in rows(db_path)] == ["committed before the lock"]
    counts = ("emitted", "written", "dropped", "failed")
    assert {k: handler.stats()[k] for k in counts} == {k: stats[k] for k in counts}


def test_records_logged_while_close_gives_up_are_counted_not_written(db_path, short_close):
    """Threads keep logging into the closing handler; every record is in exactly one count."""
    before = writer_threads()
    handler = SQLiteHandler(db_path, batch_size=20, flush_interval=0.05)
    log = make_logger(handler)
    lock = hold_write_lock(db_path)
    stop = threading.Event()

    def keep_logging() -> None:
        while not stop.is_set():
            log.info("racing close")

    threads = [threading.Thread(target=keep_logging) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # let records pile up behind the lock
    handler.close()
    stop.set()
    for thread in threads:
        thread.join()
    lock.execute("COMMIT")
    lock.close()
    wait_for_writers_to_end(before)
    stats = handler.stats()
    assert stats["written"] + stats["dropped"] + stats["failed"] == stats["emitted"]
    assert len(rows(db_path)) == stats["written"]
    assert stats["failed"] > 0  # the premise: close() gave up on some


def test_maintenance_asked_for_during_a_stuck_close_never_runs_after_it(db_path, short_close):
    before = writer_threads()
    handler = SQLiteHandler(db_path, flush_interval=0.05, max_rows=1)
    log = make_logger(handler)
    for i in range(5):
        log.info("kept %d", i)
    assert handler.flush()
    lock = hold_write_lock(db_path)
    log.info("behind the lock")
    outcome: list[BaseException | None] = []

    def maintain() -> None:
        try:
            handler.maintain(timeout=20)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    asker = threading.Thread(target=maintain)
    asker.start()
    time.sleep(0.2)
    handler.close()
    lock.execute("COMMIT")
    lock.close()
    asker.join(30)
    assert isinstance(outcome[0], SQLiteLoggingError)  # refused, not run
    assert "closed" in str(outcome[0])
    wait_for_writers_to_end(before)
    assert len(rows(db_path)) == 5  # nothing pruned after close()


def close_lines(err: str) -> list[str]:
    """The package's stderr lines about records not written."""
    return [
        line
        for line in err.splitlines()
        if line.startswith("sqlite_logging_handler:") and ("unwritten" in line or "not" in line)
    ]


@pytest.mark.parametrize("racing", [False, True], ids=["quiet", "threads-still-logging"])
def test_one_line_at_close_agrees_with_stats_and_names_the_lock(
    db_path, short_close, capsys, racing
):
    """Issue 14.3 follow-up: the lines said 87, then 287, while stats() said 500."""
    before = writer_threads()
    handler = SQLiteHandler(db_path, flush_interval=0.05, batch_size=50)
    log = make_logger(handler)
    log.info("committed before the lock")
    assert handler.flush()
    lock = hold_write_lock(db_path)
    stop = threading.Event()

    def keep_logging() -> None:
        while not stop.is_set():
            log.info("racing close")

    threads = [threading.Thread(target=keep_logging) for _ in range(2 if racing else 0)]
    for i in range(500):
        log.info("behind the lock %d", i)
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # as the tester did: the writer waits for the lock meanwhile
    handler.close()
    failed_at_close = handler.stats()["failed"]
    stop.set()
    for thread in threads:
        thread.join()
    lock.execute("COMMIT")
    lock.close()
    wait_for_writers_to_end(before)
    stats = handler.stats()
    assert stats["failed"] == failed_at_close >= 500  # later records: dropped, not failed
    assert stats["written"] + stats["dropped"] + stats["failed"] == stats["emitted"]
    err = capsys.readouterr().err
    lines = close_lines(err)
    assert len(lines) == 1, err
    assert f"with {stats['failed']} record(s) unwritten" in lines[0]
    assert "locked by another connection or process" in lines[0]
    assert len(rows(db_path)) == stats["written"] == 1


def test_close_gives_up_in_time_behind_a_lock_with_the_writer_queue_full(
    db_path, short_close, capsys
):
    """Issue 12, the application alive: 3,000 records in batches of 500 behind the lock.

    The writer's queue is full (with ``writer="process"``, the writer process's reading
    thread waits for room): close() still gives up by its deadline, says how many
    records it left unwritten and why, and none of them is written afterwards.
    """
    before = writer_threads()
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.info("committed before the lock")
    assert handler.flush()
    lock = hold_write_lock(db_path)
    for i in range(3000):
        log.info("behind the lock %d", i)
    started = time.monotonic()
    handler.close()
    assert time.monotonic() - started < 10  # bounded: CLOSE_TIMEOUT is 1.5 s here
    stats = handler.stats()
    assert (stats["written"], stats["failed"]) == (1, 3000)
    (line,) = close_lines(capsys.readouterr().err)
    assert "with 3000 record(s) unwritten" in line
    assert "locked by another connection or process" in line
    lock.execute("COMMIT")
    lock.close()
    wait_for_writers_to_end(before)
    assert [r["message"] for r in rows(db_path)] == ["committed before the lock"]
