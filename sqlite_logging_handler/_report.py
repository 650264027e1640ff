"""``sqlite-logs report``: one self-contained HTML page an on-call engineer opens first.

Log volume per level, the error rate and each metric's p50/p95 over time (charts with
time and value axes, ``_charts``), the most frequent errors grouped by template, the
noisiest loggers, and the records of the busiest and most erroneous time buckets,
which the charts link to. Everything is computed in SQLite through a ``LogStore``;
the page has no script and fetches nothing, so it opens anywhere, offline, and can be
mailed. Every part the navigation links to is on the page whatever the database holds:
one with nothing to show keeps its heading and says why (``_report_tables.empty``);
only a page with nothing at all is a single line, with no links.
"""

from __future__ import annotations

from collections import defaultdict

from ._aggregates import KINDS_SQL, bucket_sql, bucket_statistic, units_sql
from ._charts import (
    RATE_HEADING,
    VOLUME_HEADING,
    Buckets,
    TimeAxis,
    counter_chart,
    html_text,
    metric_chart,
    rate_chart,
    volume_chart,
)
from ._report_buckets import RECORDS_HEADING, bucket_records, ranked_buckets, record_counts
from ._report_period import choose_buckets
from ._report_style import HEAD
from ._report_tables import empty, loggers, top_errors
from ._times import format_time
from ._words import counted, noun_for, number
from .query import LogStore

__all__ = ["Buckets", "choose_buckets", "render_report"]

_FOREVER = 1e300


def render_report(
    store: LogStore,
    *,
    since: float | None = None,
    until: float | None = None,
    buckets: int = 60,
    utc: bool = False,
    now: float | None = None,
) -> str:
    """The report page for the records at or after ``since`` and before ``until``.

    Args:
        store: the database to report on.
        since: epoch seconds; None: from the first record.
        until: epoch seconds; None: to the last record (to now if ``since`` is given).
        buckets: about how many time buckets the charts have (``_report_period``).
        utc: show times in UTC; else in local time, with their offset.
        now: epoch seconds of "now", where a period with ``since`` alone ends (None:
            the clock, read then); a command passes the one its relative times used.
    """
    span = choose_buckets(store, since, until, buckets, utc=utc, now=now)
    title = f"Logs and metrics: {store.database}"
    parts = [HEAD.format(title=html_text(title)), f"<h1>{html_text(title)}</h1>"]
    if span is None:
        parts.append(f'<p class="empty">{html_text(_nothing_in(since, until, utc))}</p>')
    else:
        parts += _body(store, span, until, utc)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _nothing_in(since: float | None, until: float | None, utc: bool) -> str:
    """What an empty report says, naming the period it looked at."""
    if since is None and until is None:
        return "No records yet."
    start = "the first record" if since is None else format_time(since, utc=utc)
    end = "now" if until is None else format_time(until, utc=utc)
    return f"No records or metrics from {start} to {end}."


def _body(store: LogStore, span: Buckets, until: float | None, utc: bool) -> list[str]:
    where = (span.edges(0)[0], _FOREVER if span.until is None else span.edges(span.count - 1)[1])
    counts = level_counts(store, span, where)
    totals = _totals(store, where)
    reasons = ranked_buckets(counts)
    axis = TimeAxis(span, utc, frozenset(reasons))
    parts = [_summary(span, totals, utc), _NAV]
    quiet = "No log records in this period" + (": metrics only." if totals["metrics"] else ".")
    if totals["records"]:
        parts.append(volume_chart(counts, axis))
        parts.append(rate_chart(error_rates(store, span, where), axis))
        parts.append(top_errors(store, where, utc))
        parts.append(loggers(store, where))
    else:  # a metrics-only database, or a period without log records: say so, no empty charts
        parts.append(empty("volume", VOLUME_HEADING, quiet))
        parts.append(empty("error-rate", RATE_HEADING, quiet))
        parts.append(empty("top-errors", "Most frequent errors", quiet))
        parts.append(empty("loggers", "Noisiest loggers", quiet))
    kinds = _kinds(store)
    metrics = [
        counter_chart(name, unit, sums, axis)
        if bucket_statistic(kinds.get(name)) == "sum"
        else metric_chart(name, unit, pairs, axis)
        for name, (unit, sums, pairs) in metric_series(store, span, where).items()
    ]
    if metrics:
        parts.append(f'<div id="metrics">{"".join(metrics)}</div>')
    else:
        parts.append(empty("metrics", "Metrics", "No metric values in this period."))
    if totals["records"]:
        parts.append(bucket_records(store, axis, reasons))
    else:
        parts.append(empty("records", RECORDS_HEADING, quiet))
    return parts


def _kinds(store: LogStore) -> dict[str, str | None]:
    """Each metric's kind, as last recorded (``counter``, ``gauge``, ``histogram``)."""
    return {name: kind for name, kind, _ in store.sql(KINDS_SQL)}


# -- numbers ---------------------------------------------------------------------------


def level_counts(
    store: LogStore, buckets: Buckets, where: tuple[float, float]
) -> dict[str, tuple[int | None, list[int]]]:
    """Per level name, least severe first: its number and its records in each bucket."""
    counts: dict[str, tuple[int | None, list[int]]] = {}
    rows = store.sql(
        f"SELECT {buckets.sql()} AS b, level, MIN(levelno), COUNT(*) FROM logs "
        "WHERE created >= ? AND created < ? GROUP BY b, level ORDER BY MIN(levelno), level",
        where,
    )
    order: dict[str, int | None] = {}
    for index, level, levelno, n in rows:
        order.setdefault(level, levelno)
        counts.setdefault(level, (levelno, [0] * buckets.count))[1][index] = n
    ranked = sorted(order, key=lambda name: (order[name] is None, order[name] or 0, name))
    return {level: counts[level] for level in ranked}


def error_rates(
    store: LogStore, buckets: Buckets, where: tuple[float, float]
) -> list[float | None]:
    """Per bucket, the share of records at ERROR or above (None for an empty bucket)."""
    rates: list[float | None] = [None] * buckets.count
    rows = store.sql(
        f"SELECT {buckets.sql()} AS b, SUM(levelno >= 40), COUNT(*) FROM logs "
        "WHERE created >= ? AND created < ? GROUP BY b",
        where,
    )
    for index, errors, total in rows:
        rates[index] = errors / total
    return rates


def metric_series(
    store: LogStore, buckets: Buckets, where: tuple[float, float]
) -> dict[str, tuple[str | None, list[float], list[tuple[float, float] | None]]]:
    """Per metric: its unit, its sum per bucket, and per bucket (p50, p95), nearest-rank.

    One pass of ``_aggregates.bucket_sql`` (the SQL ``metrics --plot`` runs, and
    nearest rank as ``metric_summary``): a counter is charted by its sums, any other
    metric by its p50 inside its p50-p95 band.
    """
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0] * buckets.count)
    pairs: dict[str, list[tuple[float, float] | None]] = defaultdict(lambda: [None] * buckets.count)
    for name, index, total, p50, p95 in store.sql(
        bucket_sql("WHERE created >= ? AND created < ?", buckets.sql()), where
    ):
        sums[name][index] = total
        pairs[name][index] = (p50, p95)
    units = {name: unit for name, unit, _ in store.sql(units_sql(""))}
    return {name: (units.get(name), sums[name], pairs[name]) for name in pairs}


def _totals(store: LogStore, where: tuple[float, float]) -> dict[str, int]:
    logs, errors = record_counts(store, where)
    (metrics,) = store.sql(
        "SELECT COUNT(*) FROM metrics WHERE created >= ? AND created < ?", where
    )[0]
    return {"records": logs, "errors": errors, "metrics": metrics}


# -- sections --------------------------------------------------------------------------


def _summary(span: Buckets, totals: dict[str, int], utc: bool) -> str:
    zone = "UTC" if utc else "local time"
    records, errors, metrics = totals["records"], totals["errors"], totals["metrics"]
    return (
        f'<p class="summary" data-records="{records}" data-errors="{errors}"'
        f' data-metrics="{metrics}">From {format_time(span.first, utc=utc)} to '
        f"{format_time(span.end, utc=utc)} ({zone}), {counted(span.count, 'bucket')} of "
        f"{_duration(span.width)}: <b>{number(records)}</b> {noun_for(records, 'log record')}, "
        f"<b>{number(errors)}</b> at ERROR or above, <b>{number(metrics)}</b> "
        f"{noun_for(metrics, 'metric value')}.</p>"
    )


def _duration(seconds: float) -> str:
    """A bucket's width: ``1 s``, ``1.5 min``, ``2 h``, ``1,825 d`` (whole digits all kept)."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{number(seconds / size, 3)} {unit}"
    return f"{number(seconds, 3)} s"


_NAV = (
    '<nav><a href="#volume">volume</a> · <a href="#error-rate">error rate</a> · '
    '<a href="#top-errors">top errors</a> · <a href="#loggers">loggers</a> · '
    '<a href="#metrics">metrics</a> · <a href="#records">records</a></nav>'
)
