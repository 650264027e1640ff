"""What the report lists as notable stands out, and its commands list what they say (#15).

A bucket was "an error spike" with the whole period's error rate ("20% ... (the whole
period: 20%)"), and its "all of them" command printed 100 of 6,931 records (query's
default ``--limit``). Now a moment is listed only when it stands out (at least 3
errors or records, 1.5 times the period's rate or the average bucket's count, and over
3 standard deviations above chance): a period of even rates lists none and says so.
Every command the page offers, run as shown in a shell, lists exactly the number of
records the page says, also for a database path with spaces and quotes in it.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path

import pytest

from sqlite_logging_handler import SQLiteHandler
from sqlite_logging_handler.cli import main

from .conftest import PYTHON, child_env, make_logger
from .test_report_browser import browser, open_page

__all__ = ["browser"]  # the module's Chromium, shared

pytestmark = pytest.mark.slow

T = 1_796_058_000.0  # 2026-11-30 17:00 UTC
_SPIKE = T + 1800.0  # 17:30, half an hour in


def _log(log: logging.Logger, level: int, created: float) -> None:
    record = log.makeRecord(log.name, level, __file__, 1, "step %d", (int(created),), None)
    record.created = created
    log.handle(record)


def _steady(log: logging.Logger) -> None:
    """An hour, a record every 0.6 s, every fifth at ERROR: 20% errors everywhere."""
    for i in range(6000):
        _log(log, logging.ERROR if i % 5 == 0 else logging.INFO, T + i * 0.6)


def _with_spike(log: logging.Logger) -> None:
    """The steady hour, and 500 more records in half a minute, 420 of them errors."""
    _steady(log)
    for i in range(500):
        _log(log, logging.ERROR if i < 420 else logging.INFO, _SPIKE + i * 0.06)


def _sixty(log: logging.Logger) -> None:
    """Sixty records over twenty minutes, every other one an error: 50% everywhere."""
    for i in range(60):
        _log(log, logging.ERROR if i % 2 else logging.INFO, T + i * 20)


_SHAPES = {"steady": _steady, "spike": _with_spike, "sixty": _sixty}


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Each shape's database (in a folder with spaces and quotes) and its report."""
    made = {}
    for name, fill in _SHAPES.items():
        folder: Path = tmp_path_factory.mktemp(name) / 'it\'s a "quoted" $HOME dir'
        folder.mkdir()
        db = folder / "app.db"
        handler = SQLiteHandler(db)
        fill(make_logger(handler))
        handler.close()
        out = folder / "report.html"
        assert main(["--db", str(db), "--utc", "report", "-o", str(out)]) == 0
        made[name] = (db, out)
    return made


@pytest.mark.parametrize("shape", ["steady", "sixty"])
def test_even_rates_have_no_spike_and_say_nothing_stands_out(browser, pages, shape):
    page, errors = open_page(browser, pages[shape][1], 1400)
    assert errors == []
    assert page.locator("section.bucket").count() == 0
    records = page.locator("#records")
    assert records.locator("p.empty").inner_text().startswith("Nothing stands out")
    assert "1.5 times the whole period's error rate" in records.inner_text()
    assert page.locator('a[href^="#bucket-"]').count() == 0
    page.close()


def test_a_spike_is_listed_and_its_wording_matches_the_rule(browser, pages):
    page, errors = open_page(browser, pages["spike"][1], 1400)
    assert errors == []
    whys = page.locator("section.bucket p.why").all()
    kinds = [why.get_attribute("data-why") for why in whys]
    assert kinds[0] == "error spike", kinds
    assert "busiest" not in kinds or kinds.index("busiest") > 0
    first = page.locator("section.bucket").first
    assert int(first.get_attribute("data-errors") or 0) >= 420
    for why in whys:
        text = why.inner_text()
        if why.get_attribute("data-why") == "error spike":
            rate, factor, period = re.fullmatch(
                r"Listed as error spike: ([\d.]+)% of its records at ERROR or above, "
                r"([\d.]+)x the whole period's ([\d.]+)%\.",
                text,
            ).groups()  # type: ignore[union-attr]
            assert float(rate) >= 1.5 * float(period) and float(factor) >= 1.5, text
        else:
            factor = re.search(r"([\d.]+)x the average bucket with records", text)
            assert factor and float(factor[1]) >= 1.5, text
    page.close()


@pytest.mark.parametrize("shape", list(_SHAPES))
def test_every_command_on_the_page_lists_what_it_says(browser, pages, shape):
    page, _ = open_page(browser, pages[shape][1], 1400)
    env = {**child_env(), "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}"}
    offered = 0
    for part in page.locator("#records [data-records]").all():  # a bucket, or the period
        records = int(part.get_attribute("data-records") or -1)
        errors = int(part.get_attribute("data-errors") or -1)
        said = part.locator("h3").inner_text() if part.locator("h3").count() else part.inner_text()
        assert f"{records:,} record" in said and f"{errors:,} at ERROR or above" in said
        commands = part.locator("code").all_inner_texts()
        wanted = [records] + ([errors] if 0 < errors < records else [])
        assert len(commands) == len(wanted), commands
        for command, count in zip(commands, wanted, strict=True):
            found = subprocess.run(
                ["sh", "-c", f"{command} --json"],
                env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert found.returncode == 0, (command, found.stderr)
            assert len(found.stdout.splitlines()) == count, command
            offered += 1
    assert offered == page.locator("code").count() >= 2  # every command on the page, tried
    page.close()
