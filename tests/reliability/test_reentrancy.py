"""Re-entrancy: records logged from the handler's own threads and from signal handlers.

A finalizer run by the cyclic GC, a hook's callback, an extra's ``__repr__`` or a signal
handler can log while the thread it runs on is inside the handler: the listener or the
writer (which drain the queue), or the caller's own ``emit`` (holding whatever it holds).
None of them may wait for something its own thread must do. Each case runs in a child
process with a watchdog (``faulthandler`` ends a hung child with its stacks), and reads
the rows back: ``written + dropped + failed == emitted``, and what was written is there.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ..conftest import rows
from .conftest import run_python

#: Seconds after which a child that has not finished dumps its stacks and exits: a
#: watchdog against hangs, generous because "first-record-after-fork" starts a writer
#: process in each of its ~100 grandchildren with writer="process" (91 s at a load of 6
#: on 2 cores).
WATCHDOG = 240

PRELUDE = f"""
import faulthandler, gc, itertools, json, logging, os, signal, sys, threading, time
WATCHDOG = {WATCHDOG}
faulthandler.dump_traceback_later(WATCHDOG, exit=True)  # a hang ends the child, with stacks
from sqlite_logging_handler import SQLiteHandler
db = sys.argv[1]
log = logging.getLogger("app")
log.setLevel(logging.DEBUG)
log.propagate = False

def report(handler, **extra):
    handler.flush(timeout=60)
    handler.close()
    stats = handler.stats()
    keys = ("emitted", "written", "dropped", "failed")
    print(json.dumps({{**{{k: stats[k] for k in keys}}, **extra}}))
"""


def run_child(code: str, db_path, *args: object) -> dict[str, int]:
    """Run ``code`` after PRELUDE; its last stdout line is the JSON of ``report``."""
    try:
        result = run_python(PRELUDE + code, db_path, *args, timeout=WATCHDOG + 60)
    except subprocess.TimeoutExpired as hung:  # a grandchild kept the pipes open
        pytest.fail(f"hung:\n{(hung.stderr or b'')[-6000:].decode(errors='replace')}")
    assert result.returncode == 0, result.stderr[-6000:]
    summary: dict[str, int] = json.loads(result.stdout.splitlines()[-1])
    assert summary["written"] + summary["dropped"] + summary["failed"] == summary["emitted"]
    assert count(db_path) == summary["written"] + summary.get("elsewhere", 0)
    summary["stderr"] = result.stderr  # type: ignore[assignment]
    return summary


def count(db_path, like: str = "%") -> int:
    return int(rows(db_path, "SELECT COUNT(*) FROM logs WHERE message LIKE ?", (like,))[0][0])


# -- the handler's own threads ---------------------------------------------------------


@pytest.mark.parametrize("overflow", ["block", "drop"])
def test_finalizers_the_gc_runs_on_the_handlers_threads_never_hang_it(db_path, overflow):
    """Issue 16.1: ``__del__`` logs while the GC runs it on the listener or the writer."""
    code = """
handler = SQLiteHandler(db, queue_size=50, overflow=sys.argv[2], batch_size=20,
                        flush_interval=0.05)
log.addHandler(handler)
finalized = []
class Cyclic:
    def __init__(self):
        self.me = self
    def __del__(self):
        finalized.append(threading.current_thread().name)
        log.info("finalizer ran")
gc.set_threshold(20, 1, 1)
works = 0
def own():
    return sum(name.startswith("sqlite-logging") for name in finalized)
# Where the GC runs is up to the interpreter: go on, in rounds, until it has run on
# the handler's threads (usually in the first round; about half the time in 'block').
for round in range(20):
    for i in range(20000):
        Cyclic()
        log.info("work %d", works)
        works += 1
    if own():
        break
gc.collect()
report(handler, finalized=len(finalized), own=own(), works=works)
"""
    summary = run_child(code, db_path, overflow)
    assert summary["own"] > 0  # the premise: some finalizers ran on the handler's threads
    assert summary["emitted"] == summary["works"] + summary["finalized"]
    if overflow == "block":
        assert summary["dropped"] == summary["failed"] == 0
        assert count(db_path, "work %") == summary["works"]
        assert count(db_path, "finalizer ran") == summary["finalized"]


@pytest.mark.parametrize("overflow", ["block", "drop"])
def test_an_extra_whose_repr_logs_never_hangs_the_listener(db_path, overflow):
    """The listener encodes extras; a ``__repr__`` that logs runs on the listener."""
    code = """
handler = SQLiteHandler(db, queue_size=20, overflow=sys.argv[2], batch_size=10,
                        flush_interval=0.05)
log.addHandler(handler)
class Chatty:
    def __repr__(self):
        log.debug("repr on %s", threading.current_thread().name)
        return "Chatty()"
for i in range(3000):
    log.info("work %d", i, extra={"obj": Chatty()})
report(handler)
"""
    summary = run_child(code, db_path, overflow)
    on_listener = count(db_path, "repr on sqlite-logging-listener")
    assert on_listener > 0
    if overflow == "block":
        assert count(db_path, "work %") == on_listener == 3000
        assert summary["dropped"] == 0


WRITER_HOOKS = {
    # An AlertHook whose callback logs, as HTTP and mail clients do at DEBUG.
    "alert-callback-logs": """
alerted = []
def notify(row):
    alerted.append(row.id)
    log.warning("alert sent for %s on %s", row.id, threading.current_thread().name)
hook = AlertHook("ERROR", notify, limit=10**9, per=1)
""",
    # A hook whose allocations let the GC run finalizers that log, on the writer.
    "gc-finalizer-on-writer": """
alerted = []
class Cyclic:
    def __init__(self):
        self.me = self
    def __del__(self):
        log.warning("finalized on %s", threading.current_thread().name)
def hook(rows):
    for row in rows:
        if row.level == "ERROR":
            Cyclic()
            alerted.append(row.id)
    gc.collect()
""",
}


@pytest.mark.parametrize("overflow", ["block", "drop"])
@pytest.mark.parametrize("kind", sorted(WRITER_HOOKS))
def test_records_logged_on_the_writer_thread_never_hang_it(db_path, kind, overflow):
    """Issue 16.1: a hook runs on the writer, which the listener may be waiting for."""
    code = (
        "from sqlite_logging_handler.hooks import AlertHook\n"
        + WRITER_HOOKS[kind]
        + """
handler = SQLiteHandler(db, queue_size=50, overflow=sys.argv[2], batch_size=10,
                        flush_interval=0.05)
handler.add_hook(hook)
log.addHandler(handler)
for i in range(5000):
    log.error("failure %d", i)
handler.flush(timeout=60)  # every failure committed, so every hook has run
report(handler, alerted=len(alerted))
"""
    )
    summary = run_child(code, db_path, overflow)
    # The writer thread, or with writer="process" the thread reading its answers.
    on_writer = count(db_path, "% on sqlite-logging-writer%")
    assert on_writer > 0
    if overflow == "block":
        assert count(db_path, "failure %") == summary["alerted"] == 5000
        assert on_writer == 5000 and summary["dropped"] == 0


def test_flush_from_a_hook_returns_at_once_instead_of_waiting_for_itself(db_path):
    """A hook that reads the store (``store()`` flushes first) runs on the writer."""
    code = """
seen = []
def hook(rows):
    started = time.monotonic()
    ok = handler.flush()
    seen.append((ok, time.monotonic() - started))
handler = SQLiteHandler(db, flush_interval=0.05)
handler.add_hook(hook)
log.addHandler(handler)
log.info("one")
handler.flush(timeout=60)
log.info("two")
report(handler, results=seen)
"""
    summary = run_child(code, db_path)
    results = summary["results"]
    assert results and all(ok is False and took < 1.0 for ok, took in results)  # type: ignore[attr-defined]
    assert count(db_path) == 2


# -- signal handlers ---------------------------------------------------------------------

SIGNAL_STORM = """
handler = SQLiteHandler(db, queue_size=int(sys.argv[3]), overflow=sys.argv[2],
                        batch_size=50, flush_interval=0.05)
log.addHandler(handler)
fired = itertools.count()
def on_signal(signum, frame):
    n = next(fired)
    log.warning("signal %d", n)
    if n % 5 == 0:
        log.warning("%d", "unmergeable in a signal handler")
signal.signal(signal.SIGALRM, on_signal)
signal.setitimer(signal.ITIMER_REAL, float(sys.argv[4]), float(sys.argv[4]))
deadline = time.monotonic() + 4
work = 0
while time.monotonic() < deadline:
    log.info("work %d", work)
    work += 1
    if work % 7 == 0:
        log.info("%d", "unmergeable")
signal.setitimer(signal.ITIMER_REAL, 0)
time.sleep(0.05)  # a signal still pending runs its handler now
signals = next(fired)
report(handler, work=work, signals=signals)
"""


@pytest.mark.parametrize(
    ("overflow", "queue_size", "interval"),
    [
        ("block", 100_000, 0.001),  # the queue's conditions
        ("block", 200, 0.0005),  # waits for room, nested signals
        ("drop", 10, 0.001),  # the drop path's counters
    ],
    ids=["block", "block-full-nested", "drop-full"],
)
def test_a_signal_handler_that_logs_never_deadlocks_the_main_thread(
    db_path, overflow, queue_size, interval
):
    """Issue 16.2: SIGALRM every millisecond while the main thread logs flat out."""
    summary = run_child(SIGNAL_STORM, db_path, overflow, queue_size, interval)
    work, signals = summary["work"], summary["signals"]
    assert signals > 100  # the premise: the storm happened
    unmergeable = work // 7 + (signals + 4) // 5
    assert summary["emitted"] == work + signals + unmergeable
    assert summary["failed"] == 0
    if overflow == "block":
        assert summary["dropped"] == 0
        assert count(db_path, "work %") == work
        assert count(db_path, "signal %") == signals
        assert count(db_path, "[unmerged] %") == unmergeable
    assert "RecursionError" not in summary["stderr"]  # type: ignore[operator]


# A trace function that logs at one bytecode of the caller's path stands in for a signal
# handler arriving there. Call after call, the injection moves one bytecode further, so
# every point of the path is hit once, each time from a fresh state: at each, the nested
# record must get through without waiting for anything the interrupted call holds.
INJECT = """
injected = itertools.count()
nested = ("injected",)
elsewhere = 0  # records written by other processes

def traced(fn, *args, at, where=None):
    # Call fn(*args), logging one record at its at-th bytecode; False if it had fewer.
    events = itertools.count()
    reached = []
    def tracer(frame, event, arg):
        if event == "call":
            if where is not None and not any(w in frame.f_code.co_filename for w in where):
                return None
            frame.f_trace_opcodes = True
        elif event == "opcode" and next(events) == at:
            reached.append(at)
            next(injected)
            log.warning(*nested)
        return tracer
    sys.settrace(tracer)
    try:
        fn(*args)
    finally:
        sys.settrace(None)
    return bool(reached)

full = []  # before each call: whether the queue was full (for the premise)

def with_the_queue_kept_full(fn, *args):
    # every_bytecode(fn, *args) while another thread keeps the queue full.
    stop = threading.Event()
    def fill():
        while not stop.is_set():
            log.info("filler")
    filler = threading.Thread(target=fill)
    filler.start()
    try:
        return every_bytecode(fn, *args)
    finally:
        stop.set()
        filler.join()

def every_bytecode(fn, *args):
    # Call fn(*args) once per bytecode position of the path; returns how many calls.
    # The first call only traces: from Python 3.12, code is instrumented for opcode
    # events on its first traced run.
    traced(fn, *args, at=-1)
    at = misses = 0
    while misses < 20 and at < 6000:
        full.append(handler.stats()["queue_depth"] >= handler.queue_size)
        misses = 0 if traced(fn, *args, at=at) else misses + 1
        at += 1
    return at + 1
"""

INJECT_CASES = {
    "idle-listener": """
handler = SQLiteHandler(db, flush_interval=0.05)
log.addHandler(handler)
def outer_call(text):
    log.info(text)
    time.sleep(0.001)  # the listener goes back to waiting for records
outer = every_bytecode(outer_call, "outer")
""",
    "unmergeable": """
nested = ("%d", "injected")  # the nested record fails to merge too
handler = SQLiteHandler(db, flush_interval=0.05)
log.addHandler(handler)
logging.raiseExceptions = False  # thousands of tracebacks on stderr would prove nothing
outer = every_bytecode(log.info, "%d", "outer")
""",
    "full-queue-block": """
handler = SQLiteHandler(db, queue_size=30, batch_size=10, flush_interval=0.05)
handler.add_hook(lambda rows: time.sleep(0.01))  # a slow writer
log.addHandler(handler)
outer = with_the_queue_kept_full(log.info, "outer")
""",
    "full-queue-drop": """
handler = SQLiteHandler(db, queue_size=30, batch_size=10, flush_interval=0.05,
                        overflow="drop")
handler.add_hook(lambda rows: time.sleep(0.01))
log.addHandler(handler)
outer = with_the_queue_kept_full(log.info, "outer")
""",
    "closed-handler": """
closed = SQLiteHandler(db)
handler = SQLiteHandler(db, flush_interval=0.05)  # takes what reaches the closed one
log.addHandler(closed)
closed.close()
outer = every_bytecode(log.info, "outer")
""",
    "first-record-after-fork": """
# The first record after fork starts the child's pipeline. A child, W, traces its own
# first record once (from Python 3.12, code is instrumented for opcode events on its
# first traced run), then forks once per injection point: each grandchild's first
# record starts its pipeline again, with a record injected at one bytecode of the
# handler's and threading's code on that path (every 11th).
handler = SQLiteHandler(db, flush_interval=0.05)
log.addHandler(handler)
where = ("sqlite_logging_handler", "threading")

def alarm():  # a forked child's watchdog: faulthandler's cannot restart after fork
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(WATCHDOG)

def inject_in_grandchildren():
    alarm()
    traced(log.info, "outer in child", at=-1, where=where)
    assert handler.flush(timeout=60)
    forks, reached_total, written = 1, 0, handler.stats()["written"]
    for at in itertools.count(0, 11):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            alarm()
            reached = traced(log.info, "outer in child", at=at, where=where)
            ok = handler.flush(timeout=60)
            os.write(write, json.dumps([reached, handler.stats()], default=str).encode())
            os._exit(0 if ok else 3)
        os.close(write)
        with os.fdopen(read) as pipe:
            reached, child = json.load(pipe)
        _, status = os.waitpid(pid, 0)
        assert status == 0, status
        assert child["written"] + child["dropped"] + child["failed"] == child["emitted"], child
        assert child["failed"] == child["dropped"] == 0, child
        assert child["emitted"] == 1 + reached, child
        forks += 1
        reached_total += reached
        written += child["written"]
        if not reached:
            return forks, reached_total, written

read, write = os.pipe()
pid = os.fork()
if pid == 0:
    try:
        os.write(write, json.dumps(inject_in_grandchildren()).encode())
    except BaseException:
        import traceback
        traceback.print_exc()
        os._exit(1)
    os._exit(0)
os.close(write)
with os.fdopen(read) as pipe:
    outer, injected_elsewhere, elsewhere = json.load(pipe)
assert os.waitpid(pid, 0)[1] == 0
""",
}


@pytest.mark.parametrize("case", list(INJECT_CASES))
def test_a_record_logged_at_any_bytecode_of_the_callers_path_gets_through(db_path, case):
    """Issue 16.2, the whole class: every lock the caller's path can take."""
    code = (
        INJECT
        + INJECT_CASES[case]
        + """
report(handler, injected=next(injected), outer=outer, elsewhere=elsewhere,
       full=sum(full), injected_elsewhere=globals().get("injected_elsewhere", 0))
"""
    )
    summary = run_child(code, db_path)
    assert summary["failed"] == 0
    if case == "first-record-after-fork":  # each child's counts were checked in the child
        assert summary["outer"] > 100
        assert count(db_path, "outer in child") == summary["outer"]
        assert count(db_path, "injected") == summary["injected_elsewhere"] > 100
        return
    assert summary["outer"] > 500 and summary["injected"] > 500  # the premise
    if case.startswith("full-queue"):  # the premise: most calls found the queue full
        assert summary["full"] > summary["outer"] // 2
    if case == "unmergeable":
        assert count(db_path, "[unmerged] %") == summary["outer"] + summary["injected"]
    elif case != "full-queue-drop":
        assert summary["dropped"] == 0
        assert count(db_path, "outer") == summary["outer"]
        assert count(db_path, "injected") == summary["injected"]


if sys.platform != "linux":  # pragma: no cover - the battery runs on Linux
    pytestmark = pytest.mark.skip("signals and fork as on Linux")
