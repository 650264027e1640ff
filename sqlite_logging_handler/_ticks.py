"""Axis ticks people read easily: round numbers, and times on round clock boundaries.

Pure functions for the report's charts: a value axis gets 1, 2, 2.5 or 5 times a power
of ten, labelled with no more decimals than its step needs; a time axis gets steps of
seconds, minutes, hours or days, aligned to the clock (local time, or UTC), labelled
with what changes between ticks.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = ["number_ticks", "time_ticks"]

_NICE = (1.0, 2.0, 2.5, 5.0, 10.0)
_TIME_STEPS = (
    1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400,
)  # fmt: skip


def number_ticks(top: float, unit: str = "", *, count: int = 4) -> list[tuple[float, str]]:
    """Ticks from 0 to at least ``top``: (value, label), the last at or above ``top``.

    Args:
        top: the largest value to show (0 or less shows 0 to 1).
        unit: appended to labels (``"ms"``); ``"%"`` shows values 0-1 as percentages.
        count: about how many steps.
    """
    scale = 100.0 if unit == "%" else 1.0
    top = top * scale if top > 0 else 1.0
    step = _nice_step(top / count)
    steps = max(1, math.ceil(top / step - 1e-9))
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
    if step < 1 or not float(step).is_integer():
        decimals = max(decimals, len(f"{step:.10g}".partition(".")[2]))
    suffix = "%" if unit == "%" else (f" {unit}" if unit else "")
    return [(i * step / scale, f"{i * step:,.{decimals}f}{suffix}") for i in range(steps + 1)]


def _nice_step(rough: float) -> float:
    power = 10.0 ** math.floor(math.log10(rough))
    return next(n * power for n in _NICE if n * power >= rough * (1 - 1e-9))


def time_ticks(
    start: float, end: float, *, utc: bool = False, count: int = 6
) -> list[tuple[float, str]]:
    """Ticks on round clock times inside ``start``..``end`` (epochs): (epoch, label).

    At least two: when no round time fits, the two ends.
    """
    span = max(end - start, 1e-3)
    step: float
    if span / _TIME_STEPS[0] <= count:
        step = _nice_step(span / count)  # under a second
    else:
        longer = (s for s in _TIME_STEPS if span / s <= count)
        step = next(longer, _nice_step(span / count / 86400) * 86400)
    offset = 0.0 if utc else _utc_offset(start)
    first = math.ceil((start + offset) / step) * step - offset
    ticks = []
    moment = first
    while moment <= end + 1e-9:
        ticks.append(moment)
        moment += step
    if len(ticks) < 2:
        ticks = [start, end]
    return [(epoch, _label(epoch, step, span, utc)) for epoch in ticks]


def _utc_offset(epoch: float) -> float:
    local = datetime.fromtimestamp(epoch, UTC).astimezone()
    offset = local.utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def _label(epoch: float, step: float, span: float, utc: bool) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    if not utc:
        moment = moment.astimezone()
    if step >= 86400:
        return f"{moment:%Y-%m-%d}"
    if step < 1:
        clock = f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"
    else:
        clock = f"{moment:%H:%M:%S}" if step < 60 or epoch % 60 else f"{moment:%H:%M}"
    return f"{moment:%m-%d} {clock}" if span > 86400 else clock
