"""Axis ticks people read easily: round numbers, and times on round clock boundaries.

Pure functions for the report's charts: a value axis gets 1, 2, 2.5 or 5 times a power
of ten, labelled with no more decimals than its step needs; a time axis gets steps of
seconds, minutes, hours or days, aligned to the clock (local time, or UTC), labelled
with what changes between ticks.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

__all__ = ["number_ticks", "time_ticks", "utc_offset"]

_NICE = (1.0, 2.0, 2.5, 5.0, 10.0)
_TIME_STEPS = (
    1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400,
)  # fmt: skip


def number_ticks(
    top: float, unit: str = "", *, count: int = 4, integer: bool = False, bottom: float = 0.0
) -> list[tuple[float, str]]:
    """Ticks from 0 (or below it) to at least ``top``: (value, label), lowest first.

    The first tick is at or below both 0 and ``bottom``, the last at or above both 0
    and ``top``: a value axis always shows where zero is, and negative values (a
    gauge below zero, a counter decremented) stay inside the chart.

    Args:
        top: the largest value to show (0 or less with ``bottom`` 0 shows 0 to 1, or
            0% to 100%).
        unit: appended to labels (``"ms"``); ``"%"`` shows values 0-1 as percentages.
        count: about how many steps.
        integer: the values are counts: whole-number steps (1, 2, 5 times a power of
            ten), never a fraction of a record.
        bottom: the smallest value to show (below 0: the axis reaches down to it).
    """
    scale = 100.0 if unit == "%" else 1.0
    high, low = max(top, 0.0) * scale, min(bottom, 0.0) * scale
    if high <= low:
        high = low + scale
    step = _nice_step((high - low) / count)
    if integer:
        step = max(1.0, step if step.is_integer() else _nice_step(step * 1.5))
    first = math.floor(low / step + 1e-9)
    last = max(first + 1, math.ceil(high / step - 1e-9))
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
    if step < 1 or not float(step).is_integer():
        decimals = max(decimals, len(f"{step:.10g}".partition(".")[2]))
    suffix = "%" if unit == "%" else (f" {unit}" if unit else "")
    return [(i * step / scale, f"{i * step:,.{decimals}f}{suffix}") for i in range(first, last + 1)]


def _nice_step(rough: float) -> float:
    power = 10.0 ** math.floor(math.log10(rough))
    return next(n * power for n in _NICE if n * power >= rough * (1 - 1e-9))


def time_ticks(
    start: float, end: float, *, utc: bool = False, count: int = 6, least: float = 0.0
) -> list[tuple[float, str]]:
    """Ticks on round clock times inside ``start``..``end`` (epochs): (epoch, label).

    Round in the wall clock shown (local time, or UTC), across daylight saving
    changes: hours on multiples of the step from midnight, days at midnight, weeks
    on Mondays, months on their first day (every 1, 2, 3 or 6), years on 1 January.
    At least two: when no round time fits, the two ends, labelled to the millisecond.

    Args:
        start: the axis's first epoch (seconds).
        end: its last epoch.
        utc: round in UTC, else in local time.
        count: about how many ticks.
        least: the shortest step in seconds (a chart's bucket width: no tick finer
            than what the chart can show).
    """
    span = max(end - start, 1e-3)
    rough = max(span / count, least)
    if rough < _TIME_STEPS[0]:  # under a second: plain epoch arithmetic
        step = max(_nice_step(rough), least)
        first = math.ceil(start / step) * step
        ticks = [first + i * step for i in range(int((end - first) / step + 1e-9) + 1)]
        label = step
    elif rough <= 86400:
        step = next(s for s in _TIME_STEPS if s >= rough)
        ticks = _clock_ticks(start, end, step, utc)
        label = step
    else:
        ticks, label = _calendar_ticks(start, end, rough, utc)
    ticks = [t for t in ticks if start - 1e-9 <= t <= end + 1e-9]
    if len(ticks) < 2:
        ticks, label = [start, end], 1e-3
    return [(epoch, _label(epoch, label, span, utc)) for epoch in ticks]


def _wall(epoch: float, utc: bool) -> datetime:
    """``epoch`` as the naive wall-clock time shown (local, or UTC)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return (moment if utc else moment.astimezone()).replace(tzinfo=None)


def _epoch(wall: datetime, utc: bool) -> float:
    """The epoch of a naive wall-clock time (local, or UTC)."""
    return wall.replace(tzinfo=UTC).timestamp() if utc else wall.timestamp()


def _clock_ticks(start: float, end: float, step: int, utc: bool) -> list[float]:
    """Times of day on multiples of ``step`` seconds (a divisor of a day) from midnight."""
    ticks: list[float] = []
    day = _wall(start, utc).replace(hour=0, minute=0, second=0, microsecond=0)
    while _epoch(day, utc) <= end:
        first = 0
        if not ticks:
            into = (_wall(start, utc) - day).total_seconds()
            first = max(0, math.ceil(into / step - 1e-9))
        for k in range(first, 86400 // step):
            epoch = _epoch(day + timedelta(seconds=k * step), utc)
            if epoch > end + 1e-9:
                return ticks
            if epoch >= start - 1e-9 and (not ticks or epoch > ticks[-1]):
                ticks.append(epoch)
        day += timedelta(days=1)
    return ticks


def _calendar_ticks(start: float, end: float, rough: float, utc: bool) -> tuple[list[float], float]:
    """Midnights of days, Mondays, first days of months or years; and the step's size."""
    first, last = _wall(start, utc), _wall(end, utc)
    for days in (1, 2, 7, 14):
        if days * 86400 >= rough:
            day = first.replace(hour=0, minute=0, second=0, microsecond=0)
            walls = []
            while day <= last:
                if (days == 1 or (days == 2 and day.toordinal() % 2 == 0)
                        or (days >= 7 and day.weekday() == 0
                            and (days == 7 or day.isocalendar()[1] % 2 == 1))):  # fmt: skip
                    walls.append(day)
                day += timedelta(days=1)
            return [_epoch(w, utc) for w in walls], days * 86400.0
    months = next((m for m in (1, 2, 3, 6, 12) if m * 30.44 * 86400 >= rough), None)
    if months is None:
        years = int(_nice_step(rough / (365.25 * 86400)))
        years = max(years, 1)
        walls = [datetime(y, 1, 1) for y in range(first.year, last.year + 1) if y % years == 0]
        return [_epoch(w, utc) for w in walls], years * 365.25 * 86400
    walls = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        if (month - 1) % months == 0:
            walls.append(datetime(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return [_epoch(w, utc) for w in walls], months * 30.44 * 86400


def utc_offset(epoch: float) -> float:
    """Local time's offset from UTC at ``epoch``, in seconds (as ``format_time`` shows it)."""
    local = datetime.fromtimestamp(epoch, UTC).astimezone()
    offset = local.utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def _label(epoch: float, step: float, span: float, utc: bool) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    if not utc:
        moment = moment.astimezone()
    if step >= 365 * 86400:
        return f"{moment:%Y}"
    if step >= 28 * 86400:
        return f"{moment:%Y-%m}"
    if step >= 86400:
        return f"{moment:%Y-%m-%d}"
    if step < 1:
        clock = f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"
    else:
        clock = f"{moment:%H:%M:%S}" if step < 60 or moment.second else f"{moment:%H:%M}"
    return f"{moment:%m-%d} {clock}" if span > 86400 else clock
