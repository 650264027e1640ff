"""The report's records sections: the moments worth reading, most telling first.

Only buckets that stand out are listed (``STANDS_OUT``, said on the page): error
spikes first (an error rate well above the period's), then the buckets with the most
errors, then the busiest; each section says why it is listed, and prints the
``sqlite-logs query`` commands that list all its records and those at ERROR or above,
which find exactly what its heading counts (``Buckets`` bound whole milliseconds, and
``--limit`` is the count).
"""

from __future__ import annotations

import math
import shlex

from ._charts import TimeAxis, html_text, level_colour
from ._report_tables import message_cell, name_html, time_cell
from ._times import format_time
from ._words import counted, number
from .query import LogStore

__all__ = ["RECORDS_HEADING", "STANDS_OUT", "bucket_records", "ranked_buckets", "record_counts"]

RECORDS_HEADING = "Records of the moments to read first"

_TOP = 10  # records shown per section
_SPIKES, _SECTIONS = 3, 6  # sections for error spikes, and in all


STANDS_OUT = (
    "A moment is listed only when it stands out: at least 3 errors (or records), at least "
    "1.5 times the whole period's error rate (or the average count of a bucket with "
    "records), and more than 3 standard deviations above what that rate or average gives "
    "by chance."
)
_LEAST, _FACTOR, _SIGMAS = 3, 1.5, 3.0  # the rule above


def ranked_buckets(counts: dict[str, tuple[int | None, list[int]]]) -> dict[int, str]:
    """The buckets that stand out (``STANDS_OUT``), most telling first: index -> why.

    Error spikes (an error rate well above the period's, binomially), then the most
    errors, then the busiest (a count well above the average bucket's, as Poisson
    counts): a period of even rates and counts has none.
    """
    totals: dict[int, int] = {}
    errors: dict[int, int] = {}
    for levelno, column in counts.values():
        for index, n in enumerate(column):
            totals[index] = totals.get(index, 0) + n
            if levelno is not None and levelno >= 40:
                errors[index] = errors.get(index, 0) + n
    filled = [i for i in totals if totals[i]]
    overall = sum(errors.values()) / (sum(totals.values()) or 1)
    chosen: dict[int, str] = {}
    spikes = [i for i in filled if _spike(errors.get(i, 0), totals[i], overall)]
    for i in sorted(spikes, key=lambda i: (-errors[i] / totals[i], -errors[i], i))[:_SPIKES]:
        rate = errors[i] / totals[i]
        chosen[i] = (
            f"error spike: {_percent(rate)} of its records at ERROR or above, "
            f"{rate / overall:.1f}x the whole period's {_percent(overall)}"
        )
    for what, among, word in (("most errors", errors, "error"), ("busiest", totals, "record")):
        average = sum(among.get(i, 0) for i in filled) / (len(filled) or 1)
        loud = [i for i in filled if _loud(among.get(i, 0), average)]
        for i in sorted(loud, key=lambda i: (-among[i], i)):
            if len(chosen) >= (_SECTIONS - 1 if what == "most errors" else _SECTIONS):
                break
            chosen.setdefault(
                i,
                f"{what}: {counted(among[i], word)}, {among[i] / average:.1f}x the average "
                "bucket with records",
            )
    return chosen


def _spike(errors: int, total: int, rate: float) -> bool:
    """``errors`` of ``total`` stand out from the period's error ``rate``."""
    expected = total * rate
    chance = _SIGMAS * math.sqrt(total * rate * (1 - rate))
    return errors >= _LEAST and errors >= _FACTOR * expected and errors > expected + chance


def _loud(n: int, average: float) -> bool:
    """A bucket's count ``n`` stands out from the ``average`` bucket's."""
    return n >= _LEAST and n >= _FACTOR * average and n > average + _SIGMAS * math.sqrt(average)


def _percent(share: float) -> str:
    """A share as a percentage with two significant digits below 10%: 0.35%, 4.2%, 20%."""
    if share >= 0.1 or share == 0:
        return f"{share:.0%}"
    return f"{float(f'{share * 100:.2g}'):g}%"


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
        total, errors = record_counts(store, (start, end))
        lines = "".join(
            f'<tr>{time_cell(created, axis.utc, "time")}<td data-label="level">'
            f'<span class="level" style="color:{level_colour(levelno)}">{html_text(level)}'
            f'</span></td><td class="logger">{name_html(module)}</td>'
            f"<td>{message_cell(message)}</td></tr>"
            for created, _, level, levelno, module, message in rows
        )
        commands = _commands(store.database, axis.buckets.bounds(index), total, errors)
        sections.append(
            f'<section class="bucket" id="bucket-{index}" data-bucket="{index}" '
            f'data-records="{total}" data-errors="{errors}"><h3>{html_text(axis.label(index))}: '
            f"{counted(total, 'record')}, {number(errors)} at ERROR or above</h3>"
            f'<p class="why" data-why="{why.partition(":")[0]}">Listed as {html_text(why)}.</p>'
            f'<table class="records cards"><colgroup><col class="time"><col class="level">'
            f'<col class="logger"><col></colgroup>{lines}</table>'
            f"<p>Most severe first, at most {_TOP}; all of them: {commands}</p></section>"
        )
    if not sections:  # the whole period's records, to read them all
        last = axis.buckets.count - 1
        period = (axis.buckets.bounds(0)[0], axis.buckets.bounds(last)[1])
        total, errors = record_counts(
            store, (axis.buckets.edges(0)[0], axis.buckets.edges(last)[1])
        )
        commands = _commands(store.database, period, total, errors)
        return (
            f'<section id="records" class="empty-section"><h2>{RECORDS_HEADING}</h2>'
            '<p class="empty">Nothing stands out in this period: no moment has an error rate '
            f"or a count of records well above the period's.</p><p>{STANDS_OUT}</p>"
            f'<p class="period" data-records="{total}" data-errors="{errors}">All '
            f"{counted(total, 'record')} of the period ({number(errors)} at ERROR or above): "
            f"{commands}</p></section>"
        )
    return (
        f'<section id="records"><h2>{RECORDS_HEADING}</h2>'
        "<p>Error spikes first, then the most errors, then the busiest moments. "
        f"{STANDS_OUT}</p>" + "".join(sections) + "</section>"
    )


def record_counts(store: LogStore, where: tuple[float, float]) -> tuple[int, int]:
    """The records with ``created`` in ``where`` (``a <= created < b``), and their errors."""
    total, errors = store.sql(
        "SELECT COUNT(*), COALESCE(SUM(levelno >= 40), 0) FROM logs "
        "WHERE created >= ? AND created < ?",
        where,
    )[0]
    return total, errors


def _commands(database: str, bounds: tuple[float, float], total: int, errors: int) -> str:
    """The commands listing the ``total`` records in ``bounds``, then its ``errors``."""
    shown = f"<code>{html_text(_command(database, *bounds, total))}</code>"
    if 0 < errors < total:
        errors_only = _command(database, *bounds, errors, "ERROR")
        shown += f"; those at ERROR or above: <code>{html_text(errors_only)}</code>"
    return shown


def _command(database: str, start: float, end: float, count: int, level: str = "") -> str:
    """The shell command listing the ``count`` records from ``start`` to ``end``.

    Args:
        database: the database's path as given (relative to where the report was made),
            quoted for a POSIX shell whatever it holds.
        start: epoch seconds, whole milliseconds: ``--since``.
        end: epoch seconds: ``--until`` (before it).
        count: how many records it finds: its ``--limit``, so it lists them all.
        level: a minimum level (``--min-level``), or "" for every level.
    """
    since, until = (format_time(epoch, utc=True) for epoch in (start, end))
    words = ["sqlite-logs", "--db", database, "query", "--since", since, "--until", until]
    if level:
        words += ["--min-level", level]
    return shlex.join([*words, "--limit", str(count)])
