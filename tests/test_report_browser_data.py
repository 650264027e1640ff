"""The report in a real browser for any span and any data (#15 follow-up 7-11).

Ticks at round times over years and across a daylight saving change, a single record,
a metrics-only database with a counter drawn as totals, error spikes listed first with
why, times in tables shown whole, custom levels in colours of their own.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sqlite_logging_handler import MetricsAdapter, SQLiteHandler
from sqlite_logging_handler.cli import main

from .conftest import make_logger
from .test_report_browser import browser, open_page, query

__all__ = ["browser"]  # the module's Chromium, shared

pytestmark = pytest.mark.slow

YEAR_START = datetime(2025, 1, 3, 9, 0, tzinfo=UTC).timestamp()
DAY = 86400.0


def _log(log: logging.Logger, level: int, message: str, created: float) -> None:
    record = log.makeRecord(log.name, level, __file__, 1, message, (), None)
    record.created = created
    log.handle(record)


@pytest.fixture(scope="module")
def two_years(tmp_path_factory) -> Path:
    """Two years of steady records, custom levels among them, and one error spike."""
    path: Path = tmp_path_factory.mktemp("years") / "app.db"
    logging.addLevelName(25, "NOTICE")
    logging.addLevelName(45, "ALERT")
    handler = SQLiteHandler(path)
    log = make_logger(handler)
    log.setLevel(1)
    for day in range(730):
        for hour in (1, 13):
            _log(log, logging.INFO, "steady", YEAR_START + day * DAY + hour * 3600)
        _log(log, 25, "notice", YEAR_START + day * DAY + 7 * 3600)
        _log(log, logging.WARNING if day % 2 else 45, "odd one", YEAR_START + day * DAY + 9 * 3600)
    spike = YEAR_START + 500 * DAY
    for i in range(40):
        _log(log, logging.ERROR, "disk full", spike + i)
    handler.close()
    return path


def _render(db: Path, out: Path, *args: str) -> Path:
    assert main(["--db", str(db), "report", "-o", str(out), *args]) == 0
    return out


def _ticks(page, chart: str) -> list[tuple[float, str]]:
    return [
        (float(t.get_attribute("data-epoch") or "nan"), t.inner_text())
        for t in page.locator(f"section.chart.{chart} .x-axis .tick").all()
    ]


def test_years_tick_on_month_starts_and_spikes_come_first(browser, two_years, tmp_path):
    page, errors = open_page(browser, _render(two_years, tmp_path / "r.html", "--utc"), 1400)
    assert errors == []
    ticks = _ticks(page, "volume")
    assert len(ticks) >= 3
    for epoch, label in ticks:
        moment = datetime.fromtimestamp(epoch, UTC)
        assert (moment.day, moment.hour, moment.minute) == (1, 0, 0), label
        assert re.fullmatch(r"\d{4}(-\d\d)?", label), label
    for label in page.locator("section.chart .y-axis .tick").all_inner_texts():
        assert re.fullmatch(r"[\d,]+(\.\d+)?%?", label), label
    counts = page.locator("section.chart.volume .y-axis .tick").all_inner_texts()
    assert all("." not in label for label in counts), counts  # whole records
    first = page.locator("section.bucket").first
    assert first.locator("p.why").get_attribute("data-why") == "error spike"
    assert int(first.get_attribute("data-errors") or 0) >= 40
    why = page.locator("section.bucket p.why").all_inner_texts()
    assert all(text.startswith("Listed as ") for text in why) and len(why) <= 6
    colours = {
        key.get_attribute("data-level"): key.locator("i").evaluate(
            "i => getComputedStyle(i).backgroundColor"
        )
        for key in page.locator("section.volume .key").all()
    }
    assert set(colours) == {"INFO", "NOTICE", "WARNING", "ALERT", "ERROR"}
    assert len(set(colours.values())) == len(colours), colours  # distinct shades
    page.close()


def test_ticks_across_a_daylight_saving_change_stay_at_midnight_and_noon(
    browser, two_years, tmp_path, monkeypatch
):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        out = _render(
            two_years, tmp_path / "dst.html", "--since", "2026-03-07", "--until", "2026-03-10"
        )
    finally:
        monkeypatch.undo()
        time.tzset()
    page, errors = open_page(browser, out, 1400)
    assert errors == []
    labels = [label for _, label in _ticks(page, "volume")]
    assert labels and all(re.fullmatch(r"03-\d\d (00|12):00", label) for label in labels), labels
    page.close()


def test_times_in_tables_are_shown_whole(browser, two_years, tmp_path):
    page, _ = open_page(browser, _render(two_years, tmp_path / "t.html"), 1400)
    cells = page.locator("td.time").evaluate_all(
        "cells => cells.map(c => [c.textContent, c.scrollWidth <= c.clientWidth])"
    )
    assert cells
    for text, whole in cells:
        assert whole and re.search(r"[+-]\d\d:\d\d$|Z$", text), text
    page.close()


def test_a_single_record(browser, tmp_path):
    db = tmp_path / "one.db"
    handler = SQLiteHandler(db)
    make_logger(handler).warning("alone")
    handler.close()
    page, errors = open_page(browser, _render(db, tmp_path / "one.html", "--utc"), 800)
    assert errors == []
    assert page.locator("section.chart.volume .y-axis .tick").all_inner_texts() == ["0", "1"]
    assert page.locator("section.chart.volume rect.bar").count() == 1
    scroll = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert scroll
    page.close()


def test_a_metrics_only_database_shows_metrics_and_counters_as_totals(browser, tmp_path):
    db = tmp_path / "metrics.db"
    handler = SQLiteHandler(db)
    metrics = MetricsAdapter(make_logger(handler))
    for i in range(120):
        metrics.increment("orders", 1 + i % 3, tags={"site": "eu"})
        metrics.record("latency", 10.0 + i, "ms")
    handler.close()
    page, errors = open_page(browser, _render(db, tmp_path / "m.html", "--utc"), 800)
    assert errors == []
    assert page.locator("section.chart.volume").count() == 0
    assert page.locator("section.chart.error-rate").count() == 0
    assert page.locator("table.loggers").count() == 0 and page.locator("table.records").count() == 0
    assert page.locator("#records p.empty").inner_text() == (
        "No log records in this period: metrics only."
    )
    orders = page.locator('section.chart.metric[data-name="orders"]')
    assert "total per bucket" in orders.locator("h2").inner_text()
    totals = [float(v) for v in orders.locator("rect.total").evaluate_all(
        "bars => bars.map(b => b.dataset.total)")]  # fmt: skip
    ((stored,),) = query(db, "SELECT SUM(value) FROM metrics WHERE metric_name = 'orders'")
    assert sum(totals) == stored
    ticks = orders.locator(".y-axis .tick").all_inner_texts()
    assert all(re.fullmatch(r"[\d,]+", tick) for tick in ticks), ticks
    assert page.locator('section.chart.metric[data-name="latency"] polygon.band').count() == 1
    page.close()


@pytest.fixture(autouse=True)
def _no_levels_left() -> Iterator[None]:
    yield
    for name in ("NOTICE", "ALERT"):
        logging._nameToLevel.pop(name, None)
