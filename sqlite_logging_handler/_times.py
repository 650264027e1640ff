"""Times given by people: ``since``/``until`` bounds and ages, read one way everywhere.

``LogStore`` and the ``sqlite-logs`` command line share these parsers, so that a time
accepted by one is accepted, and means the same, in the other; and every time the
command line prints carries its zone, so it can be pasted back. Pure: no I/O.

Text without a zone is local time, as a naive ``datetime`` is (and as journalctl, git
and ``date`` read it); ``Z``, ``UTC`` or an offset say otherwise.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

from .exceptions import TimeTypeError

__all__ = [
    "AGE_FORMS",
    "TIME_FORMS",
    "TimeBound",
    "format_time",
    "no_time_between",
    "parse_age",
    "parse_epoch",
    "parse_time",
    "stored_epoch",
    "timestamp_text",
]

TimeBound = datetime | float | int | str | None

#: What a ``since``/``until`` may be written as, for help texts and error messages:
#: what a person can type (a shell cannot pass a ``datetime``).
TIME_FORMS = (
    "ISO 8601 ('2026-11-30', '2026-11-30 17:00', '2026-11-30T17:00:00Z', "
    "'2026-11-30 17:00:00.123+01:00'; without a zone, local time), a relative time "
    "('90s', '15m', '2h', '7d', '2w', '1h30m', '3 days ago'), 'now', 'today', "
    "'yesterday', 'tomorrow', a month ('2026-11': its first day), a time of today "
    "('17:00'), a basic ISO 8601 date ('20261130': 8 digits), or epoch seconds "
    "('@1764522000'; a bare number of 9 digits or more, '1764522000', too)"
)
#: What an age (a length of time) may be written as.
AGE_FORMS = (
    "a number of seconds ('3600'), or a duration ('90s', '15m', '12h', '30d', '2w', "
    "'1h30m', '3 days')"
)

# The times SQLite's date functions and Python's datetime both handle: years 1 to 9999.
_FIRST_EPOCH = datetime(1, 1, 1, tzinfo=UTC).timestamp()
_LAST_EPOCH = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()

_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "week", "weeks"), 7 * 86400),
}
_UNIT = "|".join(sorted(_UNITS, key=len, reverse=True))
_AMOUNT = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNIT})", re.IGNORECASE)
_DURATION = re.compile(rf"(?:\d+(?:\.\d+)?\s*(?:{_UNIT})\s*)+", re.IGNORECASE)
_RELATIVE = re.compile(r"([-+]?)\s*(.+?)(\s+ago)?", re.IGNORECASE)
_EPOCH = re.compile(r"@\s*-?\d+(?:\.\d+)?")
_BARE_NUMBER = re.compile(r"[-+]?(\d*)(?:\.\d+)?")
_BASIC_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
# Epoch seconds written as a bare number have 9 digits or more (1973-03-03 on): fewer
# digits are more likely a date or an age than a moment of 1970.
_EPOCH_DIGITS = 9
_SECONDS = re.compile(r"\d+(?:\.\d+)?")
_DAYS = {"today": 0, "yesterday": -1, "tomorrow": 1}
# ISO 8601's calendar month ("2026-11"): its first day, local time.
_YEAR_MONTH = re.compile(r"(\d{4})-(\d{2})")
# A time of today as people write it: hours and minutes with a colon, then seconds,
# a fraction and a zone if they like ("17:00", "17:00:05.5Z", "09:30+01:00"). Only
# these go to time.fromisoformat, which also reads "2026-11" as 20:26 at UTC-11.
_TIME_OF_DAY = re.compile(r"T?\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?")


def parse_time(value: TimeBound, *, now: float | None = None) -> str | None:
    """The stored timestamp text (UTC) for a ``since``/``until`` bound.

    Args:
        value: a ``datetime`` (naive means local time), epoch seconds (a number, or
            text of one), or text in one of ``TIME_FORMS``; None for no bound.
        now: the epoch relative times count back from (default: the current time).

    Raises:
        ValueError: text in none of the forms (the message names them), or a time
            outside the years 1 to 9999.
        TimeTypeError: a value of another type (a ``date``, a bool), naming the types
            accepted (both a ``TypeError`` and a ``ValueError``).
    """
    epoch = parse_epoch(value, now=now)
    return None if epoch is None else timestamp_text(epoch)


def parse_epoch(value: TimeBound, *, now: float | None = None) -> float | None:
    """The epoch seconds of a ``since``/``until`` bound, read as ``parse_time`` reads it.

    Raises:
        ValueError: text ``parse_time`` refuses, or a time outside the years 1-9999.
        TimeTypeError: a value of a type ``parse_time`` refuses (also a ``ValueError``).
    """
    if value is None:
        return None
    try:
        epoch = _epoch(value, time.time() if now is None else now)
    except (OverflowError, OSError) as exc:  # a datetime the platform cannot convert
        epoch = math.nan
        cause: BaseException | None = exc
    else:
        cause = None
    if not _FIRST_EPOCH <= epoch <= _LAST_EPOCH:  # also NaN
        msg = f"{value!r} is out of range: a time must fall in the years 1 to 9999 (UTC)"
        raise ValueError(msg) from cause
    return epoch


def _epoch(value: object, now: float) -> float:
    if isinstance(value, datetime):
        return value.timestamp()  # naive datetimes are taken as local time
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        epoch = _text_epoch(value.strip(), now)
        if epoch is not None:
            return epoch
        msg = f"cannot read {value!r} as a time: use {TIME_FORMS}"
        raise ValueError(msg)
    day = ""
    if isinstance(value, date):  # a day, not a moment: say how to give its start
        start = datetime(value.year, value.month, value.day)
        day = f"a date has no time of day (for its start: {start!r} or {value.isoformat()!r}); "
    msg = (
        f"cannot read {value!r} as a time: {day}use a datetime, epoch seconds (a number), "
        f"or text: {TIME_FORMS}"
    )
    raise TimeTypeError(msg)


def _text_epoch(text: str, now: float) -> float | None:
    """The epoch of a time written as text, or None if it is in none of the forms."""
    word = text.lower()
    if word == "now":
        return now
    if word in _DAYS:
        day = datetime.fromtimestamp(now).date() + timedelta(days=_DAYS[word])
        return _local_epoch(datetime.combine(day, clock()))
    if _EPOCH.fullmatch(text):
        return float(text.lstrip("@ "))
    if (number := _BARE_NUMBER.fullmatch(text)) and number[1]:
        return _bare_number(text, number[1])
    if (relative := _RELATIVE.fullmatch(text)) and _DURATION.fullmatch(relative[2]):
        seconds = _seconds(relative[2])
        return now + seconds if relative[1] == "+" and not relative[3] else now - seconds
    return _iso_epoch(text, now)


def _bare_number(text: str, digits: str) -> float:
    """A number without ``@``: a basic ISO 8601 date (8 digits) or epoch seconds (9+).

    As GNU ``date -d 20261130`` reads it, 8 digits are a date, ``YYYYMMDD`` (local
    midnight). Epoch seconds need 9 digits or more (from 1973-03-03) or ``@``; any
    other bare number (``3600``, ``-5``, ``20261130.5``) is refused, naming the forms
    it may have meant, rather than read as a moment of 1970.

    Raises:
        ValueError: 8 digits that are not a date, or a number that is neither.
    """
    if text == digits and (date := _BASIC_DATE.fullmatch(text)):
        try:
            moment = datetime(int(date[1]), int(date[2]), int(date[3]))
        except ValueError:
            msg = (
                f"cannot read {text!r} as a time: 8 digits are a date (YYYYMMDD, as "
                f"'20261130'), and this is not one; for epoch seconds write '@{text}'"
            )
            raise ValueError(msg) from None
        return _local_epoch(moment)
    if text == text.lstrip("+-") and len(digits) >= _EPOCH_DIGITS:
        return float(text)
    msg = (
        f"cannot read {text!r} as a time: a bare number is epoch seconds only with 9 "
        f"digits or more; write '@{text.lstrip('+')}' for epoch seconds, "
        f"'{text.lstrip('+-')}s' for that many seconds ago, or a date as YYYYMMDD or "
        "YYYY-MM-DD"
    )
    raise ValueError(msg)


def _iso_epoch(text: str, now: float) -> float | None:
    if text.upper().endswith("UTC"):  # "2026-11-30 17:00:00 UTC"
        text = text[:-3].rstrip() + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return _existing_epoch(moment, text)
    if month := _YEAR_MONTH.fullmatch(text):
        try:
            first = datetime(int(month[1]), int(month[2]), 1)
        except ValueError:  # month 13
            return None
        return _local_epoch(first)
    if not _TIME_OF_DAY.fullmatch(text):
        return None
    try:
        of_day = clock.fromisoformat(text)  # "17:00": today, local time
    except ValueError:
        return None
    today = datetime.fromtimestamp(now).date()
    return _existing_epoch(datetime.combine(today, of_day), text)


def _existing_epoch(moment: datetime, text: str) -> float:
    """The epoch of ``moment``, written as ``text``; a local time must have existed.

    A local time the clocks skipped (02:30 on the night they go forward) is refused, as
    GNU ``date -d`` refuses it ("invalid date"), rather than moved by an hour unsaid.
    A time that came twice (the night they go back) is its first: Python's ``fold=0``.

    Raises:
        ValueError: the local time did not exist.
    """
    epoch = _local_epoch(moment)
    if moment.tzinfo is None and _skipped(moment, epoch):
        msg = (
            f"{text!r} never happened in local time: the clocks went forward past it "
            "(give its UTC offset, e.g. +01:00, or a time in UTC with Z)"
        )
        raise ValueError(msg)
    return epoch


def _skipped(moment: datetime, epoch: float) -> bool:
    """Whether the naive local ``moment`` read as ``epoch`` is not that wall-clock time."""
    try:
        back = datetime.fromtimestamp(epoch)
    except (ValueError, OverflowError, OSError):  # near the years 1 and 9999
        return False
    return abs((back - moment).total_seconds()) >= 1


def _local_epoch(moment: datetime) -> float:
    """The epoch of ``moment``; naive means local time.

    ``datetime.timestamp()`` looks at local time a day either side of a naive moment,
    which fails near the years 1 and 9999 even where the moment itself is a valid
    time (0001-01-01 in New York is 04:56 UTC): there, the local offset of the
    nearest moment it can look at is used. Past the years 1-9999 in UTC, the epoch
    is out of range, and ``parse_epoch`` says so.
    """
    if moment.tzinfo is not None:
        return moment.timestamp()
    try:
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        pass
    as_utc = moment.replace(tzinfo=UTC).timestamp()
    nearest = min(max(as_utc, _FIRST_EPOCH + 2 * 86400), _LAST_EPOCH - 2 * 86400)
    offset = datetime.fromtimestamp(nearest, UTC).astimezone().utcoffset()
    return as_utc - (offset.total_seconds() if offset is not None else 0.0)


def _seconds(duration: str) -> float:
    return sum(float(amount) * _UNITS[unit.lower()] for amount, unit in _AMOUNT.findall(duration))


def parse_age(age: str | float | int) -> float:
    """Seconds in an age: a number of seconds, or text in one of ``AGE_FORMS``.

    Text is a number of seconds (``"3600"``) or a duration (``"90s"``, ``"12h"``,
    ``"30d"``, ``"1h30m"``, ``"3 days"``), as the relative times of ``parse_time`` are
    written (without their sign or "ago").

    Raises:
        ValueError: anything else, or not more than 0 s, naming the accepted forms.
    """
    seconds = math.nan
    if isinstance(age, int | float) and not isinstance(age, bool):
        seconds = float(age)
    elif isinstance(age, str) and _DURATION.fullmatch(age.strip()):
        seconds = _seconds(age)
    elif isinstance(age, str) and _SECONDS.fullmatch(age.strip()):
        seconds = float(age)
    if 0 < seconds < math.inf:
        return seconds
    msg = f"cannot read {age!r} as an age (more than 0 s): use {AGE_FORMS}"
    raise ValueError(msg)


def no_time_between(since: str, start: float, until: str, end: float, *, utc: bool) -> str:
    """Why an ``until`` at or before its ``since`` is refused: one wording everywhere.

    ``LogStore`` and the command line refuse such a pair as a mistake (the bounds
    swapped), not a question whose answer is "nothing" (``git log`` and ``journalctl``
    refuse it too).

    Args:
        since: the lower bound as the caller gave it (``"since='2h'"``, ``"--since '2h'"``).
        start: its epoch seconds.
        until: the upper bound as given (``"until='3h'"``, ``"now"``).
        end: its epoch seconds.
        utc: write the times in UTC (else local time with its offset).

    Returns:
        ``"until='3h' (...) is not after since='2h' (...): no time is left between them"``.
    """
    return (
        f"{until} ({format_time(end, utc=utc)}) is not after {since} "
        f"({format_time(start, utc=utc)}): no time is left between them"
    )


def timestamp_text(epoch: float) -> str:
    """``epoch`` as the stored timestamp text: UTC, ``YYYY-MM-DD HH:MM:SS.SSS``."""
    whole, fraction = divmod(round(epoch * 1000), 1000)
    moment = datetime.fromtimestamp(whole, UTC)
    # Four digits of year, as SQLite writes them (strftime's %Y writes "999" on glibc,
    # which would sort after "2026" as text).
    return f"{moment.year:04d}-{moment:%m-%d %H:%M:%S}.{fraction:03d}"


def stored_epoch(timestamp: str) -> float:
    """The epoch of a stored timestamp text (UTC)."""
    return datetime.fromisoformat(timestamp).replace(tzinfo=UTC).timestamp()


def format_time(epoch: float, *, utc: bool = False, millis: bool = True) -> str:
    """``epoch`` as ISO 8601 text with its zone, which ``parse_time`` reads back exactly.

    Local time with its UTC offset (``2026-11-30 12:48:01.123-05:00``), or UTC with ``Z``
    (``2026-11-30 17:48:01.123Z``).
    """
    whole, fraction = divmod(round(epoch * 1000), 1000)
    moment = datetime.fromtimestamp(whole, UTC)
    if not utc:
        try:
            moment = moment.astimezone()
        except (ValueError, OverflowError, OSError):  # local time is past the year 1 or 9999
            utc = True
    # The year with four digits: strftime's %Y gives "1" for the year 1 on glibc.
    text = f"{moment.year:04d}-{moment:%m-%d %H:%M:%S}" + (f".{fraction:03d}" if millis else "")
    if utc:
        return text + "Z"
    offset = moment.strftime("%z")  # +HHMM, or +HHMMSS (local mean time before ~1900)
    return text + offset[:3] + "".join(f":{offset[i : i + 2]}" for i in range(3, len(offset), 2))
