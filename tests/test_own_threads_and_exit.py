"""Issue #16 follow-up: re-entrant logging at exit, public methods on the handler's own threads.

Every case runs in a child process with a watchdog (a hang fails the test, it does not
stall the suite) and is checked through the public API: rows read back through a fresh
connection, ``stats()``, and what the child printed on stdout and stderr.
"""

from __future__ import annotations

import subprocess
import textwrap

import pytest

from .conftest import PYTHON, child_env, rows

#: Seconds a child may take at most (the cases take well under one each).
WATCHDOG = 60


def run_child(tmp_path, code: str, *args: object) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a script in ``tmp_path`` (its database is ``t.db`` there)."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [PYTHON, str(script), *map(str, args)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=WATCHDOG,
        cwd=tmp_path,
    )


def count(db, like: str = "%") -> int:
    return int(rows(db, "SELECT COUNT(*) FROM logs WHERE message LIKE ?", (like,))[0][0])


# -- F1: records logged re-entrantly while a record is written at exit --------------------

LATE_REENTRANT = """
import atexit, gc, signal, sys
def late():  # registered before logging is imported: runs after logging.shutdown()
    import logging
    log = logging.getLogger("app")
    class Cyclic:
        def __init__(self): self.me = self
        def __del__(self): log.info("finalizer at exit")
    signals = [0]
    def on_alarm(signum, frame):
        signals[0] += 1
        log.warning("signal at exit")
    if sys.argv[1] == "gc":
        gc.set_threshold(20)  # the collector runs inside the direct writes
        for i in range(40):
            Cyclic(); log.info("late %d", i)
        gc.collect()
    else:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)  # faster than a write
        for i in range(40):
            log.info("late %d", i)
        signal.setitimer(signal.ITIMER_REAL, 0)
    print(signals[0], flush=True)
atexit.register(late)
import logging
from sqlite_logging_handler import SQLiteHandler
log = logging.getLogger("app"); log.setLevel(logging.INFO); log.propagate = False
log.addHandler(SQLiteHandler("t.db"))
log.info("main")
"""


@pytest.mark.parametrize("interrupter", ["gc", "signal"])
def test_a_record_logged_during_a_write_at_exit_is_written_after_it(tmp_path, interrupter):
    """A finalizer or signal handler logging inside the direct write at exit: stored once."""
    done = run_child(tmp_path, LATE_REENTRANT, interrupter)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    db = tmp_path / "t.db"
    assert count(db, "late %") == 40
    if interrupter == "gc":
        assert count(db, "finalizer at exit") == 40
    else:
        assert count(db, "signal at exit") == int(done.stdout)
    assert count(db) == 41 + count(db, "finalizer at exit") + count(db, "signal at exit")
