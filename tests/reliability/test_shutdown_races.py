"""Scenario 8: close() races with itself, with emitters and with logging.shutdown()."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from pathlib import Path

from sqlite_logging_handler import SQLiteHandler

from ..conftest import make_logger, rows, writer_mode


def test_records_emitted_during_and_after_close_are_all_accounted_for(db_path):
    handler = SQLiteHandler(db_path, batch_size=20)
    log = make_logger(handler)
    start = threading.Barrier(5)

    def emit_forever() -> None:
        start.wait()
        for i in range(3000):
            log.info("%d", i)

    emitters = [threading.Thread(target=emit_forever) for _ in range(4)]
    for t in emitters:
        t.start()
    start.wait()
    closers = [threading.Thread(target=handler.close) for _ in range(3)]
    for t in closers:
        t.start()
    for t in emitters + closers:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in emitters + closers)

    stats = handler.stats()
    assert stats["emitted"] == 12_000
    assert stats["written"] + stats["dropped"] + stats["failed"] == 12_000
    assert stats["failed"] == 0  # what was accepted before close() was written
    assert len(rows(db_path)) == stats["written"]


def test_logging_shutdown_after_a_manual_close_and_the_reverse(db_path, capsys):
    first = SQLiteHandler(db_path)
    make_logger(first).info("closed by hand first")
    first.close()
    logging.shutdown([weakref.ref(first)])

    second = SQLiteHandler(db_path)
    make_logger(second).info("shut down first")
    logging.shutdown([weakref.ref(second)])
    second.close()

    assert [r["message"] for r in rows(db_path)] == ["closed by hand first", "shut down first"]
    assert capsys.readouterr().err == ""


def test_a_thousand_handlers_created_and_closed_leak_nothing(tmp_path):
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    def children() -> int:  # writer processes not reaped would stay here, as zombies
        return len(Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split())

    # A writer process is a fresh interpreter (about 0.3 s to start here): fewer of them.
    count = 1000 if writer_mode() == "thread" else 100
    SQLiteHandler(tmp_path / "warm.db").close()
    threads, fds, processes = threading.active_count(), open_fds(), children()
    for i in range(count):
        handler = SQLiteHandler(tmp_path / f"{i % 4}.db")
        if i % 10 == 0:
            make_logger(handler).info("x")
        handler.close()
    assert threading.active_count() <= threads
    assert open_fds() <= fds
    assert children() <= processes
    assert sum(len(rows(tmp_path / f"{i}.db")) for i in range(4)) == count // 10
