"""What a logging call costs, against the standard library's handlers in the same run.

Run the timings with::

    python -m pytest tests/benchmarks --benchmark-enable --benchmark-group-by=group

In the normal suite (``--benchmark-disable``) each body runs once, untimed, so the
benchmarks cannot rot. Compare ratios within one run: this machine is noisy.
``sqlite`` is ``SQLiteHandler`` with the writer thread, ``sqlite-process`` with
``writer="process"`` (whatever the run's default writer is); a handler's writer is
ready (its first record committed) before the timing starts.
"""

from __future__ import annotations

import itertools
import logging
import logging.handlers
import queue
import sqlite3
import subprocess
import sys
import threading

import pytest

from sqlite_logging_handler import MetricsAdapter, SQLiteHandler

from ..conftest import child_env

N = 2_000
_names = itertools.count()


def _message(log: logging.Logger, i: int) -> None:
    log.info("request %d done in %.1f ms", i, 12.5, extra={"user_id": i, "path": "/api/users"})


class _QueuePipeline(logging.handlers.QueueHandler):
    """The stdlib's own non-blocking pipeline: QueueHandler + QueueListener -> file."""

    def __init__(self, path: str) -> None:
        super().__init__(queue.Queue(-1))
        self._file = logging.FileHandler(path)
        self._listener = logging.handlers.QueueListener(self.queue, self._file)
        self._listener.start()

    def flush(self) -> None:
        self._listener.stop()  # drains the queue
        self._listener.start()

    def close(self) -> None:
        self._listener.stop()
        self._file.close()
        super().close()


def _make(kind: str, tmp_path) -> logging.Handler:
    path = str(tmp_path / f"{next(_names)}")
    if kind == "sqlite":
        return SQLiteHandler(path + ".db", writer="thread")
    if kind == "sqlite-process":
        return SQLiteHandler(path + ".db", writer="process")
    if kind == "sqlite+full_text":
        return SQLiteHandler(path + ".db", full_text=True, writer="thread")
    if kind == "file":
        return logging.FileHandler(path + ".log")
    if kind == "queue+file":
        return _QueuePipeline(path + ".log")
    return logging.NullHandler()


def _setup(kind: str, tmp_path):
    handler = _make(kind, tmp_path)
    log = logging.getLogger(f"bench.{next(_names)}")
    log.setLevel(logging.INFO)  # else info() is filtered and we time isEnabledFor
    log.propagate = False
    log.addHandler(handler)
    if isinstance(handler, SQLiteHandler):  # a writer process has started
        log.info("ready")
        handler.flush()
    return (log, handler), {}


def _teardown(log: logging.Logger, handler: logging.Handler) -> None:
    log.removeHandler(handler)
    handler.close()


KINDS = ["null", "file", "queue+file", "sqlite", "sqlite-process"]


@pytest.mark.benchmark(group="caller: N logger.info calls")
@pytest.mark.parametrize("kind", KINDS)
def test_caller_cost(benchmark, tmp_path, kind):
    """Time spent in the calling thread for N calls; writing goes on behind it."""

    def emit(log, handler):
        for i in range(N):
            _message(log, i)

    benchmark.pedantic(emit, setup=lambda: _setup(kind, tmp_path), teardown=_teardown, rounds=5)


@pytest.mark.benchmark(group="end to end: N records until flush() returns")
@pytest.mark.parametrize("kind", KINDS)
def test_end_to_end(benchmark, tmp_path, kind):
    """From the first call until every record is stored (flush() has returned)."""

    benchmark.pedantic(
        _emit_and_flush, setup=lambda: _setup(kind, tmp_path), teardown=_teardown, rounds=5
    )


def _emit_and_flush(log: logging.Logger, handler: logging.Handler) -> None:
    for i in range(N):
        _message(log, i)
    handler.flush()


@pytest.mark.benchmark(group="full-text index: N records until flush() returns")
@pytest.mark.parametrize("kind", ["file", "sqlite", "sqlite+full_text"])
def test_full_text_cost(benchmark, tmp_path, kind):
    """What ``full_text=True`` (FTS5 triggers on every row) adds end to end."""
    benchmark.pedantic(
        _emit_and_flush, setup=lambda: _setup(kind, tmp_path), teardown=_teardown, rounds=5
    )


@pytest.mark.parametrize("kind", ["sqlite", "sqlite-process"])
def test_sqlite_benchmark_really_writes(tmp_path, kind):
    """Guard against timing a no-op: the benchmarked path stores every record."""
    (log, handler), _ = _setup(kind, tmp_path)
    for i in range(N):
        _message(log, i)
    assert handler.flush()
    conn = sqlite3.connect(handler.database)
    assert (
        conn.execute("SELECT COUNT(*) FROM logs WHERE message LIKE 'request%'").fetchone()[0] == N
    )
    conn.close()
    _teardown(log, handler)


@pytest.mark.benchmark(group="end to end, 8 threads: N records until flush() returns")
@pytest.mark.parametrize("kind", KINDS)
def test_end_to_end_eight_threads(benchmark, tmp_path, kind):
    """Eight application threads share N records; timed until every one is stored."""

    def emit_from_threads(log, handler):
        per_thread = N // 8
        barrier = threading.Barrier(8)

        def work():
            barrier.wait()
            for i in range(per_thread):
                _message(log, i)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        handler.flush()

    benchmark.pedantic(
        emit_from_threads, setup=lambda: _setup(kind, tmp_path), teardown=_teardown, rounds=3
    )


@pytest.mark.benchmark(group="metrics: N metrics through MetricsAdapter until flush()")
@pytest.mark.parametrize("kind", ["file", "sqlite", "sqlite-process"])
def test_metrics_through_the_adapter(benchmark, tmp_path, kind):
    """MetricsAdapter.record() into SQLiteHandler, beside the same records into a file."""

    def record(log, handler):
        metrics = MetricsAdapter(log, {"service": "api"})
        for i in range(N):
            metrics.record("db_query", 12.5 + i % 7, "ms", tags={"table": "users"})
        handler.flush()

    benchmark.pedantic(record, setup=lambda: _setup(kind, tmp_path), teardown=_teardown, rounds=3)


PROCESS_CHILD = """
import logging, sys
kind, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "sqlite":
    from sqlite_logging_handler import SQLiteHandler
    handler = SQLiteHandler(path)
else:
    handler = logging.FileHandler(path)
log = logging.getLogger("bench")
log.setLevel(logging.INFO)
log.addHandler(handler)
for i in range(count):
    log.info("request %d done in %.1f ms", i, 12.5, extra={"user_id": i, "path": "/api/users"})
"""


@pytest.mark.benchmark(group="4 processes into one file: N records until all exit")
@pytest.mark.parametrize("kind", ["file", "sqlite"])
def test_four_processes_into_one_file(benchmark, tmp_path, kind):
    """Four processes log N/4 records each into one file and exit (exit writes the rest)."""
    path = str(tmp_path / ("shared.db" if kind == "sqlite" else "shared.log"))
    runs: list[int] = []

    def run():
        runs.append(1)
        children = [
            subprocess.Popen([sys.executable, "-c", PROCESS_CHILD, kind, path, str(N // 4)],
                             env=child_env())
            for _ in range(4)
        ]  # fmt: skip
        for child in children:
            assert child.wait(timeout=300) == 0

    benchmark.pedantic(run, rounds=3)
    if kind == "sqlite":
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT COUNT(*) FROM logs").fetchone()[0] == N * len(runs)
        conn.close()
