"""``sqlite-logs report`` in a real browser (#15): headless Chromium, driven by Playwright.

The page must render without script errors, give every chart readable time and value
axes, fit an 800 px window without scrolling sideways, fill a wide one, and show
numbers that match the database. CI installs Debian's ``chromium`` (``.ci/run``); the
tests fail, never skip, without it.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import re
import shlex
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from sqlite_logging_handler import LogStore, SQLiteHandler
from sqlite_logging_handler._records import METRIC_ATTR, MetricPayload
from sqlite_logging_handler._report import render_report
from sqlite_logging_handler.cli import main

pytestmark = pytest.mark.slow

START = 1_796_058_000.0  # 2026-11-30 17:00 UTC
SPIKE = (START + 1800, START + 1900)  # errors pour in for 100 s, half an hour in
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if path is None:
        pytest.fail("no chromium: install Debian's chromium (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium, headless, with a fresh profile of its own (Playwright makes one)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def _record(name: str, level: int, msg: str, args: tuple[Any, ...], created: float):
    record = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    record.created = created
    return record


@pytest.fixture(scope="module")
def report_db(tmp_path_factory) -> Path:
    """An hour of records from five loggers, an error spike, and a latency metric."""
    path: Path = tmp_path_factory.mktemp("report") / "app.db"
    handler = SQLiteHandler(path)
    rng = random.Random(7)
    loggers = ["app.http", "app.db", "app.auth", "worker.jobs", "payments"]
    for i in range(6000):
        created = START + i * 0.6
        in_spike = SPIKE[0] <= created < SPIKE[1]
        args: tuple[Any, ...]
        if in_spike and rng.random() < 0.5:
            level, msg, args = logging.ERROR, *rng.choice(
                [("db timeout after %d s", (30,)),
                 ("payment declined for user %d", (rng.randint(1, 9),)),
                 ("cache miss storm", ())]
            )  # fmt: skip
        else:
            level = rng.choice([logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING])
            msg, args = "request %s took %d ms", ("/api/users", rng.randint(1, 400))
        handler.handle(_record(rng.choice(loggers), level, msg, args, created))
        if i % 3 == 0:
            metric = _record("app", logging.INFO, "m", (), created)
            value = rng.gauss(300 if in_spike else 100, 20)
            metric.__dict__[METRIC_ATTR] = MetricPayload("response_time", value, "ms", None)
            handler.handle(metric)
    handler.close()
    return path


@pytest.fixture(scope="module")
def page_file(report_db, tmp_path_factory) -> Path:
    """The page ``sqlite-logs --utc report`` writes (times in UTC: the same on any machine)."""
    out: Path = tmp_path_factory.mktemp("page") / "report.html"
    with LogStore(report_db) as store:
        out.write_text(render_report(store, utc=True), encoding="utf-8")
    return out


def test_the_command_line_writes_that_page(report_db, page_file, tmp_path):
    out = tmp_path / "report.html"
    assert main(["--db", str(report_db), "--utc", "report", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == page_file.read_text(encoding="utf-8")


def open_page(browser: Browser, page_file: Path, width: int) -> tuple[Page, list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
    page.goto(page_file.as_uri())
    return page, errors


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("width", [800, 1400])
def test_the_page_renders_with_axes_and_fits_the_window(browser, page_file, tmp_path, width):
    page, errors = open_page(browser, page_file, width)
    page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)
    assert errors == []
    layout = page.evaluate(
        """() => ({
            scroll: document.documentElement.scrollWidth,
            inner: window.innerWidth,
            charts: [...document.querySelectorAll('section.chart')].map(chart => ({
                x: [...chart.querySelectorAll('.x-axis .tick')].map(t => {
                    const r = t.getBoundingClientRect();
                    return {text: t.textContent, left: r.left, right: r.right};
                }),
                y: [...chart.querySelectorAll('.y-axis .tick')].map(t => t.textContent),
                plot: chart.querySelector('svg.plot').getBoundingClientRect().width,
            })),
        })"""
    )
    assert layout["scroll"] <= layout["inner"]  # no sideways scrolling
    assert len(layout["charts"]) == 3  # volume, error rate, response_time
    for chart in layout["charts"]:
        x, y = chart["x"], chart["y"]
        assert len(x) >= 2 and all(re.fullmatch(r"\d\d:\d\d(:\d\d)?", t["text"]) for t in x), x
        assert all(t["left"] >= 0 and t["right"] <= layout["inner"] for t in x), x
        assert all(a["right"] <= b["left"] for a, b in itertools.pairwise(x)), x  # no overlap
        assert len(y) >= 3 and y[0].startswith("0"), y
        assert all(re.fullmatch(r"[\d,]+(\.\d{1,2})?(%| ms)?", label) for label in y), y
        assert chart["plot"] > 0.75 * layout["inner"] - 150  # the chart fills the width
    page.close()


def test_the_axes_say_the_right_times_and_values(browser, page_file, report_db):
    page, _ = open_page(browser, page_file, 1400)
    volume = page.locator("section.chart.volume")
    ticks = volume.locator(".x-axis .tick").all_inner_texts()
    assert ticks[0] in ("17:10", "17:05", "17:00") and ticks[-1] in ("17:50", "17:55", "18:00")
    tallest = max(int(c) for c in volume.locator("rect.bar").evaluate_all(
        "bars => { const sums = {}; for (const b of bars) sums[b.dataset.bucket] ="
        " (sums[b.dataset.bucket] || 0) + +b.dataset.count; return Object.values(sums); }"
    ))  # fmt: skip
    top = float(volume.locator(".y-axis .tick").last.get_attribute("data-value") or 0)
    assert tallest <= top < 2.5 * tallest
    latency = page.locator("section.chart.metric")
    top_ms = latency.locator(".y-axis .tick").last.inner_text()
    assert top_ms.endswith(" ms") and 300 <= float(top_ms[:-3].replace(",", "")) <= 600
    page.close()


def test_the_numbers_on_the_page_match_the_database(browser, page_file, report_db):
    page, _ = open_page(browser, page_file, 1400)
    summary = page.locator("p.summary")
    (total, errors), *_ = query(report_db, "SELECT COUNT(*), SUM(levelno >= 40) FROM logs")
    assert summary.get_attribute("data-records") == str(total)
    assert summary.get_attribute("data-errors") == str(errors)
    assert f"{total:,}" in summary.inner_text()
    legend = {
        key.get_attribute("data-level"): int(key.get_attribute("data-count") or -1)
        for key in page.locator("section.volume .key").all()
    }
    assert legend == dict(query(report_db, "SELECT level, COUNT(*) FROM logs GROUP BY level"))
    top = [
        (int(row.get_attribute("data-count") or -1), row.locator("td.kind").inner_text())
        for row in page.locator("table.top-errors tbody tr").all()
    ]
    stored = query(
        report_db,
        "SELECT COUNT(*), COALESCE(template, message) AS kind FROM logs WHERE levelno >= 40 "
        "GROUP BY kind ORDER BY 1 DESC",
    )
    assert [(n, kind.split("\n")[0]) for n, kind in top] == stored
    loggers = {
        row.get_attribute("data-logger"): int(row.get_attribute("data-count") or -1)
        for row in page.locator("table.loggers tbody tr").all()
    }
    assert loggers == dict(query(report_db, "SELECT module, COUNT(*) FROM logs GROUP BY module"))
    page.close()


def test_a_spike_links_to_its_records(browser, page_file, report_db):
    page, _ = open_page(browser, page_file, 1400)
    worst = max(
        page.locator("section.error-rate line.rate").all(),
        key=lambda point: float(point.get_attribute("data-rate") or 0),
    )
    bucket = worst.get_attribute("data-bucket")
    link = page.locator(f'section.error-rate a[href="#bucket-{bucket}"]')
    assert link.count() == 1
    link.locator("line").click(force=True)
    assert page.url.endswith(f"#bucket-{bucket}")
    section = page.locator(f"#bucket-{bucket}")
    assert section.is_visible()
    words = shlex.split(section.locator("code").first.inner_text())
    since, until = words[words.index("--since") + 1], words[words.index("--until") + 1]
    (count, errors), *_ = query(
        report_db,
        "SELECT COUNT(*), SUM(levelno >= 40) FROM logs WHERE timestamp >= ? AND timestamp < ?",
        (since.rstrip("Z"), until.rstrip("Z")),
    )
    assert (section.get_attribute("data-records"), section.get_attribute("data-errors")) == (
        str(count),
        str(errors),
    )
    assert errors > 0 and section.locator("table.records tr").count() == min(count, 10)
    page.close()


def test_the_page_is_one_file_that_loads_nothing(browser, page_file):
    page, errors = open_page(browser, page_file, 800)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.reload()
    assert errors == [] and requests == [page_file.as_uri()]
    assert page.locator("script").count() == 0
    page.close()
