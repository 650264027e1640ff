"""The seam of writer="process": what the application sends becomes the very row the thread writes.

``log_row`` (the writer thread's conversion) must equal ``finish_row`` applied, in the
writer process, to what ``log_entry`` captured and the pipe carried (``_wire``): the
stored rows, JSON of extras included, are the same in both modes.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import logging
import math
import pickle
import uuid
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sqlite_logging_handler._records import (
    LOG_EXTRA_INDEX,
    METRIC_ATTR,
    MetricPayload,
    finish_row,
    log_entry,
    log_row,
    metric_entry,
    metric_row,
    sanitize_row,
)
from sqlite_logging_handler._wire import ROWS, capture, finish_entries, rows_message


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    LOUD = 35


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


def record(extra: dict[str, object] | None = None, **attributes: object) -> logging.LogRecord:
    made = logging.getLogger("entries").makeRecord(
        "entries", logging.INFO, "/app/x.py", 7, "request %d", (1,), None, "handler", extra
    )
    made.__dict__.update(attributes)
    return made


def through_the_pipe(items: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """What the writer process makes of these queued items: capture, frame, unpickle, finish."""
    logs, metrics, failures = capture(items)
    assert not failures
    data = rows_message(1, 1, logs, metrics)
    kind, _, _, sent_logs, sent_metrics = pickle.loads(data[8:])
    assert kind == ROWS
    finished_logs, finished_metrics = finish_entries(sent_logs, sent_metrics)
    return [*finished_logs, *finished_metrics]


ODD_EXTRAS: dict[str, dict[str, object]] = {
    "plain": {"user_id": 1, "path": "/api", "ok": True, "ratio": 0.5, "none": None},
    "nested": {"ids": [1, 2, (3, 4)], "by": {"a": {"b": [None]}}},
    "dates": {"at": datetime.datetime(2026, 1, 2, 3, 4, 5), "day": datetime.date(2026, 1, 2)},
    "common": {"id": uuid.UUID(int=7), "price": decimal.Decimal("1.10"), "where": Path("/x")},
    "enums": {"colour": Colour.RED, "level": Level.LOUD},
    "sets and bytes": {"tags": {"b", "a"}, "raw": b"\x00\xff", "buffer": bytearray(b"ab")},
    "not JSON": {"nan": math.nan, "inf": -math.inf, "object": Opaque()},
    "keys": {"1": 1, "with space": 2, "ünïcode": "☃"},
}


def test_every_kind_of_extra_makes_the_same_row_both_ways():
    for name, extra in ODD_EXTRAS.items():
        item = (record(extra), "request 1", None, None)
        assert through_the_pipe([item]) == [log_row(*item)], name


def test_plain_extras_travel_as_a_dict_and_others_as_their_json():
    with_plain = record({"user_id": 1})
    plain = log_entry(with_plain, "m", None, None)
    assert plain[LOG_EXTRA_INDEX] == {"user_id": 1}
    odd = log_entry(record({"at": datetime.date(2026, 1, 2)}), "m", None, None)
    assert odd[LOG_EXTRA_INDEX] == '{"at":"2026-01-02"}'  # encoded where the object lives
    assert finish_row(plain, LOG_EXTRA_INDEX) == log_row(with_plain, "m", None, None)


def test_metrics_make_the_same_row_both_ways():
    for tags in (None, {"endpoint": "/api"}, {"when": datetime.date(2026, 1, 2)}):
        made = record()
        made.__dict__[METRIC_ATTR] = MetricPayload("latency", 1.5, "ms", tags, "timer")
        item = (made, "metric", None, None)
        assert through_the_pipe([item]) == [metric_row(made)]
        assert metric_entry(made)[4] == (
            tags if tags is None or "endpoint" in tags else '{"when":"2026-01-02"}'
        )


def test_odd_record_attributes_are_bound_as_the_thread_writer_binds_them():
    """A chunk holding an object pickle must not carry is made plain, value by value."""
    odd = record({"user_id": 1}, funcName=Opaque(), lineno=Level.LOUD, thread=2**70)
    plain = record({"user_id": 2})
    items = [(odd, "odd", None, None), (plain, "plain", None, None)]
    sent_odd, sent_plain = through_the_pipe(items)
    assert sent_plain == log_row(*items[1])  # its neighbours are unchanged
    # What the thread writer stores for it once sqlite3 refused the odd values.
    assert sanitize_row(sent_odd) == sanitize_row(log_row(*items[0]))
    assert sent_odd[LOG_EXTRA_INDEX] == '{"user_id":1}'


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    extra=st.dictionaries(
        st.text(min_size=1).filter(lambda k: not k.startswith("_")), JSON_VALUES, max_size=5
    )
)
def test_any_json_like_extras_make_the_same_row_both_ways(extra):
    made = record()
    reserved = set(made.__dict__) | {"message", "asctime"}
    made.__dict__.update({k: v for k, v in extra.items() if k not in reserved})
    item = (made, "m", None, None)
    assert through_the_pipe([item]) == [log_row(*item)]
