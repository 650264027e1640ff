"""Times given by people: ``since``/``until`` bounds and ages, read one way everywhere.

``LogStore`` and the ``sqlite-logs`` command line share these parsers, so that a time
accepted by one is accepted, and means the same, in the other. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime

__all__ = ["TimeBound", "parse_age", "parse_epoch", "parse_time", "timestamp_text"]

TimeBound = datetime | float | int | str | None

# The times SQLite's date functions and Python's datetime both handle: years 1 to 9999.
_FIRST_EPOCH = datetime(1, 1, 1, tzinfo=UTC).timestamp()
_LAST_EPOCH = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()

_RELATIVE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_TIME_FORMS = (
    "a datetime, an epoch number, or a relative time such as '90s', '15m', '1h', '7d' or '2w'"
)


def parse_time(value: TimeBound, *, now: float | None = None) -> str | None:
    """The stored timestamp text (UTC) for a ``since``/``until`` bound.

    Accepts a ``datetime`` (naive means local time), an epoch number, or a string
    ``"<n>s|m|h|d|w"`` meaning that long ago.

    Raises:
        ValueError: for anything else, naming the accepted forms.
    """
    epoch = parse_epoch(value, now=now)
    return None if epoch is None else timestamp_text(epoch)


def parse_epoch(value: TimeBound, *, now: float | None = None) -> float | None:
    """The epoch seconds of a ``since``/``until`` bound, read as ``parse_time`` reads it.

    Raises:
        ValueError: a value ``parse_time`` refuses, or a time outside the years 1-9999.
    """
    if value is None:
        return None
    try:
        epoch = _epoch(value, now)
    except (OverflowError, OSError) as exc:  # a datetime the platform cannot convert
        epoch = math.nan
        cause: BaseException | None = exc
    else:
        cause = None
    if not _FIRST_EPOCH <= epoch <= _LAST_EPOCH:  # also NaN
        msg = f"{value!r} is out of range: a time must fall in the years 1 to 9999"
        raise ValueError(msg) from cause
    return epoch


def _epoch(value: TimeBound, now: float | None) -> float:
    if isinstance(value, datetime):
        return value.timestamp()  # naive datetimes are taken as local time
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and (match := _RELATIVE.fullmatch(value)):
        amount, unit = match.groups()
        return (time.time() if now is None else now) - float(amount) * _UNIT_SECONDS[unit]
    msg = f"cannot read {value!r} as a time: use {_TIME_FORMS}"
    raise ValueError(msg)


def parse_age(age: str | float | int) -> float:
    """Seconds in an age given as a number of seconds or as ``"90s"``, ``"12h"``, ``"30d"``.

    Raises:
        ValueError: anything else, naming the accepted forms.
    """
    if isinstance(age, int | float) and not isinstance(age, bool) and age > 0:
        return float(age)
    if isinstance(age, str) and (match := _RELATIVE.fullmatch(age)) and float(match[1]) > 0:
        return float(match[1]) * _UNIT_SECONDS[match[2]]
    msg = (
        f"cannot read {age!r} as an age: use seconds or a string such as '90s', '12h', '30d', '2w'"
    )
    raise ValueError(msg)


def timestamp_text(epoch: float) -> str:
    """``epoch`` as the stored timestamp text: UTC, ``YYYY-MM-DD HH:MM:SS.SSS``."""
    millis = round(epoch * 1000)
    moment = datetime.fromtimestamp(millis // 1000, UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{millis % 1000:03d}"
