"""Following the live writer: new commits arrive, idle costs nothing, pruned rows count."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest

from sqlite_logging_handler import SQLiteHandler, _upkeep
from sqlite_logging_handler.shipping import Shipper, ShippingError, shipping_status
from sqlite_logging_handler.shipping import shipper as shipper_module

from ..conftest import make_logger, rows
from .conftest import instance_of

pytestmark = pytest.mark.slow


class Running:
    """A Shipper.run() in a thread, stopped and joined on exit."""

    def __init__(self, shipper: Shipper) -> None:
        self.shipper = shipper
        self.native_id: int | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        self.native_id = threading.get_native_id()
        try:
            self.shipper.run()
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shipper.stop()
        self.thread.join(60)
        assert not self.thread.is_alive()
        assert self.error is None, self.error


def test_everything_committed_while_the_application_logs_arrives(db_path, collector, receiver):
    handler = SQLiteHandler(db_path, flush_interval=0.05)
    log = make_logger(handler)
    log.info("first")
    assert handler.flush(30)

    def application(thread: int) -> None:
        for i in range(2_000):
            log.info("thread %d record %d", thread, i)

    with Running(Shipper(db_path, collector.url, batch_size=300)):
        threads = [threading.Thread(target=application, args=(t,)) for t in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert handler.flush(30)
        assert receiver.wait_for(lambda: len(receiver.log_uids()) >= 6_001, timeout=120)
    handler.close()
    instance = instance_of(db_path)
    assert set(receiver.log_uids()) == {f"{instance}:{i}" for i in range(1, 6_002)}


def _cpu_seconds(native_id: int) -> float:
    """CPU time (user + system) a thread of this process has used, from /proc."""
    with open(f"/proc/self/task/{native_id}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux's /proc")
def test_an_idle_shipper_costs_nothing_and_wakes_at_the_next_commit(db_path, receiver):
    handler = SQLiteHandler(db_path, flush_interval=0.05)
    log = make_logger(handler)
    log.info("before")
    assert handler.flush(30)
    assert shipper_module.IDLE_RECHECK >= 30  # so a quick arrival below is a wake-up
    with Running(Shipper(db_path, receiver.url)) as running:
        assert receiver.wait_for(lambda: len(receiver.logs) == 1)
        assert running.native_id is not None
        before = _cpu_seconds(running.native_id)
        time.sleep(3)  # idle: nothing is logged
        idle_cpu = _cpu_seconds(running.native_id) - before
        requests = len(receiver.requests)
        log.info("after")
        assert handler.flush(30)
        started = time.monotonic()
        assert receiver.wait_for(lambda: len(receiver.logs) == 2, timeout=20)
        woke_after = time.monotonic() - started
    handler.close()
    assert idle_cpu < 0.1  # no busy polling
    assert requests == 1  # nothing was sent while idle
    assert woke_after < 5  # the commit woke it (the periodic recheck is 30 s away)


def test_without_change_notification_it_polls_the_files(db_path, receiver, monkeypatch):
    monkeypatch.setattr("sqlite_logging_handler.shipping._wakeup._watch", lambda directory: None)
    handler = SQLiteHandler(db_path, flush_interval=0.05)
    log = make_logger(handler)
    log.info("before")
    assert handler.flush(30)
    with Running(Shipper(db_path, receiver.url, poll_interval=0.1)) as running:
        assert not running.shipper._waiter.uses_inotify
        assert receiver.wait_for(lambda: len(receiver.logs) == 1)
        log.info("after")
        assert handler.flush(30)
        assert receiver.wait_for(lambda: len(receiver.logs) == 2, timeout=20)
    handler.close()


def _ship_some(db_path, url: str, count: int) -> None:
    """Ship the first ``count`` log rows (batches of 100), then stop."""

    def enough(progress):
        if progress.shipped >= count:
            shipper.stop()

    shipper = Shipper(db_path, url, batch_size=100, on_progress=enough)
    shipper.run_once()


def test_rows_deleted_by_max_rows_before_shipping_are_counted_and_reported(
    db_path, receiver, monkeypatch
):
    monkeypatch.setattr(_upkeep, "MAINTAIN_EVERY", 3600.0)  # pruned by maintain() only
    handler = SQLiteHandler(db_path, max_rows=200)
    handler.maintain()  # the upkeep a writer runs as it starts, done before any record
    log = make_logger(handler)
    for i in range(1, 1_001):
        log.info("record %d", i)
    assert handler.flush(30)
    _ship_some(db_path, receiver.url, 300)
    assert len(receiver.logs) == 300
    handler.maintain()  # max_rows: keeps ids 801..1000; 301..800 were never shipped
    handler.close()
    assert rows(db_path, "SELECT MIN(id), COUNT(*) FROM logs")[0][:] == (801, 200)

    reports: list[str] = []
    totals = Shipper(db_path, receiver.url, report=reports.append).run_once()
    assert totals["logs"] == {"shipped": 200, "pruned": 500, "rejected": 0, "duplicates": 0}
    assert any("500 log rows were deleted" in line and "301..1000" in line for line in reports)
    (status,) = shipping_status(db_path)
    assert (status["logs_pruned"], status["logs_shipped"], status["log_id"]) == (500, 500, 1_000)
    assert sorted(int(r["body"].split()[1]) for r in receiver.logs) == [
        *range(1, 301),
        *range(801, 1_001),
    ]


def test_rows_deleted_at_the_end_before_shipping_are_counted_too(db_path, receiver):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    for i in range(1, 501):
        log.info("record %d", i)
    handler.close()
    _ship_some(db_path, receiver.url, 100)
    from sqlite_logging_handler import cli

    assert cli.main(["--db", str(db_path), "prune", "--older-than", "now"]) == 0  # all of them
    assert rows(db_path, "SELECT COUNT(*) FROM logs")[0][0] == 0

    totals = Shipper(db_path, receiver.url).run_once()
    assert totals["logs"]["pruned"] == 400  # ids 101..500: nothing left to ship, still counted
    assert shipping_status(db_path)[0]["log_id"] == 500


def test_a_database_replaced_at_its_path_is_noticed_and_followed(db_path, receiver):
    """As ``tail -F``: the new file is shipped too, from its own cursor, and it is said."""
    handler = SQLiteHandler(db_path)
    make_logger(handler).info("old file")
    handler.close()
    old_instance = instance_of(db_path)
    reports: list[str] = []
    with Running(Shipper(db_path, receiver.url, report=reports.append)):
        assert receiver.wait_for(lambda: len(receiver.logs) == 1)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{db_path}{suffix}"):
                os.remove(f"{db_path}{suffix}")
        handler = SQLiteHandler(db_path)
        log = make_logger(handler)
        for i in range(5):
            log.info("new file %d", i)
        handler.close()
        assert receiver.wait_for(lambda: len(receiver.logs) == 6, timeout=60)
    new_instance = instance_of(db_path)
    assert new_instance != old_instance
    assert sorted(receiver.log_uids()) == sorted(
        [f"{old_instance}:1"] + [f"{new_instance}:{i}" for i in range(1, 6)]
    )
    assert {r["resource"]["service.instance.id"] for r in receiver.logs[1:]} == {new_instance}
    assert any(f"replaced by a new database (instance {new_instance}" in r for r in reports)
    assert shipping_status(db_path)[0]["log_id"] == 5


def test_a_database_renamed_over_the_followed_one_is_never_corrupted(db_path, receiver):
    """``mv new.db app.db`` while following: the old file's connections go at once (its
    WAL still has the name the new file pairs with), then the new file is followed."""
    handler = SQLiteHandler(db_path)
    make_logger(handler).info("old file")
    handler.close()
    new_path = db_path.with_name("new.db")
    handler = SQLiteHandler(new_path)
    for i in range(3):
        make_logger(handler).info("new file %d", i)
    handler.close()
    new_instance = instance_of(new_path)
    reports: list[str] = []
    with Running(Shipper(db_path, receiver.url, report=reports.append)) as running:
        assert receiver.wait_for(lambda: len(receiver.logs) == 1)
        os.replace(new_path, db_path)
        assert receiver.wait_for(lambda: any("replaced while" in r for r in reports))
        handler = SQLiteHandler(db_path)  # the application opens the path again
        for i in range(3, 5):
            make_logger(handler).info("new file %d", i)
        handler.close()
        assert receiver.wait_for(lambda: len(receiver.logs) == 6, timeout=60)
        assert running.error is None
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT COUNT(*) FROM logs").fetchone()[0] == 5
    finally:
        conn.close()
    assert sorted(u for u in receiver.log_uids() if u.startswith(new_instance)) == sorted(
        f"{new_instance}:{i}" for i in range(1, 6)
    )
    assert shipping_status(db_path)[0]["log_id"] == 5


def test_a_cursor_row_deleted_under_the_shipper_stops_it_with_the_reason(db_path, receiver):
    handler = SQLiteHandler(db_path)
    make_logger(handler).info("one")
    handler.close()
    shipper = Shipper(db_path, receiver.url)
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM ship_cursors")
    conn.commit()
    conn.close()
    with pytest.raises(ShippingError, match=r"cursor of .* is gone from the database"):
        shipper.run_once()
