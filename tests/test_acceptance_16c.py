"""Acceptance findings 16c: BaseExceptions from user code, Ctrl-C on the caller's path, forks.

Every case runs in a child process with a watchdog (a hang fails the test, it does not
stall the suite) and is checked through the public API: rows read back through a fresh
connection, ``stats()``, and what the child printed.
"""

from __future__ import annotations

from .test_own_threads_and_exit import run_child

# -- a closed handler and fork(): file descriptor numbers reused since --------------------

CLOSED_HANDLER_THEN_FORK = """
import logging, os
from sqlite_logging_handler import SQLiteHandler
h = SQLiteHandler("t.db")
logging.getLogger("app").addHandler(h)
logging.getLogger("app").warning("one")
h.flush(timeout=60)
h.close()  # closed, still referenced (by the logger, by logging's fork hooks)
fds = [fd for pair in (os.pipe() for _ in range(8)) for fd in pair]  # reuse the numbers
pid = os.fork()
if pid == 0:
    bad = []
    for fd in fds:
        try:
            os.fstat(fd)
        except OSError:
            bad.append(fd)
    print("closed in the child:", bad, flush=True)
    os._exit(1 if bad else 0)
_, status = os.waitpid(pid, 0)
print("child status", status, flush=True)
"""


def test_a_closed_handler_closes_no_file_descriptor_in_a_forked_child(tmp_path):
    """After close(), the handler's at-fork handling touches no fd numbers reused since."""
    done = run_child(tmp_path, CLOSED_HANDLER_THEN_FORK)
    assert done.returncode == 0, done.stderr
    assert "closed in the child: []" in done.stdout, done.stdout
    assert "child status 0" in done.stdout, done.stdout


SHUTDOWN_THEN_POOL = """
import logging, logging.config, multiprocessing
from sqlite_logging_handler import SQLiteHandler
h = SQLiteHandler("t.db")
logging.getLogger().addHandler(h)
logging.getLogger().warning("before")
logging.shutdown()  # mid-program: the handler is closed but still referenced
def square(x):
    return x * x
if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print(pool.map(square, range(4)), flush=True)
"""


def test_a_fork_pool_after_logging_shutdown_works(tmp_path):
    """logging.shutdown() then a fork Pool: the pool's pipes survive in its workers."""
    done = run_child(tmp_path, SHUTDOWN_THEN_POOL)
    assert done.returncode == 0, done.stderr
    assert "[0, 1, 4, 9]" in done.stdout
