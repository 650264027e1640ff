"""What a logging call costs, against the standard library's handlers in the same run.

Run the timings with::

    python -m pytest tests/benchmarks --benchmark-enable --benchmark-group-by=group

In the normal suite (``--benchmark-disable``) each body runs once, untimed, so the
benchmarks cannot rot. Compare ratios within one run: this machine is noisy.
"""

from __future__ import annotations

import itertools
import logging
import logging.handlers
import queue
import sqlite3

import pytest

from sqlite_logging_handler import SQLiteHandler

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
        return SQLiteHandler(path + ".db")
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
    return (log, handler), {}


def _teardown(log: logging.Logger, handler: logging.Handler) -> None:
    log.removeHandler(handler)
    handler.close()


KINDS = ["null", "file", "queue+file", "sqlite"]


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

    def emit_and_flush(log, handler):
        for i in range(N):
            _message(log, i)
        handler.flush()

    benchmark.pedantic(
        emit_and_flush, setup=lambda: _setup(kind, tmp_path), teardown=_teardown, rounds=5
    )


def test_sqlite_benchmark_really_writes(tmp_path):
    """Guard against timing a no-op: the benchmarked path stores every record."""
    (log, handler), _ = _setup("sqlite", tmp_path)
    for i in range(N):
        _message(log, i)
    assert handler.flush()
    conn = sqlite3.connect(handler.database)
    assert conn.execute("SELECT COUNT(*) FROM logs").fetchone()[0] == N
    conn.close()
    _teardown(log, handler)
