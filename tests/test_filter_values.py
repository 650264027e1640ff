"""Filter values ``LogStore`` cannot compare are refused at the call, never searched in vain (#15).

Each filter either finds what a user means or raises a ``TypeError``/``ValueError``
naming the argument and the bad part: a value stored as a ``repr()`` with a memory
address (``object()``, a function), an empty logger or metric name, a trace id that
is not one. Decided and documented (docs/queries.md): ``None`` matches a stored JSON
``null`` (not a missing key), and ``""`` is a key like any other.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sqlite_logging_handler import LogStore, MetricsAdapter, SQLiteHandler

from .conftest import PYTHON, child_env, make_logger

TRACE = "0123456789abcdef0123456789abcdef"


class Plain:
    """A class without ``__repr__``: its repr is ``<...Plain object at 0x...>``."""


class Named:
    def __repr__(self) -> str:
        return "Named('x')"


@dataclasses.dataclass
class Holder:
    inner: Any


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "logs.db"
    handler = SQLiteHandler(str(path))
    log = make_logger(handler)
    log.info("null user", extra={"user": None})
    log.info("no user")
    log.info("empty key", extra={"": 1})
    log.info("named", extra={"obj": Named(), "when": datetime.date(2026, 11, 30)})
    log.info("traced", extra={"otelTraceID": TRACE, "otelSpanID": "0123456789abcdef"})
    MetricsAdapter(log).record("latency", 1.0, tags={"route": "/x"})
    handler.close()
    return path


@pytest.mark.parametrize(
    ("extra", "where", "kind"),
    [
        ({"a": object()}, "extra['a']", "object"),
        ({"a": Plain()}, "extra['a']", "Plain"),
        ({"a": lambda: 0}, "extra['a']", "function"),
        ({"user": {"obj": object()}}, "extra['user']['obj']", "object"),
        ({"ids": [1, Plain()]}, "extra['ids'][1]", "Plain"),
        ({"held": Holder(object())}, "extra['held']['inner']", "object"),
    ],
)
def test_a_value_stored_as_an_address_is_refused_by_every_filter(db, extra, where, kind):
    tags_where = "tags" + where.removeprefix("extra")
    with LogStore(str(db)) as store:
        calls = [
            lambda: store.logs(extra=extra),
            lambda: store.iter_logs(extra=extra),
            lambda: store.count_logs(extra=extra),
            lambda: store.follow(extra=extra),
        ]
        metric_calls = [
            lambda: store.metrics(tags=extra),
            lambda: store.iter_metrics(tags=extra),
            lambda: store.count_metrics(tags=extra),
            lambda: store.metric_summary(tags=extra),
        ]
        for call in calls:
            with pytest.raises(TypeError, match=rf"^{re.escape(where)}: a {kind} value cannot be"):
                call()
        for call in metric_calls:
            with pytest.raises(TypeError, match=rf"^{re.escape(tags_where)}: a {kind} value"):
                call()


def test_values_with_a_form_of_their_own_are_found(db):
    with LogStore(str(db)) as store:
        assert [r.message for r in store.logs(extra={"obj": Named()})] == ["named"]
        assert [r.message for r in store.logs(extra={"when": datetime.date(2026, 11, 30)})] == [
            "named"
        ]


def test_none_matches_a_stored_null_not_a_missing_key(db):
    with LogStore(str(db)) as store:
        assert [r.message for r in store.logs(extra={"user": None})] == ["null user"]


def test_the_empty_key_is_a_key(db):
    with LogStore(str(db)) as store:
        assert [r.message for r in store.logs(extra={"": 1})] == ["empty key"]
        assert store.logs(extra={"": 2}) == []


@pytest.mark.parametrize(
    ("method", "keyword", "said"),
    [
        ("logs", "logger", "logger must name a logger"),
        ("count_logs", "logger", "logger must name a logger"),
        ("follow", "logger", "logger must name a logger"),
        ("metrics", "name", "name must name a metric"),
        ("metric_summary", "name", "name must name a metric"),
        ("count_metrics", "name", "name must name a metric"),
    ],
)
def test_an_empty_logger_or_metric_name_is_refused(db, method, keyword, said):
    with LogStore(str(db)) as store, pytest.raises(ValueError, match=rf"^{said}"):
        getattr(store, method)(**{keyword: ""})


@pytest.mark.parametrize("bad", ["xyz", TRACE[:-1], TRACE + "0", "0x" + TRACE[2:], "0"])
def test_a_trace_id_that_is_not_one_is_refused(db, bad):
    with LogStore(str(db)) as store:
        with pytest.raises(ValueError, match=r"^trace_id must be an OpenTelemetry trace id"):
            store.logs(trace_id=bad)
        assert [r.message for r in store.logs(trace_id=TRACE.upper())] == ["traced"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["query", "--logger", ""], "logger must name a logger"),
        (["query", "--trace-id", "xyz"], "trace_id must be an OpenTelemetry trace id"),
        (["metrics", ""], "name must name a metric"),
        (["export", "metrics", "--name", ""], "name must name a metric"),
    ],
)
def test_the_command_line_says_so_with_exit_status_2(db, args, said):
    result = subprocess.run(
        [PYTHON, "-m", "sqlite_logging_handler", "--db", str(db), *args],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result
    assert said in result.stderr and result.stdout == ""
