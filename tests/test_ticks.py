"""Axis ticks a person reads at a glance (#15 follow-up 7-8): round clock and calendar
times in the zone shown, across daylight saving changes, and whole numbers for counts."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from sqlite_logging_handler._ticks import number_ticks, time_ticks


@pytest.fixture
def new_york() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def _local(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _labels(ticks: list[tuple[float, str]]) -> list[str]:
    return [label for _, label in ticks]


def test_across_a_daylight_saving_change_ticks_stay_at_midnight_and_noon(new_york):
    ticks = time_ticks(_local("2026-03-07"), _local("2026-03-10"))
    assert _labels(ticks) == [
        "03-07 00:00", "03-07 12:00", "03-08 00:00", "03-08 12:00",
        "03-09 00:00", "03-09 12:00", "03-10 00:00",
    ]  # fmt: skip
    assert ticks[3][0] - ticks[2][0] == 11 * 3600  # the day the clocks went forward


def test_long_spans_tick_on_months_and_years(new_york):
    two_years = time_ticks(_local("2025-01-03"), _local("2027-01-01"))
    assert _labels(two_years) == ["2025-07", "2026-01", "2026-07", "2027-01"]
    assert [datetime.fromtimestamp(t).day for t, _ in two_years] == [1, 1, 1, 1]
    decades = time_ticks(_local("2000-01-01"), _local("2026-03-25"))
    assert _labels(decades) == ["2000", "2005", "2010", "2015", "2020", "2025"]
    weeks = time_ticks(_local("2026-01-01"), _local("2026-03-25"))
    assert all(datetime.fromtimestamp(t).weekday() == 0 for t, _ in weeks)  # Mondays


def test_utc_ticks_are_round_in_utc(new_york):
    ticks = time_ticks(_local("2026-01-01 10:07"), _local("2026-01-01 16:00"), utc=True)
    assert _labels(ticks) == ["16:00", "17:00", "18:00", "19:00", "20:00", "21:00"]


def test_counts_get_whole_number_ticks():
    for top in (0, 0.5, 1, 2, 3, 7, 10, 13, 500, 12345):
        ticks = number_ticks(top, integer=True)
        assert all(value.is_integer() for value, _ in ticks), (top, ticks)
        assert ticks[-1][0] >= top
        assert "." not in "".join(label for _, label in ticks)
    assert _labels(number_ticks(0, integer=True)) == ["0", "1"]
    assert _labels(number_ticks(0, "%")) == ["0%", "25%", "50%", "75%", "100%"]


def test_values_below_zero_get_ticks_below_zero():
    ticks = number_ticks(-20, "C", bottom=-50)
    assert ticks[0][0] <= -50 and ticks[-1][0] == 0
    assert _labels(ticks) == ["-60 C", "-40 C", "-20 C", "0 C"]
    assert _labels(number_ticks(5, bottom=-3, integer=True)) == ["-4", "-2", "0", "2", "4", "6"]
    assert _labels(number_ticks(0.5, bottom=-0.5)) == ["-0.50", "-0.25", "0.00", "0.25", "0.50"]


def test_no_time_tick_is_finer_than_a_bucket():
    start = _local("2026-01-01 10:00:00.350")
    ticks = time_ticks(start, start + 1, least=1)  # one bucket of a second: its two ends
    assert _labels(ticks) == ["10:00:00.350", "10:00:01.350"]
    ticks = time_ticks(start, start + 1800, least=600)  # three buckets of ten minutes
    assert _labels(ticks) == ["10:10", "10:20", "10:30"]  # not every 5 minutes
