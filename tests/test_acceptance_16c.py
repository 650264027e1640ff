"""Acceptance findings 16c: BaseExceptions from user code, Ctrl-C on the caller's path, forks.

Every case runs in a child process with a watchdog (a hang fails the test, it does not
stall the suite) and is checked through the public API: rows read back through a fresh
connection, ``stats()``, and what the child printed.
"""

from __future__ import annotations

from .test_own_threads_and_exit import count, run_child

# -- a BaseException that is not an Exception, from an object's __str__/__repr__ ------------

CUSTOM_BASE_EXCEPTION = """
import logging
from sqlite_logging_handler import SQLiteHandler
class MyBase(BaseException):
    pass
class Bad:
    def __str__(self): raise MyBase("custom BaseException")
    __repr__ = __str__
h = SQLiteHandler("t.db")
log = logging.getLogger("app"); log.setLevel(logging.INFO); log.propagate = False
log.addHandler(h)
for case in ("extra", "arg", "msg"):
    try:
        if case == "extra":
            log.info("bad extra", extra={"v": Bad()})  # converted on the listener / writer
        elif case == "arg":
            log.info("bad arg %s", Bad())  # merged on the caller's thread
        else:
            log.info(Bad())
    except BaseException as escaped:
        print("escaped", case, type(escaped).__name__)
for i in range(100):
    log.info("after %d", i)
ok = h.flush(timeout=60)
h.close()
s = h.stats()
print(ok, s["emitted"], s["written"], s["dropped"], s["failed"], flush=True)
"""


def test_a_custom_base_exception_while_rendering_never_kills_the_handler(tmp_path):
    """MyBase(BaseException) in __repr__/__str__: stand-ins stored, nothing escapes or dies."""
    done = run_child(tmp_path, CUSTOM_BASE_EXCEPTION)
    assert done.returncode == 0, done.stderr
    assert "escaped" not in done.stdout, done.stdout
    assert done.stdout.split() == ["True", "103", "103", "0", "0"], done.stderr
    assert count(tmp_path / "t.db", "after %") == 100
    assert count(tmp_path / "t.db") == 103
    assert "MyBase" in done.stderr  # reported, as handleError reports


# -- Ctrl-C while logger.info waits for room (overflow="block") ----------------------------

KEYBOARD_INTERRUPT_WHILE_WAITING = """
import logging, signal, threading
from sqlite_logging_handler import SQLiteHandler
h = SQLiteHandler("t.db", queue_size=20, overflow="block")
log = logging.getLogger("app"); log.setLevel(logging.INFO); log.propagate = False
log.addHandler(h)
gate, entered = threading.Event(), threading.Event()
class Blocker:
    def __repr__(self):
        entered.set()
        gate.wait(60)  # converted on the listener: it stops draining the queue
        return "blocker"
log.info("blocker", extra={"v": Blocker()})
entered.wait(60)  # the listener is in it now
filled = 1
while h.stats()["queue_depth"] < 21:  # the blocker, and 20 queued
    log.info("fill"); filled += 1
def ctrl_c(signum, frame):
    raise KeyboardInterrupt
signal.signal(signal.SIGALRM, ctrl_c)
signal.setitimer(signal.ITIMER_REAL, 0.5)  # Ctrl-C while the next call waits for room
try:
    log.info("interrupted")
    print("did not wait")
except KeyboardInterrupt:
    pass
gate.set()
ok = h.flush(timeout=60)  # False: one record could not be handled (the interrupted one)
h.close()
s = h.stats()
print(ok, s["emitted"] == filled + 1, s["written"] == filled, s["dropped"], s["failed"], flush=True)
"""


def test_a_ctrl_c_while_waiting_for_room_is_counted_in_failed(tmp_path):
    """KeyboardInterrupt in a caller waiting for room: the record is counted, Ctrl-C goes on."""
    done = run_child(tmp_path, KEYBOARD_INTERRUPT_WHILE_WAITING)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "True", "0", "1"], done.stderr
    assert count(tmp_path / "t.db", "interrupted") == 0


# Ctrl-C delivered right after every C call the caller's path makes, one call at a time
# (a profile function raising on "c_return" is exactly where a signal handler runs):
# afterwards, an ordinary call on that thread still waits for room, as overflow="block"
# says, instead of being taken for a re-entrant one (and dropped past the bound).
KEYBOARD_INTERRUPT_ANYWHERE = """
import logging, signal, sys, threading
from sqlite_logging_handler import SQLiteHandler
h = SQLiteHandler("t.db", queue_size=20, overflow="block")
log = logging.getLogger("app"); log.setLevel(logging.INFO); log.propagate = False
log.addHandler(h)
gate, entered = threading.Event(), threading.Event()
class Blocker:
    def __repr__(self):
        entered.set()
        gate.wait(120)
        return "blocker"
log.info("blocker", extra={"v": Blocker()})
entered.wait(60)  # the listener is in it now
while h.stats()["queue_depth"] < 21:  # the blocker, and 20 queued
    log.info("fill")
def interrupt_at(n):
    seen = [0]
    def profile(frame, event, arg):
        if event == "c_return" and "sqlite_logging_handler" in frame.f_code.co_filename:
            seen[0] += 1
            if seen[0] == n:
                raise KeyboardInterrupt
    return profile
interrupts = 0
for n in range(1, 80):
    sys.setprofile(interrupt_at(n))
    try:
        log.info("swept %d", n)
    except KeyboardInterrupt:
        interrupts += 1
    finally:
        sys.setprofile(None)
def ctrl_c(signum, frame):
    raise KeyboardInterrupt
signal.signal(signal.SIGALRM, ctrl_c)
signal.setitimer(signal.ITIMER_REAL, 0.5)
waited = False
try:
    log.info("ordinary")  # the queue is full: it must wait (until the Ctrl-C)
except KeyboardInterrupt:
    waited = True
signal.setitimer(signal.ITIMER_REAL, 0)
gate.set()
h.flush(timeout=60)
h.close()
s = h.stats()
print(interrupts, waited, s["dropped"], s["emitted"] == s["written"] + s["failed"], flush=True)
"""


def test_ctrl_c_anywhere_on_the_callers_path_leaves_no_reentrancy_marker(tmp_path):
    """After Ctrl-Cs at every point of logger.info, a plain call waits for room again."""
    done = run_child(tmp_path, KEYBOARD_INTERRUPT_ANYWHERE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["79", "True", "0", "True"], done.stderr


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


# -- flush() while a hook's close() is under way --------------------------------------------

HOOK_CLOSES_THEN_FLUSH = """
import logging
from sqlite_logging_handler import SQLiteHandler
h = SQLiteHandler("t.db", batch_size=20, flush_interval=0.05)
log = logging.getLogger("app"); log.setLevel(logging.INFO); log.propagate = False
log.addHandler(h)
h.add_hook(lambda rows: h.close())  # on the handler's own thread: handed to a closing thread
for i in range(5000):
    log.info("work %d", i)
ok = h.flush(timeout=60)  # waits for that close, which writes what was queued
s = h.stats()
print(ok, s["emitted"], s["written"], s["dropped"], s["failed"], flush=True)
h.close()
"""


def test_flush_waits_for_a_close_a_hook_began(tmp_path):
    """A hook's close() meanwhile: flush() waits for it, then stats() add up."""
    done = run_child(tmp_path, HOOK_CLOSES_THEN_FLUSH)
    assert done.returncode == 0, done.stderr
    ok, emitted, written, dropped, failed = done.stdout.split()
    assert (ok, emitted, failed) == ("True", "5000", "0"), done.stderr
    # Records logged after the close ended (a slow machine) are dropped and counted.
    assert int(written) + int(dropped) == 5000, done.stdout
    assert count(tmp_path / "t.db", "work %") == int(written)
