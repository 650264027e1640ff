"""Scenario 7: any record is stored and reads back equal, or with a documented escape.

The documented escape: text SQLite cannot take as UTF-8 (lone surrogates) is stored
with Python's ``backslashreplace`` (``\\ud800``), as text, in every column: inside
``extra_data`` too (a JSON escape of a surrogate would make ``json_extract`` and every
UTF-8 reader fail). Values of common types JSON lacks are converted as
docs/schema.md says (sets to arrays, bytes to text); any other is stored as ``repr()``.
"""

from __future__ import annotations

import logging
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlite_logging_handler import SQLiteHandler

from ..conftest import make_logger

ANY_TEXT = st.text(st.characters(exclude_categories=()))  # surrogates and NULs included
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# taskName: a LogRecord attribute from Python 3.12 on, stored in the task_name column on
# every Python (an extra of that name on 3.11 is taken as it), so never an extra.
RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
COLUMN_NAMES = [
    "level",
    "thread_id",
    "module",
    "extra_data",
    "id",
    "timestamp",
    "levelno",
    "tags",
    "sqlite_metric",
    "sqlite_extra",
]  # also the names of the package's own attributes
KEYS = st.one_of(st.sampled_from(COLUMN_NAMES), ANY_TEXT).filter(lambda k: k not in RESERVED)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4)
    ),
    max_leaves=12,
)


def escaped(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def escaped_json(value):
    """A JSON value with the documented escape applied to every key and string."""
    if isinstance(value, str):
        return escaped(value)
    if isinstance(value, list):
        return [escaped_json(item) for item in value]
    if isinstance(value, dict):
        return {escaped(key): escaped_json(item) for key, item in value.items()}
    return value


def last_row(store):
    return store.logs(limit=1)[0]


def test_any_message_is_stored(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    store = handler.store()

    @SETTINGS
    @given(message=ANY_TEXT, repeat=st.sampled_from([1, 1, 1, 1000, 100_000]))
    def check(message, repeat):
        log.info(message * repeat)
        assert last_row(store).message == escaped(message * repeat)

    try:
        check()
    finally:
        store.close()
        handler.close()


def test_any_args_are_merged_at_emit_time(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    store = handler.store()

    @SETTINGS
    @given(
        args=st.lists(st.none() | st.integers() | st.floats() | ANY_TEXT | st.binary(), max_size=5)
    )
    def check(args):
        template = " | ".join(["%s"] * len(args)) or "no args"
        log.info(template, *args)
        row = last_row(store)
        assert row.message == escaped(template % tuple(args))
        assert row.template == (template if args else None)

    try:
        check()
    finally:
        store.close()
        handler.close()


def test_any_json_extras_read_back_equal(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    store = handler.store()

    @SETTINGS
    @given(extra=st.dictionaries(KEYS, JSON_VALUES, min_size=1, max_size=6))
    def check(extra):
        log.info("extras", extra=extra)
        assert last_row(store).extra_data == escaped_json(extra)

    try:
        check()
    finally:
        store.close()
        handler.close()


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_extras_json_cannot_encode_are_kept_as_repr_or_converted(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    store = handler.store()
    loop: list[object] = []
    loop.append(loop)
    odd = {
        "opaque": Opaque(),
        "a_set": {1},
        "raw": b"\x00\xff",
        "nan": math.nan,
        "inf": -math.inf,
        "loop": loop,
        "tuple_keys": {(1, 2): "x"},
        "broken": BrokenRepr(),
    }
    try:
        log.info("odd extras", extra=odd)
        stored = last_row(store).extra_data
        assert stored["opaque"] == "<Opaque>"
        assert stored["a_set"] == [1]  # sets are arrays (docs/schema.md)
        assert stored["raw"] == "\x00\\xff"  # bytes are UTF-8 text, others escaped
        assert (stored["nan"], stored["inf"]) == ("nan", "-inf")
        assert stored["loop"] == "[[...]]"
        assert stored["tuple_keys"] == "{(1, 2): 'x'}"
        assert stored["broken"].startswith(
            "<tests.reliability.test_hostile_records.BrokenRepr object"
        )
    finally:
        store.close()
        handler.close()


def test_any_level_custom_or_not_is_stored_with_its_name(db_path):
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.setLevel(1)
    store = handler.store()
    logging.addLevelName(25, "NOTICE")

    @SETTINGS
    @given(level=st.integers(min_value=1, max_value=100))
    def check(level):
        log.log(level, "at level %d", level)
        row = last_row(store)
        assert (row.levelno, row.level) == (level, logging.getLevelName(level))

    try:
        check()
        assert [r.level for r in store.logs(level="NOTICE", limit=1)] == ["NOTICE"]
    finally:
        store.close()
        handler.close()


EVENT_KEYS = KEYS.filter(lambda k: k not in {"event", "exc_info", "exception", "stack"})


def test_any_structlog_event_dict_is_taken_apart(db_path):
    """A ``record.msg`` that is an event dict (structlog's wrap_for_formatter)."""
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    store = handler.store()

    @SETTINGS
    @given(
        event=ANY_TEXT | st.integers() | st.none(),
        fields=st.dictionaries(EVENT_KEYS, JSON_VALUES, max_size=6),
    )
    def check(event, fields):
        event_dict = {"event": event, **fields}
        log.info(event_dict, extra={"_logger": object(), "_name": "info"})
        event_dict.clear()  # what was stored was taken at emit time
        row = last_row(store)
        assert row.message == escaped(event if isinstance(event, str) else str(event))
        assert row.extra_data == (escaped_json(fields) or None)

    try:
        check()
    finally:
        store.close()
        handler.close()
