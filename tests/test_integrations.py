"""structlog, loguru and OpenTelemetry, the real packages, logging into SQLiteHandler."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
import structlog
from loguru import logger as loguru_logger
from opentelemetry import trace
from opentelemetry.instrumentation.logging import LoggingInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from sqlite_logging_handler import LogStore, SQLiteHandler

from .conftest import PYTHON, child_env, make_logger, rows


@pytest.fixture
def structlog_reset():
    yield
    structlog.reset_defaults()


def test_structlog_render_to_log_kwargs(handler, db_path, structlog_reset):
    stdlib_logger = make_logger(handler)
    structlog.configure(
        processors=[structlog.stdlib.add_log_level, structlog.stdlib.render_to_log_kwargs],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    log = structlog.get_logger(stdlib_logger.name).bind(user_id=42)
    log.info("user logged in", path="/login")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("payment failed", order=7)
    assert handler.flush()

    first, second = rows(db_path)
    assert (first["level"], first["message"]) == ("INFO", "user logged in")
    assert json.loads(first["extra_data"]) == {"user_id": 42, "path": "/login", "level": "info"}
    assert second["message"] == "payment failed"
    assert json.loads(second["extra_data"])["order"] == 7
    assert "ZeroDivisionError" in second["exc_text"]


def test_structlog_processor_formatter_event_dict(handler, db_path, structlog_reset):
    """``wrap_for_formatter``: ``record.msg`` is the event dict itself."""
    stdlib_logger = make_logger(handler)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(processor=structlog.processors.JSONRenderer())
    )
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    log = structlog.get_logger(stdlib_logger.name).bind(request_id="r-1")
    log.warning("cache miss", key="user:42", attempts=3)
    try:
        _ = {"present": 1}["missing"]
    except KeyError:
        log.exception("lookup failed")
    assert handler.flush()

    first, second = rows(db_path)
    assert (first["level"], first["message"]) == ("WARNING", "cache miss")
    extra = json.loads(first["extra_data"])
    assert {k: extra[k] for k in ("request_id", "key", "attempts")} == {
        "request_id": "r-1",
        "key": "user:42",
        "attempts": 3,
    }
    assert extra["level"] == "warning" and "timestamp" in extra
    assert not {"event", "_logger", "_name"} & set(extra)
    assert second["message"] == "lookup failed"
    assert "KeyError: 'missing'" in second["exc_text"]
    assert "exc_info" not in json.loads(second["extra_data"])


def test_loguru_add_handler_stores_bound_values_at_the_top_level(db_path):
    handler = SQLiteHandler(db_path)
    sink = loguru_logger.add(handler)  # loguru's own default format
    try:
        loguru_logger.bind(user_id=42, region="eu").info("order {} placed", 1001)
        try:
            1 / 0
        except ZeroDivisionError:
            loguru_logger.exception("checkout failed")
        assert handler.flush()
    finally:
        loguru_logger.remove(sink)  # closes the handler, as loguru does for its sinks

    first, second = rows(db_path)
    assert (first["level"], first["message"]) == ("INFO", "order 1001 placed")
    assert json.loads(first["extra_data"]) == {"user_id": 42, "region": "eu"}
    assert first["func_name"] == "test_loguru_add_handler_stores_bound_values_at_the_top_level"
    assert first["thread_id"] == threading.get_ident()
    assert (second["level"], second["message"]) == ("ERROR", "checkout failed")
    assert second["extra_data"] is None
    assert "ZeroDivisionError" in second["exc_text"]
    assert "Traceback" not in second["message"]


def test_loguru_enqueue_keeps_the_callers_thread(db_path):
    handler = SQLiteHandler(db_path)
    sink = loguru_logger.add(handler, format="{message}", enqueue=True)
    try:
        loguru_logger.info("from the main thread")
        loguru_logger.complete()
        assert handler.flush()
    finally:
        loguru_logger.remove(sink)
    (row,) = rows(db_path)
    assert row["message"] == "from the main thread"
    assert row["thread_id"] == threading.get_ident()


def test_an_extra_named_extra_from_plain_logging_is_kept_as_it_is(logger, handler, db_path):
    logger.info("plain", extra={"extra": {"a": 1}})
    handler.flush()
    (row,) = rows(db_path)
    assert json.loads(row["extra_data"]) == {"extra": {"a": 1}}


@pytest.fixture(scope="module")
def tracer():
    provider = TracerProvider()
    return provider.get_tracer("tests")


def test_active_span_ids_are_stored_and_found(handler, logger, db_path, tracer):
    with tracer.start_as_current_span("checkout") as span:
        logger.info("inside the span")
        context = span.get_span_context()
    logger.info("outside any span")
    handler.flush()

    inside, outside = rows(db_path)
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert outside["trace_id"] is None and outside["span_id"] is None
    with LogStore(db_path) as store:
        found = store.logs(trace_id=format(context.trace_id, "032x"))
    assert [r.message for r in found] == ["inside the span"]
    assert found[0].span_id == inside["span_id"]


def test_ids_from_opentelemetry_logging_instrumentation(handler, logger, db_path, tracer):
    trace.set_tracer_provider(TracerProvider())
    instrumentor = LoggingInstrumentor()
    instrumentor.instrument(set_logging_format=False)
    try:
        with tracer.start_as_current_span("job") as span:
            logger.info("instrumented", extra={"job": 3})
            trace_id = format(span.get_span_context().trace_id, "032x")
        logger.info("instrumented, no span")
    finally:
        instrumentor.uninstrument()
    handler.flush()

    inside, outside = rows(db_path)
    assert inside["trace_id"] == trace_id
    extra = json.loads(inside["extra_data"])
    assert extra["job"] == 3
    assert "otelTraceID" not in extra and "otelSpanID" not in extra
    assert outside["trace_id"] is None
    assert "otelTraceID" not in json.loads(outside["extra_data"] or "{}")


def test_outside_a_span_the_trace_id_stays_null(handler, logger, db_path):
    assert "opentelemetry.trace" in sys.modules  # so the handler does look for a span
    logger.info("plain")
    handler.flush()
    (row,) = rows(db_path)
    assert row["trace_id"] is None


def test_none_of_these_packages_is_imported_by_the_handler(db_path):
    """They are test extras only: logging, searching and reading import none of them."""
    script = f"""
import logging, sys
from sqlite_logging_handler import LogStore, SQLiteHandler
handler = SQLiteHandler({str(db_path)!r}, full_text=True)
log = logging.getLogger("plain")
log.addHandler(handler)
log.warning("hello", extra={{"extra": 1}})
handler.close()
with LogStore({str(db_path)!r}) as store:
    assert [r.message for r in store.logs(search="hello")] == ["hello"]
foreign = ("opentelemetry", "structlog", "loguru", "datasette", "sqlite_utils")
print(sorted(m for m in sys.modules if m.split(".")[0] in foreign))
"""
    done = subprocess.run(
        [PYTHON, "-c", script], env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_only_id_text_under_the_instrumentations_names_is_taken_as_ids(handler, logger, db_path):
    """Found by hypothesis: an ``extra={"otelSpanID": None}`` was dropped."""
    odd = {"otelSpanID": None, "otelTraceID": "ABCDEF0123456789abcdef0123456789"}
    logger.info("not ids", extra=odd)
    logger.info("ids", extra={"otelTraceID": "abcdef0123456789abcdef0123456789", "otelSpanID": "0"})
    handler.flush()

    not_ids, ids = rows(db_path)
    assert json.loads(not_ids["extra_data"]) == odd  # upper case: not what OTel writes
    assert not_ids["trace_id"] is None
    assert (ids["trace_id"], ids["span_id"]) == ("abcdef0123456789abcdef0123456789", None)
    assert ids["extra_data"] is None
