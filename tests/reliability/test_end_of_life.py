"""End of life: pool workers that build their own handler, and records after shutdown.

A multiprocessing worker ends with ``os._exit`` (after multiprocessing's finalizers, not
``atexit``), and an interpreter that exits runs finalizers, daemon threads and late
``atexit`` hooks after ``logging.shutdown()`` has closed the handler. What they log is
stored, or at the very least reported on stderr: never lost silently. Each case runs in
a child process under a watchdog.
"""

from __future__ import annotations

import sys
import textwrap

import pytest

from ..conftest import PYTHON, child_env, rows
from .conftest import run_python

WATCHDOG = 120


def count(db_path, like: str = "%") -> int:
    return int(rows(db_path, "SELECT COUNT(*) FROM logs WHERE message LIKE ?", (like,))[0][0])


def run_script(tmp_path, code: str, *args: object):
    """Run ``code`` as a script file (spawn and forkserver re-import ``__main__``)."""
    import subprocess

    script = tmp_path / "main.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [PYTHON, str(script), *map(str, args)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=WATCHDOG,
        cwd=tmp_path,
    )


# -- pool workers ------------------------------------------------------------------------

POOL = """
import concurrent.futures, logging, multiprocessing, multiprocessing.util, os, sys
from sqlite_logging_handler import SQLiteHandler

def setup_logging(db):
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(SQLiteHandler(db))
    # A finalizer of lower priority than the handler's logs after the handler closed.
    multiprocessing.util.Finalize(
        None, logging.getLogger("pool").info, args=("worker %d ends" % os.getpid(),),
        exitpriority=1,
    )

def task(i):
    logging.getLogger("pool").info("task %d", i)
    return os.getpid()

def process_main(db, first):
    setup_logging(db)
    for i in range(first, first + 50):
        task(i)

if __name__ == "__main__":
    db, method, runner = sys.argv[1:4]
    if sys.argv[4] == "parent-handler":  # inherited by forked workers, beside their own
        logging.getLogger().addHandler(SQLiteHandler(db + ".parent.db"))
    ctx = multiprocessing.get_context(method)
    if runner == "pool":
        pool = ctx.Pool(2, initializer=setup_logging, initargs=(db,))
        pids = set(pool.map(task, range(200), chunksize=1))
        pool.close()
        pool.join()
    elif runner == "pool-maxtasks":
        pool = ctx.Pool(2, initializer=setup_logging, initargs=(db,), maxtasksperchild=7)
        pids = set(pool.map(task, range(200), chunksize=1))
        pool.close()
        pool.join()
    elif runner == "executor":
        with concurrent.futures.ProcessPoolExecutor(
            2, mp_context=ctx, initializer=setup_logging, initargs=(db,)
        ) as executor:
            pids = set(executor.map(task, range(200)))
    else:
        processes = [ctx.Process(target=process_main, args=(db, k * 50)) for k in range(4)]
        for p in processes:
            p.start()
        for p in processes:
            p.join()
        assert [p.exitcode for p in processes] == [0] * 4
        pids = {p.pid for p in processes}
    print(len(pids))
"""

POOL_CASES = [
    ("fork", "pool", "no-parent-handler"),
    ("forkserver", "pool", "no-parent-handler"),
    ("spawn", "pool", "no-parent-handler"),
    ("fork", "pool", "parent-handler"),
    ("fork", "pool-maxtasks", "no-parent-handler"),
    ("fork", "executor", "no-parent-handler"),
    ("forkserver", "executor", "no-parent-handler"),
    ("fork", "process", "no-parent-handler"),
]


@pytest.mark.parametrize(("method", "runner", "parent"), POOL_CASES)
def test_workers_that_build_their_own_handler_keep_every_record(tmp_path, method, runner, parent):
    """Issue 16.3: 200 tasks, each logging one line, in workers that end with os._exit."""
    db = tmp_path / "pool.db"
    result = run_script(tmp_path, POOL, db, method, runner, parent)
    assert result.returncode == 0, result.stderr[-6000:]
    workers = int(result.stdout.strip())
    assert count(db, "task %") == 200
    stored = rows(db, "SELECT message FROM logs WHERE message LIKE 'task %'")
    assert sorted(int(r[0].split()[1]) for r in stored) == list(range(200))  # each once
    # What each worker's late finalizer logged after its handler closed is there too.
    assert count(db, "worker % ends") >= workers
    assert "Exception ignored" not in result.stderr


# -- after logging.shutdown() at interpreter exit ---------------------------------------------

EXIT_CASES = {
    # An atexit hook registered before logging was imported runs after logging.shutdown().
    "atexit-after-logging": """
import atexit
def late():
    log.info("from a late atexit hook")
atexit.register(late)
SETUP
""",
    # weakref.finalize registers its atexit hook with the first finalizer.
    "weakref-finalize-at-exit": """
import weakref
class Resource:
    pass
resource = Resource()
weakref.finalize(resource, lambda: log.info("from weakref.finalize"))
SETUP
""",
    # An object alive until the interpreter tears __main__ down logs from __del__.
    "del-during-finalization": """
SETUP
class Connection:
    def __del__(self):
        log.info("from __del__ at finalization")
connection = Connection()
""",
    # A daemon thread still running logs after logging.shutdown().
    "daemon-thread-after-shutdown": """
import atexit, threading
go, done = threading.Event(), threading.Event()
def daemon():
    go.wait()
    for i in range(50):
        log.info("from a daemon thread %d", i)
    done.set()
def let_the_daemon_log():  # runs after logging.shutdown(): registered before logging
    go.set()
    done.wait(60)
atexit.register(let_the_daemon_log)
SETUP
threading.Thread(target=daemon, daemon=True).start()
""",
}

EXIT_SETUP = """
import logging, sys
from sqlite_logging_handler import SQLiteHandler
log = logging.getLogger("exit")
log.setLevel(logging.INFO)
log.addHandler(SQLiteHandler(sys.argv[1]))
log.info("before exit")
"""


@pytest.mark.parametrize("case", list(EXIT_CASES))
def test_records_logged_after_logging_shutdown_at_exit_are_stored(db_path, case):
    """Issue 16.5: the stdlib FileHandler keeps these records; so does this handler."""
    code = EXIT_CASES[case].replace("SETUP", EXIT_SETUP)
    result = run_python(code, db_path, timeout=WATCHDOG)
    assert result.returncode == 0, result.stderr
    assert count(db_path, "before exit") == 1
    expected = 50 if case == "daemon-thread-after-shutdown" else 1
    assert count(db_path, "from %") == expected, result.stderr
    assert result.stderr == ""


def test_a_late_record_that_cannot_be_stored_is_reported_on_stderr(tmp_path):
    """Nowhere to write it (an in-memory database is gone once closed): say so."""
    code = """
import atexit
def late():
    log.info("after the in-memory database closed")
    log.info("and another")
atexit.register(late)
import logging
from sqlite_logging_handler import SQLiteHandler
log = logging.getLogger("exit")
log.setLevel(logging.INFO)
log.addHandler(SQLiteHandler(":memory:"))
"""
    result = run_python(code, timeout=WATCHDOG)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert all(line.startswith("sqlite_logging_handler: ") for line in lines)
    assert "after the in-memory database closed" in lines[0]
    assert "closed" in lines[0] and "not stored" in lines[0]


def test_a_late_record_whose_database_is_gone_is_reported_on_stderr(tmp_path):
    """The directory was removed before the late record: the line says what and why."""
    directory = tmp_path / "logs"
    directory.mkdir()
    code = """
import atexit, shutil, sys
def late():
    shutil.rmtree(sys.argv[2])
    log.info("written after the directory went")
atexit.register(late)
import logging
from sqlite_logging_handler import SQLiteHandler
log = logging.getLogger("exit")
log.setLevel(logging.INFO)
log.addHandler(SQLiteHandler(sys.argv[1]))
"""
    result = run_python(code, directory / "app.db", directory, timeout=WATCHDOG)
    assert result.returncode == 0, result.stderr
    assert "written after the directory went" in result.stderr
    assert "not stored" in result.stderr


if sys.platform != "linux":  # pragma: no cover - the battery runs on Linux
    pytestmark = pytest.mark.skip("start methods and exit order as on Linux")
