"""The report's period and its time buckets: round widths, on round times of the clock.

``--buckets N`` asks for about N buckets: of the round widths (1, 2, 5, 10, 15, 30 s;
1, 2, 5, 10, 15, 30 min; 1, 2, 3, 6, 12 h; 1, 2, 7, 14, 30, 60, 90, 180, 365 d, then
whole multiples of 365 d), the one whose count of buckets over the period is nearest
N (by ratio), never more than ``MOST`` of them (nor narrower than a second). Their
edges fall on multiples of the width counted from midnight of the clock shown (local,
or UTC), weeks from a Monday: a bucket of 10 s starts at :00, :10, ...; of 1 h on the
hour. A period chosen with ``since`` cuts the first bucket short where it starts, and
``until`` the last where it ends, so buckets count only what is in the period; a
period with ``since`` alone ends at the moment the report is made.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

from ._charts import Buckets
from ._ticks import utc_offset
from .query import LogStore

__all__ = ["MOST", "choose_buckets", "round_widths"]

MOST = 1000  # buckets at most (``--buckets`` goes up to this too)
_FOREVER = 1e300
_DAY = 86400
_MONDAY = 4 * _DAY  # 1970-01-05, a Monday: weeks are counted from one
_WIDTHS = (
    1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 21600, 43200,
    _DAY, 2 * _DAY, 7 * _DAY, 14 * _DAY, 30 * _DAY, 60 * _DAY, 90 * _DAY, 180 * _DAY,
)  # fmt: skip


def round_widths() -> Iterator[int]:
    """The round bucket widths in seconds, narrowest first, without end."""
    yield from _WIDTHS
    years = 1
    while True:
        for step in (1, 2, 5):
            yield step * years * 365 * _DAY
        years *= 10


def choose_buckets(
    store: LogStore,
    since: float | None,
    until: float | None,
    count: int,
    *,
    utc: bool,
    now: float | None = None,
) -> Buckets | None:
    """About ``count`` buckets of a round width over the period, or None if it is empty.

    Args:
        store: the database.
        since: epoch seconds; None: from the first record or metric value.
        until: epoch seconds; None: to the last one (to ``now`` if ``since`` is given:
            records stamped later, by a clock ahead, are not in the period).
        count: how many buckets are wanted, about.
        utc: align to the UTC clock, else to local time's.
        now: epoch seconds where a period with ``since`` alone ends (None: the clock).

    Returns:
        The buckets, or None without a record or value in the period.
    """
    if since is not None and until is None:  # "until now": the moment the report is made,
        until = time.time() if now is None else now  # so its page commands list what it counts
    bounds = (-_FOREVER if since is None else since, _FOREVER if until is None else until)
    first, last = store.sql(
        "SELECT min(t), max(t) FROM (SELECT created AS t FROM logs WHERE created >= ? "
        "AND created < ? UNION ALL SELECT created FROM metrics WHERE created >= ? "
        "AND created < ?)",
        bounds * 2,
    )[0]
    if first is None:
        return None
    start = _millis(float(first) if since is None else since)  # as stored: whole ms
    # Without an end: just past the last record, its millisecond in the last bucket.
    end = _millis(until) if until is not None else _millis(float(last)) + 1e-3
    origin = _origin(start, utc)
    most = max(count, MOST)
    best: tuple[float, Buckets] | None = None
    for width in round_widths():
        grid = origin + math.floor((start - origin) / width) * width
        n = max(1, math.ceil(round((end - grid) * 1000) / (width * 1000)))
        if n <= most:
            miss = abs(math.log(n / max(1, count)))
            if best is None or miss < best[0]:
                cut = start if since is not None and start > grid else None
                best = (miss, Buckets(grid, float(width), n, None if until is None else end, cut))
        if n == 1:
            break
    assert best is not None  # the widest width gives one bucket
    return best[1]


def _origin(epoch: float, utc: bool) -> float:
    """An epoch at midnight, on a Monday, of the clock shown, near ``epoch``."""
    if utc:
        return _MONDAY
    return _MONDAY - utc_offset(epoch)


def _millis(epoch: float) -> float:
    """``epoch`` rounded to the millisecond, as its stored timestamp text is."""
    return round(epoch * 1000) / 1000
