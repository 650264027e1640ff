"""``sqlite-logs report``: a self-contained HTML page whose charts match the database."""

from __future__ import annotations

import logging
import re
from collections import Counter
from html.parser import HTMLParser

from sqlite_logging_handler import SQLiteHandler
from sqlite_logging_handler._records import METRIC_ATTR, MetricPayload
from sqlite_logging_handler.cli import main

from .conftest import rows

T0 = 1_790_000_040.0  # a fixed epoch on a round time: buckets of 2 min from here


class _Marks(HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def _record(
    offset: float, level: int, msg: str = "m", metric: tuple[str, float, str] | None = None
) -> logging.LogRecord:
    record = logging.LogRecord("app", level, __file__, 1, msg, None, None)
    record.created = T0 + offset
    if metric is not None:
        record.__dict__[METRIC_ATTR] = MetricPayload(*metric, None)
    return record


def _build(db_path) -> None:
    handler = SQLiteHandler(db_path)
    plan = {  # offset: levels logged there
        10: [logging.INFO] * 3 + [logging.ERROR],
        150: [logging.INFO, logging.WARNING],
        480: [logging.ERROR, logging.ERROR],
        600: [logging.INFO],
    }
    for offset, levels in plan.items():
        for level in levels:
            handler.handle(_record(offset, level))
    for offset, value in [(20, 10.0), (30, 30.0), (40, 20.0), (610, 5.0)]:
        handler.handle(_record(offset, logging.INFO, metric=("latency", value, "ms")))
    handler.close()


Tags = list[tuple[str, dict[str, str]]]


def _report(db_path, tmp_path, *args: str) -> tuple[str, Tags]:
    out = tmp_path / "report.html"
    assert main(["--db", str(db_path), "report", "-o", str(out), *args]) == 0
    page = out.read_text(encoding="utf-8")
    parser = _Marks()
    parser.feed(page)
    return page, parser.tags


def test_report_series_match_the_database(db_path, tmp_path):
    _build(db_path)
    page, tags = _report(db_path, tmp_path, "--buckets", "6")

    bars: Counter[tuple[int, str]] = Counter()
    for tag, attrs in tags:
        if tag == "rect" and attrs.get("class") == "bar":
            bars[int(attrs["data-bucket"]), attrs["data-level"]] += int(attrs["data-count"])
    assert bars == {
        (0, "INFO"): 3,
        (0, "ERROR"): 1,
        (1, "INFO"): 1,
        (1, "WARNING"): 1,
        (4, "ERROR"): 2,
        (5, "INFO"): 1,
    }
    rates = {int(a["data-bucket"]): float(a["data-rate"]) for _, a in tags if "data-rate" in a}
    assert rates == {0: 0.25, 1: 0.0, 4: 1.0, 5: 0.0}

    (metric,) = [a for t, a in tags if t == "section" and "metric" in a.get("class", "").split()]
    assert metric["data-name"] == "latency"
    points = {
        int(a["data-bucket"]): (float(a["data-p50"]), float(a["data-p95"]))
        for _, a in tags
        if "data-p50" in a
    }
    assert points == {0: (20.0, 30.0), 5: (5.0, 5.0)}  # nearest rank of 10, 30, 20
    assert "latency (ms)" in page

    per_level: Counter[str] = Counter()
    for (_, level), n in bars.items():
        per_level[level] += n
    stored = rows(db_path, "SELECT level, COUNT(*) AS n FROM logs GROUP BY level")
    assert per_level == {row["level"]: row["n"] for row in stored}


def test_report_is_self_contained(db_path, tmp_path):
    _build(db_path)
    page, tags = _report(db_path, tmp_path)
    assert "<script" not in page.lower()
    assert not [a for _, a in tags if "src" in a]
    assert all(a["href"].startswith("#") for _, a in tags if "href" in a)  # in-page links only
    assert sum(1 for t, _ in tags if t == "svg") == 3  # volume, error rate, one metric


def test_report_on_an_empty_database_says_so(db_path, tmp_path):
    SQLiteHandler(db_path).close()
    page, _ = _report(db_path, tmp_path)
    assert "No records yet." in page


def test_report_of_a_quiet_period_says_so(db_path, tmp_path):
    handler = SQLiteHandler(db_path)
    handler.handle(_record(0, logging.INFO))  # long before the last hour
    handler.close()
    page, tags = _report(
        db_path, tmp_path, "--utc", "--since", "2026-01-01", "--until", "2026-01-02T12:00Z"
    )
    assert (
        "No records or metrics from 2026-01-01 00:00:00.000Z to 2026-01-02 12:00:00.000Z." in page
    )
    assert not [t for t, _ in tags if t == "svg"]
    page, _ = _report(db_path, tmp_path, "--utc", "--since", "1h")  # only --since: to now
    assert re.search(r"No records or metrics from \S+ \S+Z to now\.", page)


def test_report_since_a_future_time_is_an_error(db_path, tmp_path, capsys):
    SQLiteHandler(db_path).close()
    out = tmp_path / "report.html"
    since = "2100-01-01T00:00Z"  # with --since alone, the period ends now: before it starts
    assert main(["--db", str(db_path), "--utc", "report", "-o", str(out), "--since", since]) == 2
    error = capsys.readouterr().err
    assert error.startswith("sqlite-logs: error: now (") and error.endswith(
        f"is not after --since {since!r} (2100-01-01 00:00:00.000Z): no time is left between "
        "them (see: sqlite-logs report --help)\n"
    )
    assert not out.exists()


def test_report_since_leaves_older_records_out(db_path, tmp_path):
    handler = SQLiteHandler(db_path)
    handler.handle(_record(0, logging.INFO))  # long ago (T0 is in the past)
    now = logging.LogRecord("app", logging.ERROR, __file__, 1, "now", None, None)
    handler.handle(now)
    handler.close()
    _, tags = _report(db_path, tmp_path, "--since", "1h")
    counts = [int(a["data-count"]) for t, a in tags if t == "rect" and a.get("class") == "bar"]
    assert counts == [1]


def test_top_errors_name_each_logger_whole_most_errors_first(db_path, tmp_path):
    handler = SQLiteHandler(db_path)
    for name, times in (("billing,eu", 3), ("app", 1), ("jobs", 2)):
        for i in range(times):
            record = logging.LogRecord(name, logging.ERROR, __file__, 1, "down", None, None)
            record.created = T0 + i
            handler.handle(record)
    handler.close()
    page, _ = _report(db_path, tmp_path)
    start = page.index('<td class="logger" data-label="loggers">')  # top errors' first row
    row = page[start : page.index("</td>", start)]
    names = [part.split("</div>")[0] for part in row.split('<div class="name">')[1:]]
    assert names == ["billing,eu", "jobs", "app"]  # a comma in a name does not split it


def test_a_metric_in_a_single_bucket_has_its_p50_to_p95_band(db_path, tmp_path):
    handler = SQLiteHandler(db_path)
    for i, value in enumerate([10.0, 20.0, 30.0, 40.0]):  # all in one second: one bucket
        handler.handle(_record(i * 0.1, logging.INFO, metric=("latency", value, "ms")))
    handler.close()
    _, tags = _report(db_path, tmp_path, "--utc")
    (band,) = [a["points"] for t, a in tags if t == "polygon" and a.get("class") == "band"]
    corners = [tuple(map(float, point.split(","))) for point in band.split()]
    xs, ys = {x for x, _ in corners}, {y for _, y in corners}
    assert len(xs) == 2 and len(ys) == 2, corners  # an area from p50 to p95, not a line
