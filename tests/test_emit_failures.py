"""Records that fail at emit time are stored with stand-ins, reported once, never raised.

Issue 14.4 (a message that cannot be merged, an argument or exception that cannot be
rendered) and issue 16.4 (a RecursionError from formatting): the record is stored with
what could be stored (the template and the arguments' ``repr()``, marked ``[unmerged]``;
a traceback rendered without the formatter that failed), reported once on stderr as
``handleError`` does, and ``flush()`` stays True. Nothing reaches the caller.
"""

from __future__ import annotations

import logging
import re
import sys
from types import FrameType

import pytest

from sqlite_logging_handler import SQLiteHandler

from .conftest import make_logger, rows


class BadStr:
    def __str__(self) -> str:
        raise ValueError("no str for you")

    def __repr__(self) -> str:
        return "<BadStr>"


class BadBoth:
    def __str__(self) -> str:
        raise ValueError("no str")

    def __repr__(self) -> str:
        raise ValueError("no repr")


def nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth):
        value = [value]
    return value


UNMERGEABLE = [
    pytest.param(
        "%d",
        ("not-a-number",),
        "[unmerged] %d | args: ('not-a-number',) | "
        "TypeError: %d format: a real number is required, not str",
        id="wrong-type",
    ),
    pytest.param(
        "%s %s",
        ("only-one",),
        "[unmerged] %s %s | args: ('only-one',) | "
        "TypeError: not enough arguments for format string",
        id="too-few-args",
    ),
    pytest.param(
        "a %s",
        ("one", "two"),
        "[unmerged] a %s | args: ('one', 'two') | "
        "TypeError: not all arguments converted during string formatting",
        id="too-many-args",
    ),
    pytest.param(
        "%(user)s",
        ({"name": "x"},),
        "[unmerged] %(user)s | args: {'name': 'x'} | KeyError: 'user'",
        id="missing-key",
    ),
    pytest.param(
        "value %s",
        (BadStr(),),
        "[unmerged] value %s | args: (<BadStr>,) | ValueError: no str for you",
        id="str-raises",
    ),
    pytest.param(
        "value %r",
        (BadBoth(),),
        re.compile(
            r"\[unmerged\] value %r \| args: \(<tests\.test_emit_failures\.BadBoth object at "
            r"0x[0-9a-f]+>,\) \| ValueError: no repr"
        ),
        id="repr-raises",
    ),
    pytest.param(
        "payload: %s",
        (nested(100_000),),
        re.compile(
            r"\[unmerged\] payload: %s \| args: \(\[\[\[\[.*\]\]\]\],\) \| RecursionError: .*"
        ),
        id="recursion-error",
    ),
]


@pytest.mark.parametrize(("msg", "args", "expected"), UNMERGEABLE)
def test_a_message_that_cannot_be_merged_is_stored_marked_and_reported_once(
    handler, logger, db_path, capsys, msg, args, expected
):
    logger.warning(msg, *args)  # never raises
    logger.info("neighbour")
    assert handler.flush() is True

    unmerged, neighbour = rows(db_path)
    if isinstance(expected, str):
        assert unmerged["message"] == expected
    else:
        assert expected.fullmatch(unmerged["message"]), unmerged["message"][:300]
    assert unmerged["template"] == msg
    assert (unmerged["level"], unmerged["module"]) == ("WARNING", logger.name)
    assert neighbour["message"] == "neighbour"
    stats = handler.stats()
    assert (stats["emitted"], stats["written"], stats["failed"]) == (2, 2, 0)
    err = capsys.readouterr().err
    assert err.count("--- Logging error ---") == 1  # as handleError reports it


def test_a_message_object_whose_str_raises_is_stored_as_its_repr(handler, logger, db_path):
    logger.error(BadStr())
    assert handler.flush()
    (row,) = rows(db_path)
    assert row["message"] == "[unmerged] <BadStr> | ValueError: no str for you"
    assert row["template"] is None


def test_with_raise_exceptions_off_unmergeable_records_are_stored_silently(
    handler, logger, db_path, capsys, monkeypatch
):
    monkeypatch.setattr(logging, "raiseExceptions", False)
    logger.info("%d", "x")
    assert handler.flush() is True
    assert rows(db_path)[0]["message"].startswith("[unmerged] %d | args: ('x',)")
    assert capsys.readouterr().err == ""


class BrokenFormatter(logging.Formatter):
    def formatException(self, ei):
        raise RuntimeError("formatException broke")

    def formatStack(self, stack_info):
        raise RuntimeError("formatStack broke")


def test_a_formatter_that_fails_leaves_the_traceback_to_the_default(db_path, capsys):
    handler = SQLiteHandler(db_path)
    handler.setFormatter(BrokenFormatter())
    log = make_logger(handler)
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("math", stack_info=True)
    assert handler.flush() is True
    handler.close()
    (row,) = rows(db_path)
    assert row["message"] == "math"
    assert row["exc_text"].startswith(
        "[formatException failed: RuntimeError: formatException broke]\n"
        "Traceback (most recent call last):"
    )
    assert row["exc_text"].endswith("ZeroDivisionError: division by zero")
    assert row["stack_info"].startswith(
        "[formatStack failed: RuntimeError: formatStack broke]\nStack (most recent call last):"
    )
    assert capsys.readouterr().err.count("--- Logging error ---") == 1
    assert handler.stats()["failed"] == 0


@pytest.mark.parametrize(
    ("exc_info", "expected"),
    [
        (
            (ValueError, ValueError("bad"), "not a traceback"),
            re.compile(r"\[traceback unavailable: AttributeError: .*\] ValueError: bad"),
        ),
        (True, re.compile(r"\[traceback unavailable: TypeError: .*\] True")),
        (
            ValueError("bare"),
            re.compile(r"\[traceback unavailable: TypeError: .*\] ValueError: bare"),
        ),
    ],
    ids=["bad-traceback", "exc-info-true", "bare-exception"],
)
def test_an_exception_that_cannot_be_rendered_is_stored_with_a_stand_in(
    handler, logger, db_path, capsys, exc_info, expected
):
    """Records made by hand or by other libraries may carry exc_info logging cannot render."""
    record = logger.makeRecord(logger.name, logging.ERROR, "f.py", 1, "broken", (), None)
    record.exc_info = exc_info
    logger.handle(record)
    assert handler.flush() is True
    (row,) = rows(db_path)
    assert row["message"] == "broken"
    assert expected.fullmatch(row["exc_text"]), row["exc_text"]
    assert capsys.readouterr().err.count("--- Logging error ---") == 1


def test_an_exception_whose_str_raises_is_rendered(handler, logger, db_path):
    class UnprintableError(Exception):
        def __str__(self) -> str:
            raise ValueError("no")

    try:
        raise UnprintableError
    except UnprintableError:
        logger.exception("odd exception")
    assert handler.flush()
    (row,) = rows(db_path)
    assert row["message"] == "odd exception"
    assert "UnprintableError" in row["exc_text"]


def test_extras_whose_str_and_repr_raise_are_stored(handler, logger, db_path):
    logger.info("odd extra", extra={"both": BadBoth(), "str": BadStr()})
    assert handler.flush()
    (row,) = rows(db_path)
    assert row["message"] == "odd extra"
    assert '"str":"<BadStr>"' in row["extra_data"]
    assert "BadBoth object at 0x" in row["extra_data"]


def test_emit_at_the_edge_of_the_recursion_limit_never_raises(handler, db_path, capsys):
    """Issue 16.4: called from deep recursion, emit stores the record or counts it."""
    record = logging.LogRecord("deep", logging.INFO, __file__, 1, "deep %s", ("x",), None)
    # What each call did, kept without calling anything (a call can fail at the limit).
    outcomes: list[object] = [None] * 10_000
    calls = [0]

    def dive() -> None:
        try:  # noqa: SIM105 - contextlib.suppress is a call, which fails at the limit
            dive()
        except RecursionError:
            pass
        i = calls[0]
        calls[0] = i + 1
        try:
            handler.handle(record)  # on the way back up: at every depth near the limit
            outcomes[i] = "returned"
        except RecursionError as exc:
            outcomes[i] = exc

    depth = 0
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 150)
    try:
        dive()
    finally:
        sys.setrecursionlimit(limit)
    handler.flush()
    stats = handler.stats()
    escaped = [o for o in outcomes[: calls[0]] if isinstance(o, BaseException)]
    assert outcomes[: calls[0]].count("returned") + len(escaped) == calls[0]
    # A RecursionError can only come from the call to handle() itself, never from inside.
    for exc in escaped:
        tb, frames = exc.__traceback__, []
        while tb is not None:
            frames.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        assert frames == ["dive"], frames
    assert stats["emitted"] + len(escaped) == calls[0], (stats, calls, escaped)
    assert stats["written"] + stats["failed"] == stats["emitted"]
    assert len(rows(db_path)) == stats["written"] > 0
    if stats["failed"]:
        handler.close()
        assert "could not be handled at emit time" in capsys.readouterr().err
