"""Space and time-driven upkeep, checked as a user checks them: file sizes, free pages, rows.

Issue 14.1: pruning must give the space back (``PRAGMA incremental_vacuum`` through
``execute()`` freed one page). Issue 14.2: retention, ``max_rows`` and WAL checkpoints
run by the clock, also while the application logs nothing.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

import pytest

from sqlite_logging_handler import SQLiteHandler, _upkeep, cli

from .conftest import make_logger, rows

MB = 1024 * 1024


def wait_until(condition, timeout: float = 20.0) -> bool:
    """Poll ``condition`` until it holds: nothing signals work done by the clock."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def fill(path: Path, count: int = 20_000, **options) -> None:
    """About 10 MB of records, written through a handler that is then closed."""
    handler = SQLiteHandler(path, batch_size=500, **options)
    log = make_logger(handler)
    for i in range(count):
        log.info("record %d %s", i, "x" * 400)
    handler.close()


def free_pages(path: Path) -> int:
    return int(rows(path, "PRAGMA freelist_count")[0][0])


def file_size(path: Path) -> int:
    """Bytes of the database and its WAL, as ``ls`` shows them."""
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def count(path: Path) -> int:
    return int(rows(path, "SELECT COUNT(*) FROM logs")[0][0])


@pytest.fixture
def quick_upkeep(monkeypatch):
    """The writer's upkeep every 0.2 s instead of every 5 s (new handlers only)."""
    monkeypatch.setattr(_upkeep, "MAINTAIN_EVERY", 0.2)


# -- 14.1: the space comes back --------------------------------------------------------------


@pytest.mark.parametrize("how", [["--keep-rows", "100"], ["--older-than", "1s"]])
def test_prune_from_the_shell_gives_the_space_back(tmp_path, capsys, how):
    path = tmp_path / "big.db"
    fill(path)
    before = file_size(path)
    assert before > 8 * MB  # the premise: megabytes to give back
    if how[0] == "--older-than":
        time.sleep(1.1)  # every record is now older than 1 s
    assert cli.main(["--db", str(path), "prune", *how]) == 0
    out = capsys.readouterr().out
    assert count(path) == (100 if how[0] == "--keep-rows" else 0)
    assert free_pages(path) == 0
    assert file_size(path) < before / 10, out
    assert "gave back" in out


def test_prune_rebuilds_a_database_that_cannot_give_pages_back(tmp_path, capsys):
    """A file made without auto_vacuum (an application's, the seed's) is converted once."""
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    fill(path)  # the handler adds its tables beside the application's
    assert rows(path, "PRAGMA auto_vacuum")[0][0] == 0  # the premise
    before = file_size(path)
    assert cli.main(["--db", str(path), "prune", "--keep-rows", "10"]) == 0
    out = capsys.readouterr().out
    assert free_pages(path) == 0
    assert file_size(path) < before / 10
    assert rows(path, "PRAGMA auto_vacuum")[0][0] == 2  # INCREMENTAL from now on
    assert "VACUUM" in out


def test_vacuum_makes_the_file_incremental_and_compact(tmp_path, capsys):
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.close()
    fill(path, 5_000)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM logs WHERE id > 10")
    conn.commit()
    conn.close()
    assert free_pages(path) > 100
    assert cli.main(["--db", str(path), "vacuum"]) == 0
    assert free_pages(path) == 0
    assert rows(path, "PRAGMA auto_vacuum")[0][0] == 2
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    assert count(path) == 10


def test_max_rows_and_maintain_give_the_space_back_while_the_handler_runs(db_path):
    handler = SQLiteHandler(db_path, batch_size=500, max_rows=100)
    try:
        log = make_logger(handler)
        for i in range(20_000):
            log.info("record %d %s", i, "x" * 400)
        handler.flush()
        handler.maintain()
        assert count(db_path) == 100
        assert free_pages(db_path) == 0
        assert file_size(db_path) < 2 * MB  # was about 10 MB
    finally:
        handler.close()


def test_a_users_auto_vacuum_pragma_that_cannot_apply_is_said(tmp_path, capsys):
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.close()
    SQLiteHandler(path, pragmas={"auto_vacuum": "INCREMENTAL"}).close()
    err = capsys.readouterr().err
    assert f"{path}: auto_vacuum=INCREMENTAL is not in effect" in err
    assert "sqlite-logs vacuum" in err
    assert rows(path, "PRAGMA auto_vacuum")[0][0] == 0  # a VACUUM would be needed


def test_file_format_pragmas_apply_to_a_new_database(db_path):
    """page_size used to be set after the switch to WAL, where SQLite ignores it."""
    SQLiteHandler(db_path, pragmas={"page_size": 8192}).close()
    assert rows(db_path, "PRAGMA page_size")[0][0] == 8192
    assert rows(db_path, "PRAGMA auto_vacuum")[0][0] == 2


# -- 14.2: by the clock, also while nothing is logged -----------------------------------------


def test_max_rows_applies_while_the_application_is_quiet(db_path, quick_upkeep):
    handler = SQLiteHandler(db_path, max_rows=100, batch_size=50, flush_interval=0.05)
    try:
        log = make_logger(handler)
        for i in range(300):
            log.info("burst %d", i)
        assert handler.flush()
        # Nothing more is logged: the writer must still prune, by the clock.
        assert wait_until(lambda: count(db_path) == 100), count(db_path)
        assert [r["message"] for r in rows(db_path)][-1] == "burst 299"
    finally:
        handler.close()


def test_retention_applies_while_the_application_is_quiet(db_path, quick_upkeep):
    handler = SQLiteHandler(db_path, retention="2s", flush_interval=0.05)
    try:
        log = make_logger(handler)
        log.info("ages while nothing else is logged")
        assert handler.flush()
        assert count(db_path) == 1
        assert wait_until(lambda: count(db_path) == 0)
    finally:
        handler.close()


def test_a_restarted_application_prunes_without_logging_again(db_path):
    """Default upkeep interval: the first run is right after the handler starts."""
    old = SQLiteHandler(db_path)
    log = make_logger(old)
    for age in (7200, 7100, 10):
        record = log.makeRecord(log.name, logging.INFO, __file__, 1, f"{age}s old", (), None)
        record.created = time.time() - age
        log.handle(record)
    old.close()
    restarted = SQLiteHandler(db_path, retention="1h")
    try:
        assert wait_until(lambda: count(db_path) == 1, timeout=4.0)  # < MAINTAIN_EVERY
        assert [r["message"] for r in rows(db_path)] == ["10s old"]
    finally:
        restarted.close()


def test_a_short_lived_program_prunes_before_it_exits(db_path):
    """Closed long before the next run by the clock: close() runs the upkeep once more."""
    for run in range(3):
        handler = SQLiteHandler(db_path, max_rows=10)
        log = make_logger(handler)
        for i in range(100):
            log.info("run %d record %d", run, i)
        handler.close()
        assert count(db_path) == 10
    assert rows(db_path)[0]["message"] == "run 2 record 90"


def test_upkeep_waits_out_another_writers_lock_quietly(db_path, quick_upkeep, capsys):
    handler = SQLiteHandler(db_path, max_rows=1, pragmas={"busy_timeout": 50})
    try:
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        for i in range(3):
            other.execute(
                "INSERT INTO logs (timestamp, level, module, message) "
                "VALUES (datetime('now'), 'INFO', 'other', ?)",
                (f"by another writer {i}",),
            )
        other.execute("COMMIT")
        other.execute("BEGIN IMMEDIATE")  # and it keeps the lock
        time.sleep(1.0)  # several runs of the upkeep find the database locked
        assert count(db_path) == 3  # the premise: nothing could be pruned
        other.execute("ROLLBACK")
        other.close()
        assert wait_until(lambda: count(db_path) == 1)
    finally:
        handler.close()
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_an_idle_writer_checkpoints_a_large_wal_without_new_records(db_path, monkeypatch):
    monkeypatch.setattr(_upkeep, "MAINTAIN_EVERY", 0.2)
    monkeypatch.setattr(_upkeep, "WAL_CHECKPOINT_SIZE", 256 * 1024)
    handler = SQLiteHandler(db_path, batch_size=500)
    try:
        log = make_logger(handler)
        reader = sqlite3.connect(db_path)  # another connection: the WAL outlives commits
        for i in range(5_000):
            log.info("record %d %s", i, "x" * 400)
        assert handler.flush()
        reader.execute("SELECT COUNT(*) FROM logs").fetchall()
        wal = Path(f"{db_path}-wal")
        assert wal.stat().st_size > 1 * MB  # the premise
        assert wait_until(lambda: wal.stat().st_size <= 256 * 1024)
        reader.close()
    finally:
        handler.close()
    assert count(db_path) == 5_000


def test_a_large_backlog_is_pruned_in_slices_while_records_keep_coming(db_path, monkeypatch):
    """Rows past retention are deleted a budget at a time, between batches."""
    old = SQLiteHandler(db_path, batch_size=1000)
    log = make_logger(old)
    for i in range(30_000):
        record = log.makeRecord(log.name, logging.INFO, __file__, 1, f"old {i}", (), None)
        record.created = time.time() - 7200
        log.handle(record)
    old.close()
    monkeypatch.setattr(_upkeep, "BUDGET", 0.01)
    handler = SQLiteHandler(db_path, retention="1h", flush_interval=0.05)
    try:
        log = make_logger(handler)
        log.info("new")
        assert handler.flush(timeout=30)
        assert rows(db_path, "SELECT COUNT(*) FROM logs WHERE message = 'new'")[0][0] == 1
        assert wait_until(lambda: count(db_path) == 1 and free_pages(db_path) == 0)
    finally:
        handler.close()
    assert os.path.getsize(db_path) < 1 * MB  # given back, then checkpointed at close


def test_prune_while_a_reader_holds_the_wal_says_so_and_the_space_comes_back_after(
    tmp_path, capsys
):
    """#14 follow-up: it waited ~30 s, then said "gave back 0 B: ... is now 99.0 MB"."""
    path = tmp_path / "big.db"
    fill(path)
    before = file_size(path)
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM logs").fetchone()  # holds its snapshot
    try:
        started = time.monotonic()
        assert cli.main(["--db", str(path), "prune", "--keep-rows", "100"]) == 0
        waited = time.monotonic() - started
        out = capsys.readouterr().out
        assert count(path) == 100
        assert "gave back 0 B" not in out
        assert "a reader" in out and "checkpoint" in out, out
        assert "comes back" in out, out
        assert waited < 20  # it does not wait out the 30 s busy timeout for a reader
    finally:
        reader.execute("COMMIT")
        reader.close()  # the last connection: SQLite checkpoints the WAL as it closes
    assert file_size(path) < before / 10


def test_vacuum_while_a_reader_holds_the_wal_says_so(tmp_path, capsys):
    path = tmp_path / "big.db"
    fill(path)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM logs WHERE id > 100")
    conn.commit()
    conn.close()
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM logs").fetchone()
    try:
        assert cli.main(["--db", str(path), "vacuum"]) == 0
        out = capsys.readouterr().out
        assert "a reader" in out and "comes back" in out, out
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert file_size(path) < 2 * MB


def test_the_writer_gives_space_back_in_slices_one_after_another(db_path, monkeypatch):
    """docs/operations.md: at most RECLAIM_PAGES per slice, slices back to back when idle."""
    fill(db_path)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("DELETE FROM logs")
    freed = free_pages(db_path)
    assert freed > 2 * _upkeep.RECLAIM_PAGES  # the premise: more than two slices
    upkeep = _upkeep.Upkeep(str(db_path), retention=None, max_rows=None)
    assert upkeep.run(conn, idle=True) is True  # one slice, and more is due at once
    assert free_pages(db_path) == freed - _upkeep.RECLAIM_PAGES
    conn.close()
    handler = SQLiteHandler(db_path)  # its writer runs the upkeep when it starts
    try:
        assert wait_until(lambda: free_pages(db_path) == 0, timeout=10)
    finally:
        handler.close()
