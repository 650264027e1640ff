"""The report's buckets have round widths on round times of the clock shown (#15).

Sixty buckets over twenty minutes were 19.834 s wide, and the commands the page offers
ended at times like 17:00:19.834Z: now a bucket is 1, 2, 5, 10, 15 or 30 s, 1, 2, 5, 10,
15 or 30 min, 1, 2, 3, 6 or 12 h, a day or more, and starts on a multiple of its width
from midnight (local or UTC): ``--buckets N`` gives about N of them.
"""

from __future__ import annotations

import logging
import re
import subprocess
import time
from pathlib import Path

import pytest

from sqlite_logging_handler import SQLiteHandler
from sqlite_logging_handler._report import render_report
from sqlite_logging_handler._times import parse_epoch
from sqlite_logging_handler.cli import main
from sqlite_logging_handler.query import LogStore

from .conftest import PYTHON, child_env

T = 1_796_058_000.0  # 2026-11-30 17:00:00 UTC
_EDGE = re.compile(r"(\d\d):(\d\d):(\d\d)\.(\d{3})(Z|[+-]\d\d:\d\d)")
_SUMMARY = re.compile(r"(\d+) buckets? of ([\d.,]+) (s|min|h|d)")
_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400}


def _write(db: Path, first: float, step: float, n: int) -> None:
    handler = SQLiteHandler(db)
    log = logging.getLogger("period")
    for i in range(n):
        level = logging.ERROR if i % 5 == 0 else logging.INFO
        record = log.makeRecord("period", level, __file__, 1, "tick %d", (i,), None)
        record.created = first + i * step
        handler.handle(record)
    handler.close()


def _report(db: Path, out: Path, *args: str, tz: str = "UTC") -> str:
    env = {**child_env(), "TZ": tz}
    done = subprocess.run(
        [PYTHON, "-m", "sqlite_logging_handler", "--db", str(db), "report", "-o", str(out),
         *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out.read_text(encoding="utf-8")


def _edges(page: str) -> list[float]:
    """The buckets' edges (the charts' tooltips, the headings), as seconds of the day."""
    headings = re.findall(r"<title>(.*?)</title>|<h3>(.*?)</h3>", page)
    assert headings
    return [
        int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000
        for heading in headings
        for h, m, s, ms, _ in _EDGE.findall("".join(heading))
    ]


@pytest.mark.parametrize(
    ("buckets", "count", "width"),
    [("60", 80, 15), ("20", 20, 60), ("7", 10, 120), ("1000", 598, 2)],
)
def test_twenty_minutes_make_round_buckets(tmp_path, buckets, count, width):
    db = tmp_path / "app.db"
    _write(db, T + 0.123, 0.997, 1200)  # 17:00:00.123 to 17:19:56.526
    page = _report(db, tmp_path / "r.html", "--utc", "--buckets", buckets)
    assert "From 2026-11-30 17:00:00.000Z to 2026-11-30 17:" in page
    ((shown, size, unit),) = _SUMMARY.findall(page)[:1]
    assert (int(shown.replace(",", "")), float(size) * _SECONDS[unit]) == (count, width)
    assert all(edge % width == 0 for edge in _edges(page)), _edges(page)
    shown_edges = "".join(re.findall(r"<h3>.*?</h3>|<code>.*?</code>", page))
    assert "19.834" not in shown_edges and ".123Z" not in shown_edges


def test_buckets_fall_on_round_local_times(tmp_path):
    db = tmp_path / "app.db"
    _write(db, T + 17.5, 97.3, 1800)  # two days
    page = _report(db, tmp_path / "r.html", "--buckets", "16", tz="Asia/Kolkata")
    assert "17 buckets of 3 h" in page
    assert "+05:30" in page
    assert all(edge % (3 * 3600) == 0 for edge in _edges(page)), _edges(page)


def test_a_chosen_start_cuts_the_first_bucket_short(tmp_path):
    db = tmp_path / "app.db"
    _write(db, T, 1.0, 1200)
    since, until = "2026-11-30T17:03:07.250Z", "2026-11-30T17:13:07.250Z"
    page = _report(db, tmp_path / "r.html", "--utc", "--since", since, "--until", until)
    assert "From 2026-11-30 17:03:07.250Z to 2026-11-30 17:13:07.250Z (UTC)" in page
    assert "61 buckets of 10 s" in page
    assert 'data-records="600"' in page  # 17:03:07.250 up to 17:13:07.250, one a second
    inner = [edge for edge in _edges(page) if edge % 1]  # only the period's own ends
    assert set(inner) <= {17 * 3600 + 187.25, 17 * 3600 + 787.25}, inner


def test_a_period_with_since_alone_ends_when_the_report_is_made(tmp_path):
    """``report --since 1h`` is "until now", to the moment the report was made.

    It ran on to the end of the last round bucket, or to the newest record: a record
    stamped later (by a clock ahead) was counted, and the page's commands, ending there
    too, listed records logged after the report was made instead of the ones it counted.
    """
    db = tmp_path / "app.db"
    before = time.time()
    _write(db, before - 600, 60.0, 5)  # five records in the last ten minutes
    _write(db, before + 3000, 1.0, 2)  # two stamped by a clock 50 minutes ahead
    page = _report(db, tmp_path / "r.html", "--utc", "--since", "1h")
    after = time.time()
    assert 'data-records="5"' in page
    ends = {_epoch(until) for until in re.findall(r"--until (?:&#x27;|')([^'&]+)", page)}
    assert ends, page
    assert all(before <= end <= after for end in ends), (before, ends, after)


def test_a_width_of_years_is_said_in_whole_days(tmp_path):
    db = tmp_path / "app.db"
    _write(db, T, 250 * 365 * 86400.0, 2)  # two records 250 years apart: 5-year buckets
    with LogStore(db) as store:
        page = render_report(store, utc=True)
    assert " buckets of 1,825 d:" in page  # not "1,820 d": three digits of 1,825


def test_relative_since_and_until_count_from_one_now(tmp_path, capsys):
    """``report --since 2h --until 1h`` is one hour, to the millisecond, every time.

    "Now" was read once per bound, so the period came out a millisecond off whenever
    the clock crossed one in between: run often enough for that to happen.
    """
    db = tmp_path / "app.db"
    _write(db, time.time() - 5400, 1.0, 3)
    periods = set()
    for _ in range(300):
        assert (
            main(["--db", str(db), "--utc", "report", "--since", "2h", "--until", "1h", "-o", "-"])
            == 0
        )
        page = capsys.readouterr().out
        shown = re.search(r"([\d:. -]+Z) to ([\d:. -]+Z)", page)
        assert shown is not None, page
        start, end = shown.groups()
        periods.add(_epoch(end) - _epoch(start))
    assert periods == {3600.0}


def _epoch(shown: str) -> float:
    epoch = parse_epoch(shown.strip())
    assert epoch is not None
    return round(epoch, 3)
