"""The report of every shape of database, in a real browser at 400, 800 and 1400 px (#15).

Logs only (with long logger names and messages), metrics only, an empty database, a
single record, a single bucket, records all in one second, only one level, a gauge
below zero, values in billions: at each width every table column is wide enough for
the words in it (no logger name broken letter by letter), the page never scrolls
sideways, every in-page link leads to something on the page, every chart has at least
two ticks on each axis, none cut off, and no NaN, counts are pluralised as English is
and numbers have thousands separators, and the numbers on the page match the database.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sqlite_logging_handler import MetricsAdapter, SQLiteHandler
from sqlite_logging_handler.cli import main

from .conftest import make_logger
from .test_report_browser import browser, open_page, query

__all__ = ["browser"]  # the module's Chromium, shared

pytestmark = pytest.mark.slow

T = 1_796_058_000.0  # 2026-11-30 17:00 UTC
LONG_NAMES = [
    "com.example.payments.gateway.internal.retry.BackoffScheduler",
    "app.http",
    "worker.jobs.nightly.reconcile.accounts.ledger",
    "averyveryveryverylongloggernamewithoutanydotsatallwhatsoever",
]


def _log(log: logging.Logger, level: int, msg: str, created: float, *args: Any) -> None:
    record = log.makeRecord(log.name, level, __file__, 1, msg, args, None)
    record.created = created
    log.handle(record)


def _logs_only(handler: SQLiteHandler) -> None:
    for i, name in enumerate(LONG_NAMES * 30):
        log = make_logger(handler)
        log.name = name
        _log(
            log,
            logging.ERROR if i % 3 == 0 else logging.INFO,
            "failed to reconcile account %s: the upstream ledger service returned status %d "
            "with a body of " + "x" * 200,
            T + i * 10,
            "acct-123456789",
            503,
        )


def _metrics_only(handler: SQLiteHandler) -> None:
    metrics = MetricsAdapter(make_logger(handler))
    for i in range(50):
        metrics.increment("orders")
        metrics.record("latency", 10.0 + i, "ms")


def _single(handler: SQLiteHandler) -> None:
    _log(make_logger(handler), logging.WARNING, "alone", T)


def _single_bucket(handler: SQLiteHandler) -> None:
    log = make_logger(handler)
    for i in range(5):
        _log(log, logging.ERROR if i == 4 else logging.INFO, "five", T + i * 0.1)


def _one_second(handler: SQLiteHandler) -> None:
    log = make_logger(handler)
    for i in range(1200):
        _log(log, logging.ERROR if i % 7 == 0 else logging.INFO, "n=%d", T + i * 0.0008, i)


def _one_level(handler: SQLiteHandler) -> None:
    log = make_logger(handler)
    for i in range(300):
        _log(log, logging.INFO, "steady", T + i * 12)


def _below_zero(handler: SQLiteHandler) -> None:
    log = make_logger(handler)
    metrics = MetricsAdapter(log)
    for i in range(100):
        metrics.gauge("temperature", -50.0 + i * 0.3, "C")
        metrics.increment("refunds", -1)
        _log(log, logging.INFO, "cold", T + i)


def _billions(handler: SQLiteHandler) -> None:
    metrics = MetricsAdapter(make_logger(handler))
    for i in range(100):
        metrics.gauge("memory_in_use", 1.5e9 + i * 1e7, "bytes")


SHAPES: dict[str, Callable[[SQLiteHandler], None]] = {
    "logs only": _logs_only,
    "metrics only": _metrics_only,
    "empty": lambda handler: None,
    "a single record": _single,
    "a single bucket": _single_bucket,
    "all in one second": _one_second,
    "only one level": _one_level,
    "below zero": _below_zero,
    "billions": _billions,
}


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Each shape's database and its report (``--utc``)."""
    made = {}
    for name, fill in SHAPES.items():
        folder: Path = tmp_path_factory.mktemp(name.replace(" ", "-"))
        db = folder / "app.db"
        handler = SQLiteHandler(db)
        fill(handler)
        handler.close()
        out = folder / "report.html"
        assert main(["--db", str(db), "--utc", "report", "-o", str(out)]) == 0
        made[name] = (db, out)
    return made


# Every cell: a word (split where a line may break: spaces, dots, slashes, colons,
# commas, hyphens) that fits the cell is never broken across lines, and the cell is at
# least as wide as its longest word (up to 160 px: a longer one may wrap anywhere).
_CELLS = """() => {
  const problems = [];
  for (const cell of document.querySelectorAll('td, th')) {
    if (!cell.getClientRects().length) continue;  // not shown (a card hides the header)
    const style = getComputedStyle(cell);
    const inner = cell.clientWidth - parseFloat(style.paddingLeft)
      - parseFloat(style.paddingRight);
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    let longest = 0;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/[^\\s.\\/:,-]+[.\\/:,-]?/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const rects = [...range.getClientRects()].filter(r => r.width > 0);
        const width = rects.reduce((sum, r) => sum + r.width, 0);
        longest = Math.max(longest, Math.min(width, 160));
        if (rects.length > 1 && width <= inner)
          problems.push(`"${m[0]}" broken in a ${inner.toFixed(0)} px cell`);
      }
    }
    if (inner + 1 < longest)
      problems.push(`${cell.textContent.slice(0, 30)}: ${inner.toFixed(0)} px, needs ${longest}`);
    if (cell.scrollWidth > cell.clientWidth + 1)
      problems.push(`${cell.textContent.slice(0, 30)}: overflows`);
  }
  return problems;
}"""

_LAYOUT = """() => ({
  scroll: document.documentElement.scrollWidth,
  inner: window.innerWidth,
  links: [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute('href')),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  charts: [...document.querySelectorAll('section.chart')].map(chart => ({
    x: [...chart.querySelectorAll('.x-axis .tick')].filter(t => t.getClientRects().length)
       .map(t => { const r = t.getBoundingClientRect();
                   return {text: t.textContent, left: r.left, right: r.right}; }),
    y: [...chart.querySelectorAll('.y-axis .tick')].map(t => t.textContent),
    yLeft: Math.min(...[...chart.querySelectorAll('.y-axis .tick')]
                    .map(t => t.getBoundingClientRect().left)),
    left: chart.getBoundingClientRect().left,
  })),
  html: document.documentElement.outerHTML,
})"""


@pytest.mark.parametrize("width", [400, 800, 1400])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_is_readable_at_every_width(browser, pages, shape, width):
    page, errors = open_page(browser, pages[shape][1], width)
    assert errors == []
    layout = page.evaluate(_LAYOUT)
    assert layout["scroll"] <= layout["inner"]  # no sideways scrolling
    assert page.evaluate(_CELLS) == []
    ids = layout["ids"]
    assert len(ids) == len(set(ids)), ids  # no id twice
    assert [link for link in layout["links"] if link[1:] not in ids] == []
    assert not re.search(r"\bNaN\b|\binf\b", layout["html"])
    for chart in layout["charts"]:
        x, y = chart["x"], chart["y"]
        assert len(x) >= 2 and len(y) >= 2, chart
        assert chart["yLeft"] >= chart["left"], chart  # no value label cut off
        assert all(t["left"] >= 0 and t["right"] <= layout["inner"] for t in x), x
        assert all(a["right"] <= b["left"] for a, b in itertools.pairwise(x)), x  # no overlap
    page.close()


def test_a_metrics_only_page_links_only_to_what_it_shows(browser, pages):
    page, _ = open_page(browser, pages["metrics only"][1], 800)
    nav = page.locator("nav a").evaluate_all("links => links.map(a => a.hash)")
    assert nav == ["#volume", "#error-rate", "#top-errors", "#loggers", "#metrics", "#records"]
    for target in nav:
        section = page.locator(target)
        assert section.count() == 1 and section.is_visible()
        if target != "#metrics":  # the others say why they are empty
            assert section.locator("p.empty").inner_text() == (
                "No log records in this period: metrics only."
            )
    page.close()


def test_empty_sections_say_why(browser, pages):
    page, _ = open_page(browser, pages["only one level"][1], 800)
    assert page.locator("#top-errors p.empty").inner_text() == (
        "No records at ERROR or above in this period."
    )
    page.close()
    page, _ = open_page(browser, pages["empty"][1], 800)
    assert page.locator("a").count() == 0  # a page with nothing says so, and links nowhere
    assert page.locator("p.empty").inner_text() == "No records yet."
    page.close()


_WORDS = (
    "record", "log record", "bucket", "logger", "error", "warning", "metric value", "value",
)  # fmt: skip
_DATES = re.compile(r"\d{4}-\d\d-\d\d|\d\d:\d\d(:\d\d(\.\d+)?)?|[\d.]+x\b")


@pytest.mark.parametrize("shape", ["a single record", "a single bucket", "all in one second"])
def test_counts_are_pluralised_and_numbers_separated(browser, pages, shape):
    page, _ = open_page(browser, pages[shape][1], 1400)
    shown = page.locator(".summary, h2, h3, .key, td.n, p.why, .more").all_inner_texts()
    shown += page.locator("svg title").all_text_contents()
    text = "\n".join(shown)
    nouns = "|".join(_WORDS)
    assert not re.findall(rf"(?<![\d.,])1 (?:{nouns})s\b", text)
    assert not re.findall(rf"(?<![\d.,])(?:[02-9]|\d\d+) (?:{nouns})\b(?!s)", text)
    assert not re.findall(r"\d{4,}", _DATES.sub("", text)), text  # 1,200, never 1200
    summary = page.locator(".summary").inner_text()
    ((records,),) = query(pages[shape][0], "SELECT COUNT(*) FROM logs")
    assert f" {records:,} log record{'' if records == 1 else 's'}," in summary
    assert "1 bucket of 1 s" in summary  # every one of these fits one second
    page.close()


@pytest.mark.parametrize("shape", [s for s in SHAPES if s != "empty"])
def test_the_numbers_match_the_database_for_every_shape(browser, pages, shape):
    db, out = pages[shape]
    page, _ = open_page(browser, out, 800)
    summary = page.locator("p.summary")
    (records, errors, metrics), *_ = query(
        db,
        "SELECT COUNT(*), COALESCE(SUM(levelno >= 40), 0), (SELECT COUNT(*) FROM metrics) "
        "FROM logs",
    )
    assert [summary.get_attribute(f"data-{what}") for what in ("records", "errors", "metrics")] == [
        str(records),
        str(errors),
        str(metrics),
    ]
    assert [int(n.replace(",", "")) for n in summary.locator("b").all_inner_texts()] == [
        records,
        errors,
        metrics,
    ]
    legend = {
        key.get_attribute("data-level"): int(key.get_attribute("data-count") or -1)
        for key in page.locator("section.volume .key").all()
    }
    assert legend == dict(query(db, "SELECT level, COUNT(*) FROM logs GROUP BY level"))
    loggers = {
        row.get_attribute("data-logger"): int(row.get_attribute("data-count") or -1)
        for row in page.locator("table.loggers tbody tr").all()
    }
    assert loggers == dict(query(db, "SELECT module, COUNT(*) FROM logs GROUP BY module"))
    page.close()


def test_a_gauge_below_zero_is_drawn_inside_its_chart(browser, pages):
    page, _ = open_page(browser, pages["below zero"][1], 800)
    for name in ("temperature", "refunds"):
        chart = page.locator(f'section.chart.metric[data-name="{name}"]')
        values = [float(v) for v in chart.locator(".y-axis .tick").evaluate_all(
            "ticks => ticks.map(t => t.dataset.value)")]  # fmt: skip
        assert values[0] < 0 <= values[-1], values
        plot = chart.locator("svg.plot").bounding_box()
        assert plot is not None
        for mark in chart.locator("line.p50, rect.total").all():
            box = mark.bounding_box()
            assert box is not None
            assert (
                plot["y"] - 4 <= box["y"]
                and box["y"] + box["height"] <= plot["y"] + plot["height"] + 4
            ), (name, box, plot)
    page.close()


def test_a_period_from_the_command_line_counts_what_is_in_it(browser, pages, tmp_path):
    db = pages["only one level"][0]  # a record every 12 s from 17:00 for an hour
    out = tmp_path / "part.html"
    period = ["--since", "2026-11-30T17:10:00Z", "--until", "2026-11-30 17:20:00Z"]
    assert main(["--db", str(db), "--utc", "report", "-o", str(out), *period]) == 0
    page, errors = open_page(browser, out, 800)
    assert errors == []
    ((stored,),) = query(
        db, "SELECT COUNT(*) FROM logs WHERE created >= ? AND created < ?", (T + 600, T + 1200)
    )
    summary = page.locator("p.summary")
    assert summary.get_attribute("data-records") == str(stored) == "50"
    assert summary.inner_text().startswith(
        "From 2026-11-30 17:10:00.000Z to 2026-11-30 17:20:00.000Z (UTC), 60 buckets of 10 s:"
    )
    ticks = page.locator("section.chart.volume .x-axis .tick").all_inner_texts()
    assert ticks[0] == "17:10" and ticks[-1] == "17:20", ticks
    assert page.locator("#metrics p.empty").inner_text() == "No metric values in this period."
    page.close()
