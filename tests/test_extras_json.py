"""Extras of common types are stored as the JSON users expect (issue 14.5).

Checked as a user checks: ``json_extract`` through a fresh connection, and the values
``LogStore`` decodes. docs/schema.md has the same table.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
import sqlite3
from collections import deque
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from ipaddress import ip_address, ip_interface, ip_network
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from uuid import UUID

import pytest

from sqlite_logging_handler import MetricsAdapter
from sqlite_logging_handler._records import extras_json

from .conftest import rows


class Color(enum.Enum):
    RED = "red"


class Priority(enum.IntEnum):
    HIGH = 2


class Mode(enum.StrEnum):
    FAST = "fast"


@dataclasses.dataclass
class Point:
    x: int
    when: date


CASES = {
    "datetime": (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05"),
    "aware datetime": (
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        "2024-01-02T03:04:05+02:00",
    ),
    "date": (date(2024, 1, 2), "2024-01-02"),
    "time": (time(3, 4, 5, 600_000), "03:04:05.600000"),
    "timedelta": (timedelta(minutes=1, seconds=30), 90.0),
    "UUID": (UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    "Decimal": (Decimal("1.10"), "1.10"),
    "Path": (Path("/tmp/x"), "/tmp/x"),
    "PurePosixPath": (PurePosixPath("a/b"), "a/b"),
    "IPv4Address": (ip_address("192.0.2.1"), "192.0.2.1"),
    "IPv6Address": (ip_address("2001:db8::1"), "2001:db8::1"),
    "network": (ip_network("10.0.0.0/8"), "10.0.0.0/8"),
    "interface": (ip_interface("10.0.0.1/24"), "10.0.0.1/24"),
    "Enum": (Color.RED, "red"),
    "IntEnum": (Priority.HIGH, 2),
    "StrEnum": (Mode.FAST, "fast"),
    "bytes": (b"payload", "payload"),
    "bytes, not UTF-8": (b"ok\xff", "ok\\xff"),
    "bytearray": (bytearray(b"ab"), "ab"),
    "memoryview": (memoryview(b"ab"), "ab"),
    "set": ({3, 1, 2}, [1, 2, 3]),
    "frozenset": (frozenset({"b", "a"}), ["a", "b"]),
    "set of mixed kinds": ({1, "a"}, None),  # an array, in no particular order
    "tuple": ((1, "a"), [1, "a"]),
    "deque": (deque([1, 2]), [1, 2]),
    "range": (range(3), [0, 1, 2]),
    "mapping": (MappingProxyType({"a": 1}), {"a": 1}),
    "dataclass": (Point(1, date(2024, 1, 2)), {"x": 1, "when": "2024-01-02"}),
    "nested": ({"when": [date(2024, 1, 2)], "id": (UUID(int=2),)}, None),
}


@pytest.mark.parametrize(("value", "expected"), CASES.values(), ids=CASES.keys())
def test_extra_values_are_stored_as_json_users_expect(handler, logger, db_path, value, expected):
    logger.info("typed", extra={"value": value})
    handler.flush()
    with handler.store() as store:
        (row,) = store.logs()
    stored = row.extra_data["value"]
    if expected is None and isinstance(value, set):
        assert sorted(stored, key=str) == sorted(value, key=str)
    elif expected is None:
        assert stored == {"when": ["2024-01-02"], "id": [str(UUID(int=2))]}
    else:
        assert stored == expected
    if isinstance(expected, str | int | float):
        (match,) = rows(
            db_path, "SELECT json_extract(extra_data, '$.value') = ? FROM logs", [expected]
        )
        assert match[0] == 1


def test_the_issues_example_can_be_compared_in_sql(handler, logger, db_path):
    logger.info(
        "order",
        extra={
            "when": datetime(2024, 1, 2, 3, 4, 5),
            "id": UUID(int=1),
            "amount": Decimal("1.10"),
            "path": Path("/tmp/x"),
        },
    )
    handler.flush()
    conn = sqlite3.connect(db_path)
    try:
        found = conn.execute(
            "SELECT COUNT(*) FROM logs WHERE json_extract(extra_data, '$.when') >= '2024-01-01'"
            " AND json_extract(extra_data, '$.id') = ? AND json_extract(extra_data, '$.amount')"
            " = '1.10' AND json_extract(extra_data, '$.path') = '/tmp/x'",
            (str(UUID(int=1)),),
        ).fetchone()[0]
    finally:
        conn.close()
    assert found == 1
    with handler.store() as store:
        assert len(store.logs(extra={"id": str(UUID(int=1)), "path": "/tmp/x"})) == 1


def test_metric_tags_get_the_same_encoding(handler, logger):
    MetricsAdapter(logger).record("latency", 1.5, "ms", tags={"day": date(2024, 1, 2)})
    handler.flush()
    with handler.store() as store:
        (metric,) = store.metrics()
    assert metric.tags == {"day": "2024-01-02"}


def test_numpy_values_are_stored_as_numbers_and_arrays(handler, logger):
    np = pytest.importorskip("numpy")  # a test dependency; the package never imports it
    logger.info(
        "numpy",
        extra={
            "count": np.int64(3),
            "ratio": np.float32(0.5),
            "flag": np.bool_(True),
            "vector": np.array([1, 2]),
            "stamp": np.datetime64("2024-01-02T03:04:05"),
        },
    )
    handler.flush()
    with handler.store() as store:
        (row,) = store.logs()
    assert row.extra_data == {
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "vector": [1, 2],
        "stamp": "2024-01-02T03:04:05",
    }


def test_other_objects_are_still_kept_as_repr(handler, logger):
    class Thing:
        def __repr__(self) -> str:
            return "<Thing>"

    logger.info("odd", extra={"thing": Thing(), "complex": 1 + 2j, "when": datetime.now(UTC)})
    handler.flush()
    with handler.store() as store:
        (row,) = store.logs()
    assert row.extra_data["thing"] == "<Thing>"
    assert row.extra_data["complex"] == "(1+2j)"
    assert row.extra_data["when"].endswith("+00:00")


# -- text UTF-8 cannot hold (lone surrogates) ----------------------------------------------

HALF_AN_EMOJI = json.loads('"nice \\ud83d"')  # what a client's JSON can hand over
UNDECODABLE_NAME = os.fsdecode(b"report\xff.pdf")  # a file name that is not UTF-8


def test_lone_surrogates_in_extras_are_stored_as_backslashreplace_text(handler, logger, db_path):
    """As docs/schema.md says for every column: ``\\ud83d``, the text, not the escape."""
    logger.warning(
        "comment rejected",
        extra={
            "comment": HALF_AN_EMOJI,
            "path": Path(UNDECODABLE_NAME),
            "nested": {"names": [UNDECODABLE_NAME]},
            "keys": {UNDECODABLE_NAME: 1},
        },
    )
    MetricsAdapter(logger).increment("uploads", tags={"name": UNDECODABLE_NAME})
    assert handler.flush()
    assert handler.stats()["failed"] == 0
    (row,) = rows(
        db_path,
        "SELECT json_extract(extra_data, '$.comment'), json_extract(extra_data, '$.path'),"
        " json_extract(extra_data, '$.nested.names[0]'), json_valid(extra_data), extra_data"
        " FROM logs",
    )
    assert tuple(row)[:4] == ("nice \\ud83d", "report\\udcff.pdf", "report\\udcff.pdf", 1)
    assert json.loads(row[4])["keys"] == {"report\\udcff.pdf": 1}
    (tags,) = rows(db_path, "SELECT json_extract(tags, '$.name') FROM metrics")
    assert tags[0] == "report\\udcff.pdf"
    assert tags[0] == UNDECODABLE_NAME.encode("utf-8", "backslashreplace").decode()
    with handler.store() as store:
        (log,) = store.logs(extra={"comment": HALF_AN_EMOJI})  # a filter encodes it the same
        assert log.extra_data["comment"] == "nice \\ud83d"
        (metric,) = store.metrics(tags={"name": UNDECODABLE_NAME})
        assert metric.tags == {"name": "report\\udcff.pdf"}


def test_an_extra_key_that_is_a_number_becomes_its_json_text(handler, logger):
    """JSON object keys are text: json's rule for int, float, bool and None keys."""
    logger.info("keys", extra={"by_id": {1: "a", 2.5: "b", False: "c", None: "d"}})
    logger.info("tuple key", extra={"pairs": {(1, 2): "b"}, "fine": 1})
    handler.flush()
    with handler.store() as store:
        first, second = store.logs(newest_first=False)
    assert first.extra_data == {"by_id": {"1": "a", "2.5": "b", "false": "c", "null": "d"}}
    assert second.extra_data == {"pairs": "{(1, 2): 'b'}", "fine": 1}  # that value's repr()


class _EarlyAttributeRecord(logging.LogRecord):
    """A record factory's kind that sets an attribute before LogRecord's own."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.tenant = "acme"
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def test_extras_are_found_wherever_the_record_put_them_and_keep_their_order():
    """The usual record's extras come after LogRecord's attributes; others anywhere.

    The tail-only fast path and the general path must give the same JSON.
    """
    record = logging.makeLogRecord({"msg": "x", "b": 2, "a": 1})
    logging.Formatter("%(asctime)s %(message)s").format(record)  # adds message, asctime
    record.c = 3  # after the formatter's attributes
    assert extras_json(record.__dict__) == '{"b":2,"a":1,"c":3}'

    early = _EarlyAttributeRecord("n", logging.INFO, "p", 1, "m", None, None)
    early.z = 0
    assert extras_json(early.__dict__) == '{"tenant":"acme","z":0}'

    plain = logging.makeLogRecord({"msg": "x"})
    assert extras_json(plain.__dict__) is None
    del plain.__dict__["lineno"]
    plain.lineno = 7  # a standard attribute set again: now last, still not an extra
    plain.d = 4
    assert extras_json(plain.__dict__) == '{"d":4}'
