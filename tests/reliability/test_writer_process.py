"""writer="process": crashes both ways, fork, exit paths and a writer process that cannot start.

Real processes throughout: the application is a child Python (or this test process),
the writer process is the one the handler starts, and kills are SIGKILLs.
"""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sqlite_logging_handler import SQLiteHandler, _process_link
from sqlite_logging_handler._process_transport import MAX_DEATHS, ProcessTransport

from ..conftest import PYTHON, child_env, make_logger, rows
from .conftest import run_python


def wait_until(condition, timeout: float = 60.0) -> bool:
    """Poll ``condition`` until it holds (for conditions no event signals)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie waiting for init counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def messages(db_path) -> list[int]:
    return [int(r["message"]) for r in rows(db_path, "SELECT message FROM logs ORDER BY id")]


SENDING_APP = """
import logging, os, sys
from sqlite_logging_handler import SQLiteHandler, _process_transport

# Nothing is committed before the end: only the writer process's drain can store them.
handler = SQLiteHandler(sys.argv[1], writer="process", flush_interval=60, batch_size=100_000)
print("writer", handler.stats()["writer_pid"], flush=True)
push = _process_transport.ProcessTransport._push

def reported_push(self, message):
    push(self, message)  # returns once the message is in the pipe
    if message.rows:
        print("sent", message.first_log + message.logs - 1, flush=True)

_process_transport.ProcessTransport._push = reported_push
log = logging.getLogger("app")
log.setLevel(logging.INFO)
log.addHandler(handler)
i = 0
while True:
    log.info("%d", i)
    i += 1
    if sys.argv[2] == "os._exit" and i == 30_000:
        os._exit(7)
"""


@pytest.mark.parametrize("ending", ["SIGKILL", "os._exit"])
def test_the_writer_process_stores_everything_sent_when_the_application_dies(db_path, ending):
    app = subprocess.Popen(
        [PYTHON, "-c", SENDING_APP, str(db_path), ending],
        env=child_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert app.stdout is not None
    writer_pid = int(app.stdout.readline().split()[1])
    sent = 0
    for line in app.stdout:
        if not line.endswith("\n"):  # the last line, cut short by os._exit mid-print
            break
        sent = int(line.split()[1])
        if ending == "SIGKILL" and sent >= 20_000:
            app.kill()
            break
    app.wait(timeout=60)
    app.stdout.close()
    assert app.returncode == (-signal.SIGKILL if ending == "SIGKILL" else 7)
    assert sent >= (20_000 if ending == "SIGKILL" else 1)
    assert wait_until(lambda: gone(writer_pid)), "the writer process outlived its application"
    stored = messages(db_path)
    assert len(stored) >= sent  # everything the listener had sent, nothing else lost
    assert stored == list(range(len(stored)))  # in order, no gaps, no duplicates
    assert rows(db_path, "PRAGMA integrity_check")[0][0] == "ok"
    assert rows(db_path, "SELECT COUNT(*) FROM writer_sessions")[0][0] == 0  # it ended cleanly


def test_a_writer_process_killed_mid_stream_is_replaced_and_stores_everything_once(db_path):
    handler = SQLiteHandler(db_path, writer="process", batch_size=50)
    log = make_logger(handler)
    killed: list[int] = []
    try:
        for i in range(30_000):
            log.info("%d", i)
            if i % 7_000 == 3_000:  # while records are in flight
                # The one killed before may still be named while its successor starts.
                assert wait_until(lambda: handler.stats()["writer_pid"] not in (None, *killed))
                pid = handler.stats()["writer_pid"]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        assert handler.flush(timeout=120)
        stats = handler.stats()
    finally:
        handler.close()
    assert messages(db_path) == list(range(30_000))  # each once, in order
    assert stats["written"] == stats["emitted"] == 30_000
    assert stats["failed"] == 0
    assert stats["writer_restarts"] >= len(killed) == 4
    assert stats["writer_pid"] not in killed


def test_rows_committed_but_not_acknowledged_are_not_stored_twice(db_path):
    """The writer process commits, its answer is not read yet, and it dies.

    A hook that blocks keeps the application from reading the answers; the writer
    process commits until its answers fill their pipe and block it right after a
    commit. Killed there, it leaves committed rows the application still holds: the
    next writer process must skip them (they are recorded in writer_sessions).
    """
    release = threading.Event()
    handler = SQLiteHandler(db_path, writer="process", batch_size=1)
    handler.add_hook(lambda rows: release.wait(60))
    log = make_logger(handler)
    try:
        for i in range(3_000):
            log.info("%d", i)

        def committed() -> int:
            return int(rows(db_path, "SELECT COUNT(*) FROM logs")[0][0])

        def stalled() -> bool:  # the writer process waits on its full answer pipe
            before = committed()
            time.sleep(0.5)
            return committed() == before > 0

        assert wait_until(stalled)
        assert committed() < 3_000
        os.kill(handler.stats()["writer_pid"], signal.SIGKILL)
        release.set()
        assert handler.flush(timeout=120)
        stats = handler.stats()
    finally:
        release.set()
        handler.close()
    assert messages(db_path) == list(range(3_000))
    assert stats["written"] == stats["emitted"] == 3_000
    assert stats["writer_restarts"] == 1


def test_writer_processes_killed_as_they_start_end_in_writing_in_process(db_path, capfd):
    """As an out-of-memory killer might: after a few, the handler writes in-process."""
    handler = SQLiteHandler(db_path, writer="process")
    log = make_logger(handler)
    stop = threading.Event()

    def kill_every_writer_process() -> None:
        while not stop.is_set():
            pid = handler.stats()["writer_pid"]
            if pid is not None and not gone(pid):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)

    killer = threading.Thread(target=kill_every_writer_process)
    try:
        killer.start()
        for i in range(2_000):
            log.info("%d", i)
        assert handler.flush(timeout=120)
        stats = handler.stats()
    finally:
        stop.set()
        killer.join()
        handler.close()
    assert messages(db_path) == list(range(2_000))
    assert stats["written"] == stats["emitted"] == 2_000
    assert stats["writer_pid"] is None
    err = capfd.readouterr().err
    assert "writer processes in a row died before they were ready" in err
    assert "writing in this process instead" in err


def test_a_message_every_writer_process_dies_on_is_given_up_not_sent_for_ever(db_path, capfd):
    """Writer processes that die holding the same rows, settling none: after MAX_DEATHS
    of them the oldest message (a chunk of the records) is counted as failed."""
    handler = SQLiteHandler(db_path, writer="process", pragmas={"busy_timeout": 50})
    log = make_logger(handler)
    transport = handler._transport
    assert isinstance(transport, ProcessTransport)
    lock = sqlite3.connect(db_path, isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")  # the writer processes can settle nothing
        for i in range(100):
            log.info("%d", i)
        killed: list[object] = []
        for _ in range(MAX_DEATHS):  # each writer process, once it has the rows
            assert wait_until(
                lambda: transport._link not in killed and transport._link.ready.is_set()
            )
            killed.append(transport._link)
            os.kill(transport._link.pid, signal.SIGKILL)
        assert wait_until(lambda: handler.stats()["failed"] > 0)
        lock.execute("ROLLBACK")
        log.info("after the deaths")
        assert handler.flush(timeout=60) is False  # records failed since the last flush
        stats = handler.stats()
    finally:
        lock.close()
        handler.close()
    failed = stats["failed"]
    assert 0 < failed <= 100
    assert stats["written"] + failed == stats["emitted"] == 101
    stored = [r["message"] for r in rows(db_path)]
    assert stored == [str(i) for i in range(failed, 100)] + ["after the deaths"]
    assert f"{failed} record(s) could not be written" in capfd.readouterr().err


FORKING_APP = """
import logging, os, sys, time
from sqlite_logging_handler import SQLiteHandler
handler = SQLiteHandler(sys.argv[1], writer="process")
log = logging.getLogger("app")
log.setLevel(logging.INFO)
log.addHandler(handler)
log.info("parent before fork")
assert handler.flush(timeout=60)
parent_writer = handler.stats()["writer_pid"]
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(read)
    null = os.open(os.devnull, os.O_WRONLY)   # let the test see the parent's end alone
    os.dup2(null, 1)
    os.dup2(null, 2)
    for i in range(1000):
        log.info("child %d", i)
    assert handler.flush(timeout=60)
    child_writer = handler.stats()["writer_pid"]
    os.write(write, f"{child_writer}\\n".encode())
    for i in range(500):
        log.info("late child %d", i)
    time.sleep(float(sys.argv[2]))   # outlives the parent
    os._exit(0 if handler.flush(timeout=60) else 3)
os.close(write)
child_writer, _ = os.read(read, 100).decode().split("\\n", 1)
log.info("parent after fork")
assert handler.flush(timeout=60)
print(parent_writer, child_writer, pid, flush=True)
os._exit(0)   # the parent goes first, without close(): its writer process sees EOF
"""


def test_a_forked_child_gets_a_writer_process_of_its_own_and_lets_go_of_the_parents(db_path):
    result = run_python(FORKING_APP, db_path, 3.0)
    assert result.returncode == 0, result.stderr
    parent_writer, child_writer, child = map(int, result.stdout.split())
    assert parent_writer != child_writer
    # The parent is gone; its writer process ends although the child still holds
    # what it inherited: the child closed its copies of the pipes.
    assert wait_until(lambda: gone(parent_writer), timeout=2.5)
    assert not gone(child)
    assert wait_until(lambda: gone(child) and gone(child_writer))
    count = "SELECT COUNT(*) FROM logs WHERE message LIKE ?"
    assert rows(db_path, count, ("child %",))[0][0] == 1000
    assert rows(db_path, count, ("late child %",))[0][0] == 500
    assert rows(db_path, count, ("parent %",))[0][0] == 2


@pytest.fixture
def no_interpreter(tmp_path, monkeypatch):
    """Point sys.executable at something that cannot serve as the writer process."""

    def use(script: str) -> None:
        fake = tmp_path / "python"
        fake.write_text(script)
        fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setattr(sys, "executable", str(fake))

    return use


@pytest.mark.parametrize(
    ("script", "cause"),
    [
        ("", "is not an executable file"),  # not executable: checked before starting
        ("#!/bin/sh\nexit 1\n", "ended before it was ready"),
        ("#!/bin/sh\nexec sleep 600\n", "not ready within the time allowed"),  # never answers
    ],
    ids=["not-executable", "exits", "hangs"],
)
def test_without_a_writer_process_it_says_so_once_and_writes_in_process(
    db_path, no_interpreter, monkeypatch, capfd, script, cause
):
    monkeypatch.setattr(_process_link, "START_TIMEOUT", 1.0)
    if script:
        no_interpreter(script)
    else:
        no_interpreter("#!/bin/sh\n")
        Path(sys.executable).chmod(0o644)
    handler = SQLiteHandler(db_path, writer="process")
    log = make_logger(handler)
    try:
        for i in range(2_000):
            log.info("%d", i)
        assert handler.flush(timeout=60)
        stats = handler.stats()
        for i in range(2_000, 2_100):
            log.info("%d", i)
    finally:
        handler.close()
    assert messages(db_path) == list(range(2_100))
    assert stats["written"] == stats["emitted"] == 2_000
    assert stats["writer_pid"] is None
    err = capfd.readouterr().err
    assert err.count("cannot start a writer process") == 1
    assert cause in err


def test_an_in_memory_database_is_written_by_a_thread(capfd):
    """Another process cannot reach this process's memory: documented, not an error."""
    handler = SQLiteHandler(":memory:", writer="process")
    try:
        make_logger(handler).info("kept in memory")
        with handler.store() as store:
            assert [row.message for row in store.logs()] == ["kept in memory"]
        assert handler.stats()["writer_pid"] is None
    finally:
        handler.close()
    assert capfd.readouterr().err == ""


def test_the_writer_process_ignores_the_signals_a_terminal_or_service_manager_sends(db_path):
    handler = SQLiteHandler(db_path, writer="process", flush_interval=60)
    log = make_logger(handler)
    try:
        log.info("before the signals")
        assert handler.flush(timeout=60)
        pid = handler.stats()["writer_pid"]
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            os.kill(pid, number)
        log.info("after the signals")
        assert handler.flush(timeout=60)
        assert handler.stats()["writer_pid"] == pid
        assert handler.stats()["writer_restarts"] == 0
    finally:
        handler.close()
    assert gone(pid)
    assert [r["message"] for r in rows(db_path)] == ["before the signals", "after the signals"]


def test_the_writer_process_takes_records_off_the_application_while_it_cannot_write(db_path):
    """A writer held up (here: the write lock held elsewhere) keeps reading the pipe, so
    the records wait in it, pickled, not in the application's queue; all are stored."""
    handler = SQLiteHandler(db_path, writer="process", pragmas={"busy_timeout": 50})
    log = make_logger(handler)
    count = 40_000  # well past what the pipe (1 MiB) and the writer's batches hold
    lock = sqlite3.connect(db_path, isolation_level=None)
    try:
        assert handler.flush(timeout=60)  # the writer process is up, the schema made
        lock.execute("BEGIN IMMEDIATE")  # the writer process can commit nothing
        for i in range(count):
            log.info("%d", i)
        queue = handler._queue
        assert queue is not None
        assert wait_until(lambda: queue.qsize() == 0, timeout=30)
        assert rows(db_path, "SELECT COUNT(*) FROM logs")[0][0] == 0  # nothing committed
        lock.execute("ROLLBACK")
        assert handler.flush(timeout=120)
    finally:
        lock.close()
        handler.close()
    assert messages(db_path) == list(range(count))


@pytest.fixture
def slow_to_store_the_link(monkeypatch):
    """Start writer processes as a busy machine may: the thread starting one is not run
    again until the writer process has answered READY (the answer waits in its pipe)."""
    start = ProcessTransport._start

    def start_and_be_descheduled(self, *, resuming):
        link = start(self, resuming=resuming)
        readable, _, _ = select.select([link._acks], [], [], 60.0)
        assert readable, "the writer process never answered"
        return link

    monkeypatch.setattr(ProcessTransport, "_start", start_and_be_descheduled)


def test_a_writer_process_answering_before_its_link_is_stored_is_heard(
    db_path, capfd, slow_to_store_the_link
):
    """An answer read before the transport had stored the new link was dropped (READY:
    the link never got ready, and writing fell back to a thread) or, for the first
    writer process, failed on the attribute not yet set (seen on a loaded CI machine)."""
    handler = SQLiteHandler(db_path, writer="process")
    transport = handler._transport
    assert isinstance(transport, ProcessTransport)
    log = make_logger(handler)
    try:
        for i in range(50):
            log.info("%d", i)
        assert handler.flush(timeout=60) is True
        assert transport._link.ready.wait(60)  # its READY was heard
        first = handler.stats()["writer_pid"]
        assert first is not None
        os.kill(first, signal.SIGKILL)  # the next one starts as slowly
        for i in range(50, 100):
            log.info("%d", i)
        assert handler.flush(timeout=60) is True
        assert wait_until(lambda: transport._link.pid != first)
        assert transport._link.ready.wait(60)
        stats = handler.stats()
    finally:
        handler.close()
    assert stats["writer_pid"] not in (None, first)  # a writer process, not the fallback
    assert messages(db_path) == list(range(100))
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "writing in this process instead" not in err
