"""``sqlite-logs report``: one self-contained HTML page an on-call engineer opens first.

Log volume per level, the error rate and each metric's p50/p95 over time (charts with
time and value axes, ``_charts``), the most frequent errors grouped by template, the
noisiest loggers, and the records of the busiest and most erroneous time buckets,
which the charts link to. Everything is computed in SQLite through a ``LogStore``;
the page has no script and fetches nothing, so it opens anywhere, offline, and can be
mailed.
"""

from __future__ import annotations

import html
import math
import time
from collections import defaultdict
from typing import Any

from ._aggregates import KINDS_SQL, bucket_statistic, nearest_rank
from ._charts import Buckets, TimeAxis, counter_chart, metric_chart, rate_chart, volume_chart
from ._report_buckets import bucket_records, ranked_buckets
from ._terminal import visible
from ._times import format_time
from .query import LogStore

__all__ = ["Buckets", "choose_buckets", "render_report"]

_TOP = 10  # rows of the top errors and loggers tables
_FOREVER = 1e300
_SHORTEST_MS = 1000  # the narrowest bucket: sparse data gives fewer buckets, not thinner


def render_report(
    store: LogStore,
    *,
    since: float | None = None,
    until: float | None = None,
    buckets: int = 60,
    utc: bool = False,
) -> str:
    """The report page for the records at or after ``since`` and before ``until``.

    Args:
        store: the database to report on.
        since: epoch seconds; None: from the first record.
        until: epoch seconds; None: to the last record (to now if ``since`` is given).
        buckets: how many equal time buckets the charts have.
        utc: show times in UTC; else in local time, with their offset.
    """
    span = choose_buckets(store, since, until, buckets)
    title = f"Logs and metrics: {store.database}"
    parts = [_HEAD.format(title=_text(title)), f"<h1>{_text(title)}</h1>"]
    if span is None:
        parts.append(f'<p class="empty">{_text(_nothing_in(since, until, utc))}</p>')
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


def choose_buckets(
    store: LogStore, since: float | None, until: float | None, count: int
) -> Buckets | None:
    """Buckets over ``since``..``until`` (or the records'), or None without records there."""
    bounds = (-_FOREVER if since is None else since, _FOREVER if until is None else until)
    first, last = store.sql(
        "SELECT min(t), max(t) FROM (SELECT created AS t FROM logs WHERE created >= ? "
        "AND created < ? UNION ALL SELECT created FROM metrics WHERE created >= ? "
        "AND created < ?)",
        bounds * 2,
    )[0]
    if first is None:
        return None
    start = _millis(float(first) if since is None else since)  # as stored: whole ms
    if until is not None:
        end = _millis(until)
    else:  # just past the last record: its millisecond is in the last bucket
        end = _millis(max(float(last), time.time()) if since else float(last)) + 1e-3
    span_ms = round((end - start) * 1000)
    width_ms = max(_SHORTEST_MS, math.ceil(span_ms / count))  # never a fraction of a second
    count = max(1, min(count, math.ceil(span_ms / width_ms)))
    return Buckets(start, width_ms / 1000, count, None if until is None else end)


def _millis(epoch: float) -> float:
    """``epoch`` rounded to the millisecond, as its stored timestamp text is."""
    return round(epoch * 1000) / 1000


def _body(store: LogStore, span: Buckets, until: float | None, utc: bool) -> list[str]:
    where = (span.edges(0)[0], _FOREVER if span.until is None else span.edges(span.count - 1)[1])
    counts = level_counts(store, span, where)
    totals = _totals(store, where)
    reasons = ranked_buckets(counts)
    axis = TimeAxis(span, utc, frozenset(reasons))
    parts = [_summary(span, totals, utc), _NAV]
    if totals["records"]:
        parts.append(volume_chart(counts, axis))
        parts.append(rate_chart(error_rates(store, span, where), axis))
        parts.append(_top_errors(store, where, utc))
        parts.append(_loggers(store, where))
    else:  # a metrics-only database, or a period without log records: no empty charts
        parts.append(
            '<p class="empty" id="volume">No log records in this period: metrics only.</p>'
        )
    kinds = _kinds(store)
    counters = metric_totals(store, span, where)
    metrics = [
        counter_chart(name, unit, counters[name], axis)
        if bucket_statistic(kinds.get(name)) == "sum" and name in counters
        else metric_chart(name, unit, values, axis)
        for name, (unit, values) in metric_percentiles(store, span, where).items()
    ]
    parts.append(f'<div id="metrics">{"".join(metrics) or "<h2>Metrics</h2><p>None.</p>"}</div>')
    if totals["records"]:
        parts.append(bucket_records(store, axis, reasons))
    return parts


def _kinds(store: LogStore) -> dict[str, str | None]:
    """Each metric's kind, as last recorded (``counter``, ``gauge``, ``histogram``)."""
    return {name: kind for name, kind, _ in store.sql(KINDS_SQL)}


def metric_totals(
    store: LogStore, buckets: Buckets, where: tuple[float, float]
) -> dict[str, list[float]]:
    """Per metric: the sum of its values in each bucket (a counter's total then)."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0] * buckets.count)
    for name, index, total in store.sql(
        f"SELECT metric_name, {buckets.sql()} AS b, SUM(value) FROM metrics "
        "WHERE created >= ? AND created < ? GROUP BY metric_name, b",
        where,
    ):
        totals[name][index] = total
    return dict(totals)


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


def metric_percentiles(
    store: LogStore, buckets: Buckets, where: tuple[float, float]
) -> dict[str, tuple[str | None, list[tuple[float, float] | None]]]:
    """Per metric: its unit, and per bucket (p50, p95), nearest-rank, as metric_summary."""
    rows = store.sql(
        f"""
        WITH ranked AS (
            SELECT metric_name, {buckets.sql()} AS b, value,
                   ROW_NUMBER() OVER (PARTITION BY metric_name, {buckets.sql()}
                                      ORDER BY value) AS rn,
                   COUNT(*) OVER (PARTITION BY metric_name, {buckets.sql()}) AS n
            FROM metrics WHERE created >= ? AND created < ?
        )
        SELECT metric_name, b, {nearest_rank(50)}, {nearest_rank(95)}
        FROM ranked GROUP BY metric_name, b ORDER BY metric_name, b
        """,
        where,
    )
    series: dict[str, list[tuple[float, float] | None]] = defaultdict(
        lambda: [None] * buckets.count
    )
    for name, index, p50, p95 in rows:
        series[name][index] = (p50, p95)
    units = {
        name: unit
        for name, unit, _ in store.sql(
            "SELECT metric_name, unit, MAX(id) FROM metrics GROUP BY metric_name"
        )
    }
    return {name: (units.get(name), values) for name, values in series.items()}


def _totals(store: LogStore, where: tuple[float, float]) -> dict[str, int]:
    logs, errors = store.sql(
        "SELECT COUNT(*), COALESCE(SUM(levelno >= 40), 0) FROM logs "
        "WHERE created >= ? AND created < ?",
        where,
    )[0]
    (metrics,) = store.sql(
        "SELECT COUNT(*) FROM metrics WHERE created >= ? AND created < ?", where
    )[0]
    return {"records": logs, "errors": errors, "metrics": metrics}


# -- sections --------------------------------------------------------------------------


def _summary(span: Buckets, totals: dict[str, int], utc: bool) -> str:
    zone = "UTC" if utc else "local time"
    return (
        f'<p class="summary" data-records="{totals["records"]}" data-errors="{totals["errors"]}"'
        f' data-metrics="{totals["metrics"]}">From {format_time(span.start, utc=utc)} to '
        f"{format_time(span.end, utc=utc)} ({zone}), {span.count} buckets of "
        f"{_duration(span.width)}: <b>{totals['records']:,}</b> log records, "
        f"<b>{totals['errors']:,}</b> at ERROR or above, <b>{totals['metrics']:,}</b> "
        "metric values.</p>"
    )


def _top_errors(store: LogStore, where: tuple[float, float], utc: bool) -> str:
    rows = store.sql(
        "SELECT COALESCE(template, message) AS kind, COUNT(*) AS n, MIN(created), "
        "MAX(created), GROUP_CONCAT(DISTINCT module), MAX(id) FROM logs "
        "WHERE levelno >= 40 AND created >= ? AND created < ? "
        f"GROUP BY kind ORDER BY n DESC, MAX(id) DESC LIMIT {_TOP}",
        where,
    )
    if not rows:
        return '<section id="top-errors"><h2>Most frequent errors</h2><p>None.</p></section>'
    examples = {
        row["id"]: row["message"]
        for row in store.sql(
            f"SELECT id, message FROM logs WHERE id IN ({','.join('?' * len(rows))})",
            [row[5] for row in rows],
        )
    }
    body = "".join(
        f'<tr data-count="{n}"><td class="n">{n:,}</td><td class="kind">{_text(kind)}'
        f"{_example(kind, examples.get(last_id))}</td><td>{_text(_some(loggers))}</td>"
        f'<td class="time" title="first: {format_time(first, utc=utc)}">'
        f"{format_time(last, utc=utc)}</td></tr>"
        for kind, n, first, last, loggers, last_id in rows
    )
    return (
        '<section id="top-errors"><h2>Most frequent errors</h2>'
        "<p>ERROR and above, grouped by message template.</p>"
        '<table class="top-errors"><colgroup><col class="n"><col class="kind"><col>'
        '<col class="time"></colgroup><thead><tr><th class="n">records</th>'
        "<th>message</th><th>loggers</th><th>last seen</th></tr></thead>"
        f"<tbody>{body}</tbody></table></section>"
    )


def _loggers(store: LogStore, where: tuple[float, float]) -> str:
    rows = store.sql(
        "SELECT module, COUNT(*) AS n, SUM(levelno >= 40), SUM(levelno >= 30 AND levelno < 40) "
        f"FROM logs WHERE created >= ? AND created < ? GROUP BY module ORDER BY n DESC, module "
        f"LIMIT {_TOP}",
        where,
    )
    total = sum(row[1] for row in rows) or 1
    body = "".join(
        f'<tr data-logger="{_attr(name)}" data-count="{n}"><td>{_text(name)}</td>'
        f'<td class="n">{n:,}</td><td class="n">{errors:,}</td><td class="n">{warnings:,}</td>'
        f'<td><span class="share" style="width:{n / total * 100:.1f}%"></span></td></tr>'
        for name, n, errors, warnings in rows
    )
    return (
        '<section id="loggers"><h2>Noisiest loggers</h2><table class="loggers"><colgroup>'
        '<col><col class="n"><col class="n"><col class="n"><col class="share"></colgroup>'
        '<thead><tr><th>logger</th><th class="n">records</th><th class="n">errors</th>'
        '<th class="n">warnings</th><th>share</th></tr></thead>'
        f"<tbody>{body}</tbody></table></section>"
    )


def _example(kind: str, message: Any) -> str:
    if message is None or message == kind:
        return ""
    return f'<div class="example">e.g. {_text(message)}</div>'


def _some(loggers: str | None, most: int = 3) -> str:
    names = (loggers or "").split(",")
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def _text(value: object) -> str:
    return html.escape(visible(value), quote=False)


def _attr(value: object) -> str:
    return html.escape(visible(value), quote=True)


_NAV = (
    '<nav><a href="#volume">volume</a> · <a href="#error-rate">error rate</a> · '
    '<a href="#top-errors">top errors</a> · <a href="#loggers">loggers</a> · '
    '<a href="#metrics">metrics</a> · <a href="#records">records</a></nav>'
)

_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
* {{ box-sizing: border-box; }}
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; padding: 0 1.5em;
  max-width: 1600px; color: #1f2933; overflow-wrap: anywhere; }}
h1 {{ font-size: 1.3em; }} h2 {{ font-size: 1.05em; margin: 1.6em 0 0.3em; }}
h3 {{ font-size: 0.95em; margin: 1.2em 0 0.3em; }}
nav, .summary {{ color: #52606d; }}
.legend {{ min-height: 1.2em; }} .key {{ margin-right: 1.2em; white-space: nowrap; }}
.key i {{ display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; }}
.frame {{ display: grid; grid-template-columns: 5.5em minmax(0, 1fr);
  grid-template-rows: 200px 1.8em; margin-top: 0.8em; }}
.y-axis {{ position: relative; grid-row: 1; grid-column: 1; margin-right: 0.4em; }}
.y-axis .tick {{ position: absolute; right: 0; transform: translateY(50%);
  font-size: 11px; color: #52606d; white-space: nowrap; }}
svg.plot {{ grid-row: 1; grid-column: 2; width: 100%; height: 200px; display: block;
  background: #fafbfc; border-left: 1px solid #9aa5b1; border-bottom: 1px solid #9aa5b1; }}
.grid {{ stroke: #e4e7eb; stroke-width: 1; }}
.x-axis {{ position: relative; grid-row: 2; grid-column: 2; overflow: hidden; }}
.x-axis .tick {{ position: absolute; top: 0.2em; font-size: 11px; color: #52606d;
  white-space: nowrap; }}
table {{ border-collapse: collapse; width: 100%; table-layout: fixed; }}
th, td {{ text-align: left; padding: 0.25em 0.5em; border-bottom: 1px solid #e4e7eb;
  vertical-align: top; }}
td.n, th.n {{ text-align: right; }} col.n {{ width: 6.5em; }} col.share {{ width: 30%; }}
col.kind {{ width: 45%; }}
col.time {{ width: 31ch; }} td.time {{ white-space: nowrap; font-variant-numeric: tabular-nums; }}
col.level {{ width: 6.5em; }} .example {{ color: #52606d; font-size: 0.9em; }}
.share {{ display: inline-block; height: 0.8em; background: #3d7dd8; }}
code {{ font-size: 0.9em; background: #f0f2f5; padding: 0.1em 0.3em; }}
</style></head><body>"""
