"""Every code block of the seed README runs against this package and does what it says.

The README (``tests/seed/multi_threaded_logging_README.md``, a copy of
``shared/seed/``) is run block by block, unchanged, in a namespace holding what its
``logger.py`` would have imported. Where the README itself is a sketch, the adaptation
is made here and says why: ``self.handle_request`` is defined, ``psutil`` is a stand-in
and its endless loop runs once, the ``@profile_function(logger)`` decorator (which takes
the function as a second argument) is applied by a call, and the seed's internal
``SqliteWorker(db_path, max_count=500)`` is the logger's own worker.
"""

from __future__ import annotations

import gc
import io
import logging
import re
import socket
import threading
import time
import types
import unittest
import weakref
from pathlib import Path

import pytest

from sqlite_logging_handler import MultiThreadedLogger

from .conftest import REPO, rows

SEED = Path(__file__).parent / "seed" / "multi_threaded_logging_README.md"
SHARED_SEED = REPO.parent / "shared" / "seed" / "multi_threaded_logging_README.md"
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks() -> list[str]:
    return [code for lang, code in _BLOCK.findall(SEED.read_text()) if lang == "python"]


def block(starting_with: str) -> str:
    """The one python block of the seed README whose text starts with ``starting_with``."""
    (code,) = [code for code in python_blocks() if code.startswith(starting_with)]
    return code


def run(code: str, namespace: dict[str, object]) -> dict[str, object]:
    exec(compile(code, str(SEED), "exec"), namespace)
    return namespace


@pytest.fixture
def ns(tmp_path, monkeypatch):
    """What the seed's logger.py has in scope; every MultiThreadedLogger closed after."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {
        "MultiThreadedLogger": MultiThreadedLogger,
        "threading": threading,
        "time": time,
    }
    yield namespace
    for value in list(namespace.values()):
        if isinstance(value, MultiThreadedLogger):
            value.close()
        if hasattr(value, "logger") and isinstance(value.logger, MultiThreadedLogger):
            value.logger.close()


def test_the_copy_of_the_seed_readme_is_current():
    if not SHARED_SEED.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert SEED.read_text() == SHARED_SEED.read_text()


def test_every_python_block_is_exercised_below():
    assert len(python_blocks()) == 17


def test_thread_safe_concurrent_logging(ns):
    run(block("# Multiple threads logging simultaneously"), ns)
    for thread in ns["threads"]:  # the README starts them; its program would join them
        thread.join()
    logger = ns["logger"]
    assert logger.db_path == "system_logs.db"
    logs = logger.get_logs(limit=100)
    assert [(r.level, r.module, r.message) for r in logs] == [
        ("INFO", "worker", "Processing task")
    ] * 10
    metrics = logger.get_metrics(limit=100)
    assert [(m.metric_name, m.value, m.unit) for m in metrics] == [
        ("task_duration", 123.45, "ms")
    ] * 10


@pytest.fixture
def logger(ns):
    ns["logger"] = MultiThreadedLogger("app.db")
    return ns["logger"]


def test_structured_log_levels(ns, logger):
    run(block("# Standard log levels"), ns)
    for level in ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]:
        (row,) = logger.get_logs(level=level)
        assert (row.module, row.message) == ("module", f"{level.capitalize()} message")


def test_performance_metrics(ns, logger):
    run(block("# Log performance metrics"), ns)
    stored = [(m.metric_name, m.value, m.unit) for m in logger.get_metrics()]
    assert stored == [
        ("requests_per_second", 1250.0, "req/s"),
        ("memory_usage", 512.0, "MB"),
        ("response_time", 45.2, "ms"),
    ]


def test_rich_metadata(ns, logger):
    run(block("# Include extra data with logs"), ns)
    (row,) = logger.get_logs()
    assert (row.level, row.module, row.message) == ("INFO", "api", "Request processed")
    assert row.extra_data == {
        "user_id": 12345,
        "endpoint": "/api/users",
        "status_code": 200,
        "duration_ms": 23.4,
    }


def test_fast_queries(ns, logger):
    logger.log("ERROR", "db", "connection lost")
    logger.log("INFO", "db", "reconnected")
    logger.log_metric("cpu_usage", 37.5, "%")
    run(block("# Get logs by level"), ns)
    assert [r.message for r in ns["error_logs"]] == ["connection lost"]
    assert [(m.metric_name, m.value) for m in ns["cpu_metrics"]] == [("cpu_usage", 37.5)]
    stats = ns["stats"]
    assert stats["total_logs"] == 2
    assert stats["total_metrics"] == 1
    assert stats["logs_by_level"] == {"ERROR": 1, "INFO": 1}
    assert set(stats) >= {"logs_by_thread", "logs_by_logger", "first", "last"}


def test_application_logging(ns):
    run(block("class MyApplication:"), ns)

    app = ns["MyApplication"]()
    ns["app"] = app
    # The README leaves handle_request to the reader.
    app.handle_request = lambda request: f"handled {request.path}"
    request = types.SimpleNamespace(path="/api/users")
    assert app.process_request(request) == "handled /api/users"
    (row,) = app.logger.get_logs()
    assert (row.module, row.message) == ("api", "Processing /api/users")
    (metric,) = app.logger.get_metrics(metric_name="request_duration")
    assert metric.unit == "ms"
    assert metric.value >= 0


class _StopMonitoringError(Exception):
    pass


def test_system_monitoring(ns, logger, monkeypatch):
    psutil = types.SimpleNamespace(
        cpu_percent=lambda: 12.5,
        virtual_memory=lambda: types.SimpleNamespace(percent=40.0),
        disk_usage=lambda path: types.SimpleNamespace(percent=70.0),
    )
    monkeypatch.setitem(__import__("sys").modules, "psutil", psutil)

    def sleep(seconds):  # ends the README's endless loop after one round
        assert seconds == 60
        raise _StopMonitoringError

    ns["time"] = types.SimpleNamespace(sleep=sleep)
    run(block("import psutil"), ns)
    with pytest.raises(_StopMonitoringError):
        ns["monitor_system"](logger)
    stored = {(m.metric_name, m.value, m.unit) for m in logger.get_metrics()}
    assert stored == {
        ("cpu_percent", 12.5, "%"),
        ("memory_percent", 40.0, "%"),
        ("disk_usage", 70.0, "%"),
    }


def test_distributed_system_logging(ns, tmp_path):
    run(block("# Log from multiple services"), ns)
    logger = ns["logger"]
    logs = logger.get_logs()
    assert {(r.module, r.message) for r in logs} == {
        ("service_a", "Request received"),
        ("service_b", "Processing request"),
    }
    assert {r.extra_data["request_id"] for r in logs} == {"req_123"}
    logger.close()
    assert len(rows(tmp_path / "distributed_logs.db")) == 2


def test_performance_profiling(ns, logger):
    code = block("def profile_function(logger, func):")
    # The README decorates with @profile_function(logger), but profile_function
    # takes the function as its second argument: apply it by a call instead.
    assert "@profile_function(logger)\n" in code
    code = code.replace("@profile_function(logger)\n", "")
    code += "\nexpensive_operation = profile_function(logger, expensive_operation)\n"
    run(code, ns)
    assert ns["expensive_operation"]() is None
    (metric,) = logger.get_metrics()
    assert (metric.metric_name, metric.unit) == ("function_expensive_operation_duration", "ms")


def configured(ns):
    """The 'Customize Batch Size' block: the seed's internal worker is the logger's own."""
    ns["db_path"] = "logs.db"
    ns["SqliteWorker"] = lambda path, max_count=50: ns["logger"].worker
    return run(block("logger = MultiThreadedLogger("), ns)


def test_configuration_options(ns):
    configured(ns)
    logger = ns["logger"]
    assert (logger.db_path, logger.max_workers) == ("logs.db", 10)
    logger.log("INFO", "config", "configured")
    assert ns["worker"].fetch_results(ns["worker"].execute("SELECT message FROM logs")) == [
        ("configured",)
    ]


def test_custom_schema(ns):
    configured(ns)
    ns.update(timestamp="2026-11-28 08:00:00.000", level="INFO", module="host", message="hi")
    ns["socket"] = socket
    run(block("# Add custom fields to logs table"), ns)
    ns["logger"].log("INFO", "after", "written after the ALTER")
    assert len(ns["logger"].get_logs()) == 2  # the getters flush
    stored = rows("logs.db", "SELECT module, message, hostname FROM logs ORDER BY id")
    assert [tuple(r) for r in stored] == [
        ("host", "hi", socket.gethostname()),
        ("after", "written after the ALTER", None),
    ]


@pytest.fixture
def known_data(ns):
    """Records and metrics whose answers to the README's queries are known."""
    configured(ns)
    logger, worker = ns["logger"], ns["worker"]
    logger.log("ERROR", "payments", "card declined")
    logger.log("INFO", "payments", "retrying")
    logger.log("ERROR", "db", "deadlock")
    worker.execute(
        "INSERT INTO logs (timestamp, level, module, message) "
        "VALUES (datetime('now', '-2 hours'), 'ERROR', 'old', 'two hours ago')"
    )
    for value in (10, 20, 30):
        logger.log_metric("request_duration", value, "ms")
    for name, value in [
        ("operation_duration_a", 5),
        ("operation_duration_a", 50),
        ("operation_duration_b", 7),
        ("cache_hit", 1000),
    ]:
        logger.log_metric(name, value, "ms")
    return logger, worker


def test_query_errors_in_the_last_hour(ns, known_data):
    run(block('token = worker.execute("""\n    SELECT timestamp, module, message'), ns)
    assert [(module, message) for _, module, message in ns["errors"]] == [
        ("db", "deadlock"),
        ("payments", "card declined"),
    ]


def test_query_average_response_time(ns, known_data):
    run(block('token = worker.execute("""\n    SELECT AVG(value)'), ns)
    assert ns["avg_time"] == 20.0


def test_query_logs_by_thread(ns, known_data):
    logger = ns["logger"]
    counts = {1: 0, 2: 0, 3: 0}
    all_alive = threading.Barrier(3)  # so that no two threads share an ident

    def log_n(n):
        all_alive.wait()
        for _ in range(n):
            logger.log("INFO", "t", "x")
        counts[n] = threading.get_ident()
        all_alive.wait()

    threads = [threading.Thread(target=log_n, args=(n,)) for n in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run(block('token = worker.execute("""\n    SELECT thread_id, COUNT(*)'), ns)
    by_thread = dict(ns["thread_stats"])
    for n in (1, 2, 3):
        assert by_thread[counts[n]] == n
    assert ns["thread_stats"][0][1] == max(by_thread.values())


def test_query_top_slowest_operations(ns, known_data):
    run(block('token = worker.execute("""\n    SELECT metric_name, MAX(value)'), ns)
    assert ns["slowest"] == [("operation_duration_a", 50.0), ("operation_duration_b", 7.0)]


def test_integration_with_standard_logging(ns, logger):
    root = logging.getLogger()
    root.setLevel(logging.INFO)  # the README assumes INFO reaches the root handlers
    run(block("import logging\n\nclass SqliteHandler"), ns)
    root.removeHandler(ns["handler"])
    (row,) = logger.get_logs()
    assert (row.level, row.module, row.message) == ("INFO", "root", "This goes to SQLite!")
    assert row.extra_data["filename"] == "multi_threaded_logging_README.md"
    assert isinstance(row.extra_data["lineno"], int)


def test_the_seed_unittest_class_passes_unchanged(ns):
    run(block("import unittest"), ns)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(ns["TestLogger"])
    created: list[MultiThreadedLogger] = []
    original_init = MultiThreadedLogger.__init__

    def tracking_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        created.append(self)

    MultiThreadedLogger.__init__ = tracking_init  # type: ignore[method-assign]
    try:
        result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
    finally:
        MultiThreadedLogger.__init__ = original_init  # type: ignore[method-assign]
        for made in created:  # the README's setUp has no tearDown
            made.close()
    assert result.testsRun == 2
    assert result.wasSuccessful(), result.failures + result.errors


def test_fetch_results_returns_the_rows_every_time_while_the_token_is_kept(tmp_path):
    """Issue 14.13: docs/seed.md says every time; the second call returned None."""
    logger = MultiThreadedLogger(tmp_path / "seed.db")
    try:
        logger.log("INFO", "m", "one")
        token = logger.worker.execute("SELECT message FROM logs")
        assert logger.worker.fetch_results(token) == [("one",)]
        assert logger.worker.fetch_results(token) == [("one",)]
        assert logger.worker.fetch_results(str(token)) == [("one",)]  # an equal string
        first = logger.worker.fetch_results(token)
        assert first is not None
        first.clear()  # a new list each time
        assert logger.worker.fetch_results(token) == [("one",)]
        assert logger.worker.fetch_results(None) is None
        assert logger.worker.fetch_results("result-999") is None
        kept = weakref.ref(token)
        text = str(token)
        del token
        gc.collect()
        assert kept() is None  # nothing is kept once the caller drops the token
        assert logger.worker.fetch_results(text) is None
    finally:
        logger.close()


def test_a_worker_never_returns_the_rows_of_another_workers_token(tmp_path):
    """Issue 14.13 follow-up: two loggers' first tokens were both 'result-1'."""
    a = MultiThreadedLogger(tmp_path / "a.db")
    b = MultiThreadedLogger(tmp_path / "b.db")
    try:
        a.log("INFO", "m", "in a")
        b.log("INFO", "m", "in b")
        a_token = a.worker.execute("SELECT message FROM logs")
        b_token = b.worker.execute("SELECT message FROM logs")
        assert a_token != b_token  # distinct texts, as the seed's uuid4 tokens were
        assert a.worker.fetch_results(b_token) is None
        assert a.worker.fetch_results(str(b_token)) is None
        assert b.worker.fetch_results(a_token) is None
        assert a.worker.fetch_results(a_token) == [("in a",)]
        assert b.worker.fetch_results(str(b_token)) == [("in b",)]
        # Tokens are never reused: one given after another was dropped is new text.
        first = str(a_token)
        del a_token
        gc.collect()
        assert str(a.worker.execute("SELECT message FROM logs")) != first
    finally:
        a.close()
        b.close()
