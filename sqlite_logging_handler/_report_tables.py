"""The report's tables: the most frequent errors, the noisiest loggers, and their cells.

Cells are made to stay readable at any window width (the page's CSS, ``_report_style``,
gives the columns their widths and turns rows into cards in a narrow window): a logger
name may wrap after each dot, a time between its date and its clock, a long message is
cut after a few lines with the whole of it in its tooltip. A section with nothing to
show says why (``empty``): every part the page's navigation links to is on the page.
"""

from __future__ import annotations

from typing import Any

from ._charts import html_attr, html_text
from ._terminal import visible
from ._times import format_time
from ._words import number
from .query import LogStore

__all__ = ["empty", "loggers", "message_cell", "name_html", "time_cell", "top_errors"]

_TOP = 10  # rows of each table
_TITLE_CHARS = 2000  # of a long message, in its tooltip


def empty(section_id: str, heading: str, why: str) -> str:
    """A section with its heading and one line saying why it has nothing to show."""
    return (
        f'<section id="{section_id}" class="empty-section"><h2>{html_text(heading)}</h2>'
        f'<p class="empty">{html_text(why)}</p></section>'
    )


def top_errors(store: LogStore, where: tuple[float, float], utc: bool) -> str:
    """ERROR and above grouped by template, most frequent first, with their loggers.

    Args:
        store: the database.
        where: the ``created`` range, ``created >= a AND created < b`` (epoch seconds).
        utc: times in UTC, else local time.
    """
    rows = store.sql(
        "SELECT COALESCE(template, message) AS kind, COUNT(*) AS n, MIN(created), "
        "MAX(created), MAX(id) FROM logs WHERE levelno >= 40 AND created >= ? AND created < ? "
        f"GROUP BY kind ORDER BY n DESC, MAX(id) DESC LIMIT {_TOP}",
        where,
    )
    if not rows:
        return empty(
            "top-errors", "Most frequent errors", "No records at ERROR or above in this period."
        )
    kinds = [row[0] for row in rows]
    marks = ",".join("?" * len(kinds))
    examples = {
        row["id"]: row["message"]
        for row in store.sql(
            f"SELECT id, message FROM logs WHERE id IN ({marks})", [row[4] for row in rows]
        )
    }
    by_kind: dict[Any, list[str]] = {}
    for kind, module in store.sql(
        "SELECT COALESCE(template, message) AS kind, module FROM logs WHERE levelno >= 40 "
        f"AND created >= ? AND created < ? AND COALESCE(template, message) IN ({marks}) "
        "GROUP BY kind, module ORDER BY COUNT(*) DESC, module",
        [*where, *kinds],
    ):
        by_kind.setdefault(kind, []).append(module)
    body = "".join(
        f'<tr data-count="{n}"><td class="n" data-label="records">{number(n)}</td>'
        f'<td class="kind">{message_cell(kind)}{_example(kind, examples.get(last_id))}</td>'
        f'<td class="logger" data-label="loggers">{_some(by_kind.get(kind, []))}</td>'
        f"{time_cell(last, utc, 'last seen', title=f'first: {format_time(first, utc=utc)}')}"
        "</tr>"
        for kind, n, first, last, last_id in rows
    )
    return (
        '<section id="top-errors"><h2>Most frequent errors</h2>'
        "<p>ERROR and above, grouped by message template.</p>"
        '<table class="top-errors cards"><colgroup><col class="n"><col><col class="logger">'
        '<col class="time"></colgroup><thead><tr><th class="n">records</th>'
        "<th>message</th><th>loggers</th><th>last seen</th></tr></thead>"
        f"<tbody>{body}</tbody></table></section>"
    )


def loggers(store: LogStore, where: tuple[float, float]) -> str:
    """The loggers with the most records: their records, errors, warnings and share."""
    rows = store.sql(
        "SELECT module, COUNT(*) AS n, SUM(levelno >= 40), SUM(levelno >= 30 AND levelno < 40) "
        f"FROM logs WHERE created >= ? AND created < ? GROUP BY module ORDER BY n DESC, module "
        f"LIMIT {_TOP}",
        where,
    )
    if not rows:
        return empty("loggers", "Noisiest loggers", "No log records in this period.")
    total = sum(row[1] for row in rows) or 1
    body = "".join(
        f'<tr data-logger="{html_attr(name)}" data-count="{n}"><td class="logger">{name_html(name)}'
        f'</td><td class="n" data-label="records">{number(n)}</td>'
        f'<td class="n" data-label="errors">{number(errors)}</td>'
        f'<td class="n" data-label="warnings">{number(warnings)}</td>'
        f'<td class="share"><span class="share" style="width:{n / total * 100:.1f}%"></span></td>'
        "</tr>"
        for name, n, errors, warnings in rows
    )
    return (
        '<section id="loggers"><h2>Noisiest loggers</h2><table class="loggers cards"><colgroup>'
        '<col><col class="n"><col class="n"><col class="n"><col class="share"></colgroup>'
        '<thead><tr><th>logger</th><th class="n">records</th><th class="n">errors</th>'
        '<th class="n">warnings</th><th>share</th></tr></thead>'
        f"<tbody>{body}</tbody></table></section>"
    )


def time_cell(epoch: float, utc: bool, label: str, *, title: str | None = None) -> str:
    """A table cell with the whole time, which may wrap between its date and its clock."""
    date, _, clock = format_time(epoch, utc=utc).partition(" ")
    tip = f' title="{html_attr(title)}"' if title else ""
    return (
        f'<td class="time" data-label="{label}"{tip}><span>{date}</span> <span>{clock}</span></td>'
    )


def name_html(name: object) -> str:
    """A logger name that may wrap after each dot, slash or colon, never inside a part."""
    text = html_text(name)
    for mark in ".", "/", ":":
        text = text.replace(mark, f"{mark}<wbr>")
    return text


def message_cell(message: object, kind: str = "message") -> str:
    """A message cut after a few lines (the page's CSS), with the whole in its tooltip."""
    text = visible(message)
    tip = text if len(text) <= _TITLE_CHARS else text[:_TITLE_CHARS] + "…"
    return f'<div class="{kind}" title="{html_attr(tip)}">{html_text(text)}</div>'


def _example(kind: str, message: Any) -> str:
    if message is None or message == kind:
        return ""
    return message_cell(f"e.g. {visible(message)}", "example")


def _some(names: list[Any], most: int = 3) -> str:
    shown = "".join(f'<div class="name">{name_html(name)}</div>' for name in names[:most])
    more = len(names) - most
    return shown + (f'<div class="more">and {number(more)} more</div>' if more > 0 else "")
