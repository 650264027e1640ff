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


# -- F2: public methods called on the handler's own threads -------------------------------

OWN_THREAD_CALLS = """
import logging, sqlite3, sys, threading
from sqlite_logging_handler import SQLiteHandler, SQLiteLoggingError
where, call = sys.argv[1], sys.argv[2]
h = SQLiteHandler("t.db", batch_size=10, flush_interval=0.05)
log = logging.getLogger("app"); log.setLevel(logging.INFO); log.propagate = False
log.addHandler(h)
outcome = []
ran = threading.Event()
def the_call():
    if ran.is_set():
        return
    ran.set()
    try:
        if call == "close":
            h.close()
        elif call == "shutdown":
            logging.shutdown()
        elif call == "flush":
            outcome.append(h.flush(timeout=60))
        elif call == "maintain":
            h.maintain(timeout=60)
        elif call == "backup":
            h.backup("copy.db", timeout=60)
        elif call == "store":
            with h.store() as store:
                outcome.append(len(store.logs()))
        outcome.append("returned")
    except SQLiteLoggingError as exc:
        outcome.append("refused: " + str(exc))
class CallsOnRepr:  # formatted by the listener, on its thread
    def __repr__(self):
        the_call()
        return "x"
if where == "hook":
    h.add_hook(lambda rows: the_call())
for i in range(100):
    log.info("before %d", i)
if where == "listener":
    log.info("caller", extra={"v": CallsOnRepr()})
else:
    log.info("caller")
ran.wait(60)
for i in range(100):
    log.info("after %d", i)
h.flush(timeout=60)
h.close()
s = h.stats()
assert s["written"] + s["dropped"] + s["failed"] == s["emitted"], s
print(outcome[-1], s["written"], s["dropped"], s["failed"], flush=True)
"""


@pytest.mark.parametrize("where", ["hook", "listener"])
@pytest.mark.parametrize("call", ["close", "shutdown"])
def test_close_on_an_own_thread_writes_what_was_queued_and_adds_up(tmp_path, where, call):
    """close() / logging.shutdown() in a hook or an extra's __repr__: nothing queued is lost."""
    done = run_child(tmp_path, OWN_THREAD_CALLS, where, call)
    assert done.returncode == 0, done.stderr
    outcome, written, dropped, failed = done.stdout.split()
    assert outcome == "returned"
    db = tmp_path / "t.db"
    assert count(db, "before %") == 100
    assert count(db, "caller") == 1
    assert int(failed) == 0
    assert int(written) == count(db)  # the "after" records it did not take: dropped, counted
    assert int(written) + int(dropped) == 201
    assert not (tmp_path / "t.db-wal").exists()


@pytest.mark.parametrize("where", ["hook", "listener"])
@pytest.mark.parametrize("call", ["flush", "maintain", "backup", "store"])
def test_other_public_methods_on_an_own_thread_never_wait_for_it(tmp_path, where, call):
    """flush/store return at once there, maintain/backup refuse with a clear error."""
    done = run_child(tmp_path, OWN_THREAD_CALLS, where, call)
    assert done.returncode == 0, done.stderr
    assert count(tmp_path / "t.db") == 201
    if call in ("maintain", "backup"):
        assert "refused:" in done.stdout
        assert "cannot run on the handler's own threads" in done.stdout
    else:
        assert "returned 201 0 0" in done.stdout


# -- F5: records logged on the handler's own threads, in both overflow modes -----------------

HOOK_FLOOD = """
import logging, sys
from sqlite_logging_handler import SQLiteHandler
overflow, many = sys.argv[1], int(sys.argv[2])
h = SQLiteHandler("t.db", queue_size=50, overflow=overflow)
log = logging.getLogger("app"); log.setLevel(logging.INFO); log.propagate = False
log.addHandler(h)
done = []
def hook(rows):  # on the writer thread, as a mail or HTTP client that logs
    if not done:
        done.append(1)
        for i in range(many):
            log.info("from hook %d", i)
h.add_hook(hook)
log.info("trigger")
assert h.flush(timeout=60)
assert h.flush(timeout=60)
s = h.stats()
h.close()
print(s["emitted"], s["written"], s["dropped"], s["failed"], flush=True)
"""


@pytest.mark.parametrize("overflow", ["block", "drop"])
def test_own_thread_records_go_past_the_bound_in_both_overflow_modes(tmp_path, overflow):
    """A hook logging 4x queue_size records: all stored, in "drop" mode too."""
    done = run_child(tmp_path, HOOK_FLOOD, overflow, 200)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["201", "201", "0", "0"]
    assert count(tmp_path / "t.db", "from hook %") == 200
    assert done.stderr == ""


@pytest.mark.parametrize("overflow", ["block", "drop"])
def test_own_thread_records_past_the_hard_cap_are_dropped_counted_and_said(tmp_path, overflow):
    """Beyond queue_size + max(queue_size, 1000) they are dropped, counted, said once."""
    done = run_child(tmp_path, HOOK_FLOOD, overflow, 20_000)
    assert done.returncode == 0, done.stderr
    emitted, written, dropped, failed = map(int, done.stdout.split())
    assert (emitted, failed) == (20_001, 0)
    assert written + dropped == emitted
    assert count(tmp_path / "t.db") == written
    assert written >= 1_050  # at least the queue and the margin past it
    assert dropped > 0
    lines = [line for line in done.stderr.splitlines() if "while its queue was full" in line]
    assert len(lines) == 1, done.stderr


# -- SystemExit and other BaseExceptions raised while a record is rendered -----------------

RENDERING_EXITS = """
import logging, sys
from sqlite_logging_handler import SQLiteHandler
h = SQLiteHandler("t.db")
log = logging.getLogger("app"); log.setLevel(logging.INFO); log.propagate = False
log.addHandler(h)
class Exits:
    def __init__(self, exc): self.exc = exc
    def __str__(self): raise self.exc
    __repr__ = __str__
for exc in (SystemExit(3), GeneratorExit()):
    try:
        log.info("arg %s", Exits(exc))                     # merged on the caller's thread
        log.info("extra", extra={"v": Exits(exc)})         # converted on the listener
    except BaseException as escaped:
        print("escaped", type(escaped).__name__)
interrupted = False
try:
    log.info("arg %s", Exits(KeyboardInterrupt()))  # Ctrl-C is not swallowed
except KeyboardInterrupt:
    interrupted = True
assert h.flush(timeout=60) is False  # one record could not be handled (the interrupted one)
s = h.stats()
h.close()
print(interrupted, s["emitted"], s["written"], s["failed"], flush=True)
"""


def test_a_system_exit_while_rendering_a_record_never_reaches_the_caller(tmp_path):
    """SystemExit/GeneratorExit in __str__/__repr__: stand-ins stored, reported; Ctrl-C goes on."""
    done = run_child(tmp_path, RENDERING_EXITS)
    assert done.returncode == 0, done.stderr
    assert "escaped" not in done.stdout
    assert done.stdout.split() == ["True", "5", "4", "1"]
    messages = [r["message"] for r in rows(tmp_path / "t.db")]
    assert sum(m.startswith("[unmerged] arg %s") for m in messages) == 2
    assert any("SystemExit: 3" in m for m in messages)
    assert messages.count("extra") == 2
    assert "SystemExit" in done.stderr  # reported, as handleError reports


# -- F4: flush() covers what its own rounds made the handler's threads log -----------------

FLUSH_COVERS_OWN = """
import logging, sys
from sqlite_logging_handler import SQLiteHandler
h = SQLiteHandler("t.db")
log = logging.getLogger("app"); log.setLevel(logging.INFO); log.propagate = False
log.addHandler(h)
class LogsOnRepr:  # converted on the listener, during the flush
    def __repr__(self):
        log.warning("from __repr__")
        return "LogsOnRepr()"
hooked = []
def hook(rows):  # on the writer, after the flush's commit
    if not hooked:
        hooked.append(1)
        log.warning("from hook")
if sys.argv[1] == "hook":
    h.add_hook(hook)
    log.info("first")
else:
    log.info("first", extra={"v": LogsOnRepr()})
assert h.flush(timeout=60)
s = h.stats()
print(s["emitted"], s["written"], s["dropped"], s["failed"], flush=True)
h.close()
"""


@pytest.mark.parametrize("where", ["listener", "hook"])
def test_flush_covers_records_its_own_rounds_made_the_handler_log(tmp_path, where):
    """An extra's __repr__ or a hook that logs during flush(): the counts add up after it."""
    done = run_child(tmp_path, FLUSH_COVERS_OWN, where)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "2", "0", "0"]
    assert count(tmp_path / "t.db") == 2


# -- flush() from a signal handler that interrupted a flush() ------------------------------

SIGNAL_FLUSHES = """
import logging, signal, time
from sqlite_logging_handler import SQLiteHandler
h = SQLiteHandler("t.db", queue_size=20, batch_size=50, flush_interval=0.05)
log = logging.getLogger("app"); log.setLevel(logging.INFO); log.propagate = False
log.addHandler(h)
signals = [0]
def on_alarm(signum, frame):
    signals[0] += 1
    log.warning("signal")
    h.flush(timeout=2)
signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)  # faster than a flush
escaped, work, t0 = [], 0, time.monotonic()
while time.monotonic() - t0 < 2:
    try:
        log.info("work %d", work)
        work += 1
    except BaseException as exc:
        escaped.append(type(exc).__name__)
signal.setitimer(signal.ITIMER_REAL, 0)
assert h.flush(timeout=60)
s = h.stats()
h.close()
print(escaped, work, signals[0], s["emitted"], s["written"], s["dropped"], s["failed"], flush=True)
"""


def test_a_signal_handler_that_flushes_never_nests_waits(tmp_path):
    """flush() every millisecond from a signal handler: no pile-up, nothing escapes, all stored."""
    done = run_child(tmp_path, SIGNAL_FLUSHES)
    assert done.returncode == 0, done.stderr[-2000:]
    escaped, work, signals, emitted, written, dropped, failed = done.stdout.rsplit(maxsplit=6)
    assert escaped == "[]"
    assert (int(dropped), int(failed)) == (0, 0)
    assert int(emitted) == int(written) == int(work) + int(signals)
    db = tmp_path / "t.db"
    assert count(db, "work %") == int(work)
    assert count(db, "signal") == int(signals)


# -- rendering failures are reported in full once, then summed up ------------------------

FORMAT_EXCEPTION_RAISES = """
import logging
from sqlite_logging_handler import SQLiteHandler
h = SQLiteHandler("t.db")
class Broken(logging.Formatter):
    def formatException(self, ei):
        raise RuntimeError("formatException broke")
h.setFormatter(Broken())
log = logging.getLogger("app"); log.setLevel(logging.INFO); log.propagate = False
log.addHandler(h)
for i in range(200):
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("failed %d", i)
assert h.flush(timeout=60)
h.close()
"""


def test_a_formatter_that_fails_for_every_record_is_reported_once_then_counted(tmp_path):
    """One traceback (as handleError prints it), then one line with the count, not 200."""
    done = run_child(tmp_path, FORMAT_EXCEPTION_RAISES)
    assert done.returncode == 0, done.stderr[-2000:]
    assert count(tmp_path / "t.db", "failed %") == 200
    assert done.stderr.count("--- Logging error ---") == 1
    assert "199 more record(s) stored with stand-ins" in done.stderr
    assert len(done.stderr.splitlines()) < 60


# -- an extra nested past the recursion limit ------------------------------------------------

DEEP_EXTRA = """
import logging
from sqlite_logging_handler import SQLiteHandler
h = SQLiteHandler("t.db")
log = logging.getLogger("app"); log.setLevel(logging.INFO); log.propagate = False
log.addHandler(h)
deep = {}
d = deep
for _ in range(100_000):
    d["k"] = {}
    d = d["k"]
log.info("deep", extra={"deep": deep})
assert h.flush(timeout=60)
h.close()
"""


def test_an_extra_nested_past_the_recursion_limit_is_stored_as_a_bounded_repr(tmp_path):
    """Not "<dict object at 0x...>": its repr, the nesting cut as reprlib cuts it.

    100,000 levels: Python 3.13.0's JSON encoder takes 5,000 (its C recursion limit is
    no longer the interpreter's), and stored them as JSON.
    """
    done = run_child(tmp_path, DEEP_EXTRA)
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = rows(tmp_path / "t.db", "SELECT extra_data FROM logs")
    assert row[0].startswith('{"deep":"' + "{'k': {'k': ")
    assert "{...}" in row[0]
    assert "object at 0x" not in row[0]
