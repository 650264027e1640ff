"""MetricsAdapter: metrics travel through logging and land in the metrics table."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import math
import subprocess
import time
import warnings
from fractions import Fraction

import pytest

from sqlite_logging_handler import MetricsAdapter

from .conftest import PYTHON, child_env, rows


@pytest.fixture
def metrics(logger):
    return MetricsAdapter(logger)


def metric_rows(db_path):
    return rows(db_path, "SELECT * FROM metrics ORDER BY id")


def test_record_stores_a_metric_row_not_a_log_row(handler, metrics, db_path):
    metrics.record("response_time", 45.2, "ms", tags={"endpoint": "/api/users"})
    handler.flush()
    (row,) = metric_rows(db_path)
    assert (row["metric_name"], row["value"], row["unit"]) == ("response_time", 45.2, "ms")
    assert json.loads(row["tags"]) == {"endpoint": "/api/users"}
    assert row["logger"] == metrics.logger.name
    assert row["process"] > 0
    assert row["thread_id"] > 0
    assert rows(db_path) == []  # nothing in logs


def test_increment_and_gauge(handler, metrics, db_path):
    metrics.increment("requests")
    metrics.increment("requests", 5, tags={"code": 200})
    metrics.gauge("memory_usage", 512, "MB")
    handler.flush()
    stored = [(r["metric_name"], r["value"], r["unit"], r["tags"]) for r in metric_rows(db_path)]
    assert stored == [
        ("requests", 1.0, "count", None),
        ("requests", 5.0, "count", '{"code":200}'),
        ("memory_usage", 512.0, "MB", None),
    ]


def test_adapter_extra_are_default_tags_and_call_tags_override(handler, logger, db_path):
    metrics = MetricsAdapter(logger, {"service": "api", "region": "eu"})
    metrics.record("latency", 1, "ms", tags={"region": "us", "route": "/x"})
    metrics.record("latency", 2, "ms")
    handler.flush()
    tags = [json.loads(r["tags"]) for r in metric_rows(db_path)]
    assert tags == [
        {"service": "api", "region": "us", "route": "/x"},
        {"service": "api", "region": "eu"},
    ]


def test_timer_as_context_manager_records_elapsed_milliseconds(handler, metrics, db_path):
    started = time.perf_counter()
    with metrics.timer("db_query") as timer:
        time.sleep(0.02)
    outer = (time.perf_counter() - started) * 1000
    handler.flush()
    (row,) = metric_rows(db_path)
    assert (row["metric_name"], row["unit"]) == ("db_query", "ms")
    assert 20 <= row["value"] <= outer
    assert row["value"] == pytest.approx(timer.elapsed)


def test_timer_as_decorator_times_every_call(handler, metrics, db_path):
    @metrics.timer("expensive_operation", tags={"kind": "batch"})
    def work(n):
        return n * 2

    assert [work(1), work(2), work(3)] == [2, 4, 6]
    handler.flush()
    stored = metric_rows(db_path)
    assert [r["metric_name"] for r in stored] == ["expensive_operation"] * 3
    assert all(json.loads(r["tags"]) == {"kind": "batch"} for r in stored)


def test_timer_records_when_the_body_raises_and_the_exception_propagates(handler, metrics, db_path):
    with pytest.raises(KeyError), metrics.timer("lookup"):
        raise KeyError("missing")
    handler.flush()
    (row,) = metric_rows(db_path)
    assert json.loads(row["tags"]) == {"error": "KeyError"}


def test_timer_in_seconds(handler, metrics, db_path):
    with metrics.timer("slow", unit="s"):
        pass
    handler.flush()
    (row,) = metric_rows(db_path)
    assert row["unit"] == "s"
    assert row["value"] < 1


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (-math.inf, ValueError),
        ("12", TypeError),
        (None, TypeError),
        (True, TypeError),
        ([1], TypeError),
    ],
)
def test_values_must_be_finite_real_numbers(handler, metrics, db_path, value, error):
    with pytest.raises(error, match="metric value"):
        metrics.record("x", value)
    handler.flush()
    assert metric_rows(db_path) == []


def test_other_real_numbers_are_accepted(handler, metrics, db_path):
    metrics.record("fraction", Fraction(1, 4))
    metrics.record("int", 3)
    handler.flush()
    assert [r["value"] for r in metric_rows(db_path)] == [0.25, 3.0]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda m: m.record("", 1), ValueError),
        (lambda m: m.record(5, 1), TypeError),
        (lambda m: m.record("x", 1, unit=3), TypeError),
        (lambda m: m.timer("x", unit="minutes"), ValueError),
    ],
)
def test_bad_names_and_units_raise(metrics, call, error):
    with pytest.raises(error):
        call(metrics)


def test_level_defaults_to_info_and_is_settable(handler, logger, db_path):
    logger.setLevel(logging.INFO)
    MetricsAdapter(logger, level="DEBUG").record("hidden", 1)
    MetricsAdapter(logger).record("shown", 1)
    MetricsAdapter(logger, level=logging.WARNING).record("loud", 1)
    handler.flush()
    assert [r["metric_name"] for r in metric_rows(db_path)] == ["shown", "loud"]
    with pytest.raises(ValueError, match="level"):
        MetricsAdapter(logger, level="LOUDEST")


def test_other_handlers_see_a_readable_line(handler, logger, metrics):
    stream = io.StringIO()
    console = logging.StreamHandler(stream)
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(console)
    metrics.record("db_query", 12.3, "ms")
    metrics.increment("hits")
    logger.removeHandler(console)
    assert stream.getvalue().splitlines() == [
        "INFO metric db_query=12.3 ms",
        "INFO metric hits=1 count",
    ]


def test_filters_apply_to_metrics(handler, logger, metrics, db_path):
    handler.addFilter(lambda record: record.getMessage() != "metric secret=1")
    metrics.record("secret", 1)
    metrics.record("public", 1)
    handler.flush()
    assert [r["metric_name"] for r in metric_rows(db_path)] == ["public"]


def test_the_record_names_the_callers_line(handler, logger, metrics, db_path):
    seen = []

    def remember(record):
        seen.append((record.funcName, record.lineno))
        return True

    logger.addFilter(remember)
    metrics.gauge("g", 1)
    line = seen[-1][1]
    with metrics.timer("t"):
        pass

    @metrics.timer("d")
    def decorated():
        pass

    decorated()
    name = "test_the_record_names_the_callers_line"
    assert seen[0] == (name, line)
    assert seen[1] == (name, line + 2)  # the with statement
    assert seen[2] == (name, line + 9)  # the call of the decorated function


def test_ordinary_logging_through_the_adapter_merges_extra(handler, logger, db_path):
    metrics = MetricsAdapter(logger, {"service": "api"})
    metrics.info("still an ordinary adapter", extra={"user": 7})
    handler.flush()
    (row,) = rows(db_path)
    assert row["message"] == "still an ordinary adapter"
    assert json.loads(row["extra_data"]) == {"service": "api", "user": 7}


def test_metrics_on_a_logger_without_a_level_are_not_dropped_silently():
    """Issue 14.12: nothing configured, the logger is at the root's WARNING; said once."""
    code = """
import logging
from sqlite_logging_handler import MetricsAdapter
metrics = MetricsAdapter(logging.getLogger("svc"))
for _ in range(3):
    metrics.increment("jobs")
with metrics.timer("work"):
    pass
"""
    result = subprocess.run(
        [PYTHON, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "not recorded" in line]
    assert len(said) == 1, result.stderr
    assert "<string>:6: RuntimeWarning: metrics through logger 'svc' are not recorded" in said[0]
    assert "setLevel(logging.INFO)" in said[0]


def test_a_timers_warning_names_the_callers_line(handler, logger):
    logger.setLevel(logging.WARNING)
    metrics = MetricsAdapter(logger)
    with pytest.warns(RuntimeWarning, match="not recorded") as said, metrics.timer("t"):
        pass
    assert said[0].filename == __file__


def test_debug_metrics_below_the_level_are_dropped_quietly(handler, logger, db_path, recwarn):
    logger.setLevel(logging.INFO)
    MetricsAdapter(logger, level=logging.DEBUG).increment("verbose")
    handler.flush()
    assert metric_rows(db_path) == []
    assert not recwarn.list


# -- metrics not recorded: said once, with the real cause, never raised (#14.12 follow-up) --


def run_python(code: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, *options, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60
    )


def test_the_warning_is_never_raised_into_the_application_even_under_w_error():
    code = """
import logging, warnings
from sqlite_logging_handler import MetricsAdapter
metrics = MetricsAdapter(logging.getLogger("svc"))
metrics.increment("jobs")
metrics.increment("jobs")
with warnings.catch_warnings():
    warnings.simplefilter("error")
    MetricsAdapter(logging.getLogger("other")).gauge("depth", 3)
print("still running")
"""
    result = run_python(code, "-W", "error")
    assert (result.returncode, result.stdout) == (0, "still running\n"), result.stderr
    said = [line for line in result.stderr.splitlines() if "not recorded" in line]
    assert len(said) == 2, result.stderr  # once per logger, on stderr instead
    assert "<string>:5: RuntimeWarning: metrics through logger 'svc' are not recorded" in said[0]
    assert "<string>:9: RuntimeWarning: metrics through logger 'other'" in said[1]


def test_an_ignore_filter_still_silences_it():
    code = """
import logging
from sqlite_logging_handler import MetricsAdapter
MetricsAdapter(logging.getLogger("svc")).increment("jobs")
"""
    result = run_python(code, "-W", "ignore::RuntimeWarning")
    assert (result.returncode, result.stderr) == (0, "")


def not_recorded_warning(logger: logging.Logger, *, level: int = logging.INFO) -> str:
    with pytest.warns(RuntimeWarning, match="not recorded") as said:
        MetricsAdapter(logger, level=level).increment("jobs")
    assert said[0].filename == __file__
    return str(said[0].message)


def test_a_disabled_logger_is_named_as_the_cause(logger):
    logger.setLevel(logging.INFO)
    logger.disabled = True  # what dictConfig does to the loggers that existed before it
    text = not_recorded_warning(logger)
    assert "it is disabled" in text
    assert "disable_existing_loggers" in text
    assert "effective level" not in text


def test_a_logger_dictconfig_disabled_is_named_as_the_cause(logger):
    logger.setLevel(logging.INFO)
    logging.config.dictConfig({"version": 1, "root": {"level": "INFO"}})
    assert logger.disabled  # the premise: dictConfig disabled the existing logger
    assert "it is disabled" in not_recorded_warning(logger)


def test_logging_disable_is_named_as_the_cause(logger):
    logger.setLevel(logging.INFO)
    logging.disable(logging.INFO)
    try:
        text = not_recorded_warning(logger)
    finally:
        logging.disable(logging.NOTSET)
    assert "logging.disable(INFO)" in text
    assert "effective level" not in text


def test_an_inherited_level_names_the_logger_it_comes_from(logger):
    logger.setLevel(logging.WARNING)
    child = logging.getLogger(f"{logger.name}.jobs")
    text = not_recorded_warning(child)
    assert f"its effective level is WARNING, set on logger {logger.name!r}" in text
    assert f"logging.getLogger({child.name!r}).setLevel(logging.INFO)" in text


def test_the_root_loggers_default_level_is_named_as_such():
    code = """
import logging
from sqlite_logging_handler import MetricsAdapter
MetricsAdapter(logging.getLogger("svc")).increment("jobs")
"""
    result = run_python(code)
    assert "its effective level is WARNING, set on the root logger" in result.stderr


def test_metrics_with_no_handler_anywhere_are_said_to_go_nowhere():
    code = """
import logging
from sqlite_logging_handler import MetricsAdapter
log = logging.getLogger("svc")
log.setLevel(logging.INFO)
metrics = MetricsAdapter(log)
metrics.increment("jobs")
metrics.increment("jobs")
"""
    result = run_python(code)
    said = [line for line in result.stderr.splitlines() if "not recorded" in line]
    assert len(said) == 1, result.stderr
    assert "<string>:7: RuntimeWarning: metrics through logger 'svc' are not recorded" in said[0]
    assert "no handler" in said[0]


def test_a_handler_level_above_the_metrics_level_is_the_users_choice(logger, handler, db_path):
    """Documented: a handler's own level filters metric records, as any record, silently."""
    logger.setLevel(logging.INFO)
    handler.setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MetricsAdapter(logger).increment("jobs")
    handler.flush()
    assert metric_rows(db_path) == []
