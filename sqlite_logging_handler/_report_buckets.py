"""The report's records sections: the moments worth reading, most telling first.

Error spikes come first (the highest share of records at ERROR or above), then the
buckets with the most errors, then the busiest; each section says why it is listed,
and prints the ``sqlite-logs query`` command that finds all its records, which counts
exactly what its heading says (``Buckets`` bound whole milliseconds).
"""

from __future__ import annotations

import html
import shlex

from ._charts import TimeAxis, level_colour
from ._report_tables import message_cell, name_html, time_cell
from ._terminal import visible
from ._times import format_time
from ._words import counted, number
from .query import LogStore

__all__ = ["RECORDS_HEADING", "bucket_records", "ranked_buckets"]

RECORDS_HEADING = "Records of the moments to read first"

_TOP = 10  # records shown per section
_SPIKES, _SECTIONS = 3, 6  # sections for error spikes, and in all


def ranked_buckets(counts: dict[str, tuple[int | None, list[int]]]) -> dict[int, str]:
    """The buckets worth a records section, most telling first: index -> why."""
    totals: dict[int, int] = {}
    errors: dict[int, int] = {}
    for levelno, column in counts.values():
        for index, n in enumerate(column):
            totals[index] = totals.get(index, 0) + n
            if levelno is not None and levelno >= 40:
                errors[index] = errors.get(index, 0) + n
    overall = sum(errors.values()) / (sum(totals.values()) or 1)
    erring = [i for i in errors if errors[i]]
    chosen: dict[int, str] = {}
    for i in sorted(erring, key=lambda i: (-errors[i] / totals[i], -errors[i], i))[:_SPIKES]:
        if errors[i] / totals[i] > overall or len(erring) == 1:
            chosen[i] = (
                f"error spike: {errors[i] / totals[i]:.0%} of its records at ERROR or above "
                f"(the whole period: {overall:.0%})"
            )
    for i in sorted(erring, key=lambda i: (-errors[i], i)):
        if len(chosen) >= _SECTIONS - 1:
            break
        chosen.setdefault(i, f"most errors: {number(errors[i])}")
    average = sum(totals.values()) / (len([n for n in totals.values() if n]) or 1)
    for i in sorted((i for i in totals if totals[i]), key=lambda i: (-totals[i], i)):
        if len(chosen) >= _SECTIONS:
            break
        chosen.setdefault(
            i,
            f"busiest: {counted(totals[i], 'record')} "
            f"({totals[i] / average:.1f}x the average bucket with records)",
        )
    return chosen


def bucket_records(store: LogStore, axis: TimeAxis, reasons: dict[int, str]) -> str:
    """A section per bucket in ``reasons``, in its order, with why it is listed."""
    sections = []
    for index, why in reasons.items():
        start, end = axis.buckets.edges(index)
        rows = store.sql(
            "SELECT created, timestamp, level, levelno, module, message FROM logs "
            f"WHERE created >= ? AND created < ? ORDER BY levelno DESC, id LIMIT {_TOP}",
            (start, end),
        )
        total, errors = store.sql(
            "SELECT COUNT(*), COALESCE(SUM(levelno >= 40), 0) FROM logs "
            "WHERE created >= ? AND created < ?",
            (start, end),
        )[0]
        lines = "".join(
            f'<tr>{time_cell(created, axis.utc, "time")}<td data-label="level">'
            f'<span class="level" style="color:{level_colour(levelno)}">{_text(level)}'
            f'</span></td><td class="logger">{name_html(module)}</td>'
            f"<td>{message_cell(message)}</td></tr>"
            for created, _, level, levelno, module, message in rows
        )
        command = _command(store.database, *axis.buckets.bounds(index))
        sections.append(
            f'<section class="bucket" id="bucket-{index}" data-bucket="{index}" '
            f'data-records="{total}" data-errors="{errors}"><h3>{_text(axis.label(index))}: '
            f"{counted(total, 'record')}, {number(errors)} at ERROR or above</h3>"
            f'<p class="why" data-why="{why.partition(":")[0]}">Listed as {_text(why)}.</p>'
            f'<table class="records cards"><colgroup><col class="time"><col class="level">'
            f'<col class="logger"><col></colgroup>{lines}</table>'
            f"<p>Most severe first, at most {_TOP}; all of them: "
            f"<code>{_text(command)}</code></p></section>"
        )
    return (
        f'<section id="records"><h2>{RECORDS_HEADING}</h2>'
        "<p>Error spikes first, then the most errors, then the busiest moments.</p>"
        + "".join(sections)
        + "</section>"
    )


def _command(database: str, start: float, end: float) -> str:
    since, until = (format_time(epoch, utc=True) for epoch in (start, end))
    words = ["sqlite-logs", "--db", database, "query", "--since", since, "--until", until]
    return shlex.join(words)


def _text(value: object) -> str:
    return html.escape(visible(value), quote=False)
