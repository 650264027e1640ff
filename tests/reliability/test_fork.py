"""Scenario 4: a handler inherited through fork() keeps working, in the child and the parent."""

from __future__ import annotations

from ..conftest import rows
from .conftest import run_python

SETUP = """
import logging, multiprocessing, os, sys, threading
from sqlite_logging_handler import SQLiteHandler
handler = SQLiteHandler(sys.argv[1])
log = logging.getLogger("fork")
log.setLevel(logging.INFO)
log.addHandler(handler)
log.info("parent before fork")
"""


def count(db_path, like: str) -> int:
    return int(rows(db_path, "SELECT COUNT(*) FROM logs WHERE message LIKE ?", (like,))[0][0])


def test_bare_fork_children_log_and_flush_before_os_exit(db_path):
    code = (
        SETUP
        + """
pids = []
for k in range(4):
    pid = os.fork()
    if pid == 0:
        for i in range(500):
            log.info("child %d %d", k, i)
        os._exit(0 if handler.flush(timeout=30) else 3)
    pids.append(pid)
statuses = [os.waitpid(pid, 0)[1] for pid in pids]
log.info("parent after fork")
print(statuses)
"""
    )
    result = run_python(code, db_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0, 0, 0, 0]"
    assert count(db_path, "child %") == 2000
    assert count(db_path, "parent %") == 2


def test_multiprocessing_fork_children_are_written_without_explicit_flush(db_path):
    code = (
        SETUP
        + """
def work(k):
    for i in range(300):
        log.info("mp child %d %d", k, i)
    return k

ctx = multiprocessing.get_context("fork")
processes = [ctx.Process(target=work, args=(k,)) for k in range(3)]
for p in processes: p.start()
for p in processes: p.join(60)
pool = ctx.Pool(2)
assert sorted(pool.map(work, range(10, 14))) == [10, 11, 12, 13]
pool.close()
pool.join()
log.info("parent after children")
print([p.exitcode for p in processes])
"""
    )
    result = run_python(code, db_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0, 0, 0]"
    assert count(db_path, "mp child %") == 7 * 300
    assert count(db_path, "parent %") == 2
    assert "sqlite_logging_handler:" not in result.stderr


def test_fork_while_other_threads_log_heavily_never_deadlocks(db_path):
    """Locks held by threads that do not survive the fork must not block the child."""
    code = (
        SETUP
        + """
stop = threading.Event()
def spam(n):
    while not stop.is_set():
        log.info("spam %d", n)

spammers = [threading.Thread(target=spam, args=(n,)) for n in range(3)]
for t in spammers: t.start()
pids = []
for k in range(10):
    pid = os.fork()
    if pid == 0:
        for i in range(100):
            log.info("forked %d %d", k, i)
        os._exit(0 if handler.flush(timeout=30) else 3)
    pids.append(pid)
statuses = [os.waitpid(pid, 0)[1] for pid in pids]
stop.set()
for t in spammers: t.join()
print(statuses, handler.flush(timeout=60))
"""
    )
    result = run_python(code, db_path, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0, 0, 0, 0, 0, 0, 0, 0, 0, 0] True"
    assert count(db_path, "forked %") == 1000
    assert rows(db_path, "PRAGMA integrity_check")[0][0] == "ok"


def test_a_store_open_across_fork_works_in_both(db_path):
    code = (
        SETUP
        + """
from sqlite_logging_handler import LogStore
handler.flush()
store = LogStore(sys.argv[1])
assert len(store.logs()) == 1
pid = os.fork()
if pid == 0:
    log.info("from the child")
    handler.flush()
    os._exit(0 if len(store.logs()) == 2 else 5)
_, status = os.waitpid(pid, 0)
print(status, len(store.logs()))
"""
    )
    result = run_python(code, db_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 2"
