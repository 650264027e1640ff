"""``sqlite-logs report``: one self-contained HTML page of charts, drawn as inline SVG.

Log volume per level, the error rate and each metric's p50/p95 over time, in equal
time buckets. Everything is computed in SQLite through a ``LogStore``; the page has
no script and fetches nothing, so it opens anywhere, offline, and can be mailed.
Every mark carries its numbers in ``data-`` attributes and a ``<title>`` tooltip.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .query import LogStore

__all__ = ["Buckets", "render_report"]

_WIDTH, _HEIGHT, _PAD = 760, 170, 36
_LEVEL_COLOURS = {
    "DEBUG": "#9aa5b1",
    "INFO": "#3d7dd8",
    "WARNING": "#e0a526",
    "ERROR": "#d64545",
    "CRITICAL": "#7a1f9e",
}
_OTHER_COLOUR = "#6b7785"


@dataclass(frozen=True)
class Buckets:
    """``count`` equal time buckets of ``width`` seconds from the epoch ``start``."""

    start: float
    width: float
    count: int

    def label(self, index: int) -> str:
        """The bucket's start as UTC text."""
        moment = datetime.fromtimestamp(self.start + index * self.width, UTC)
        return f"{moment:%Y-%m-%d %H:%M:%S}"

    def sql(self, column: str = "created") -> str:
        """SQL giving a row's bucket index (clamped into range)."""
        index = f"CAST(({column} - {self.start!r}) / {self.width!r} AS INTEGER)"
        return f"min({self.count - 1}, {index})"


def choose_buckets(store: LogStore, since: float | None, count: int) -> Buckets | None:
    """Buckets spanning the records at or after ``since`` (epoch), or None if there are none."""
    bounds = store.sql(
        "SELECT min(t), max(t) FROM (SELECT created AS t FROM logs WHERE created >= ? "
        "UNION ALL SELECT created FROM metrics WHERE created >= ?)",
        (since or 0.0, since or 0.0),
    )[0]
    if bounds[0] is None:
        return None
    first, last = float(bounds[0]), float(bounds[1])
    return Buckets(first, max((last - first) / count, 1e-3) * (1 + 1e-9), count)


def level_counts(store: LogStore, buckets: Buckets) -> dict[str, list[int]]:
    """Per level name, the number of log records in each bucket."""
    counts: dict[str, list[int]] = {}
    rows = store.sql(
        f"SELECT {buckets.sql()} AS b, level, COUNT(*) FROM logs WHERE created >= ? "
        "GROUP BY b, level",
        (buckets.start,),
    )
    for index, level, n in rows:
        counts.setdefault(level, [0] * buckets.count)[index] = n
    return dict(sorted(counts.items(), key=lambda item: _level_order(item[0])))


def error_rates(store: LogStore, buckets: Buckets) -> list[float | None]:
    """Per bucket, the share of records at ERROR or above (None for an empty bucket)."""
    rates: list[float | None] = [None] * buckets.count
    rows = store.sql(
        f"SELECT {buckets.sql()} AS b, SUM(levelno >= 40), COUNT(*) FROM logs "
        "WHERE created >= ? GROUP BY b",
        (buckets.start,),
    )
    for index, errors, total in rows:
        rates[index] = errors / total
    return rates


def metric_percentiles(
    store: LogStore, buckets: Buckets
) -> dict[str, tuple[str | None, list[tuple[float, float] | None]]]:
    """Per metric: its unit, and per bucket (p50, p95), nearest-rank, as metric_summary."""
    rows = store.sql(
        f"""
        WITH ranked AS (
            SELECT metric_name, {buckets.sql()} AS b, value,
                   ROW_NUMBER() OVER (PARTITION BY metric_name, {buckets.sql()}
                                      ORDER BY value) AS rn,
                   COUNT(*) OVER (PARTITION BY metric_name, {buckets.sql()}) AS n
            FROM metrics WHERE created >= ?
        )
        SELECT metric_name, b,
               MAX(CASE WHEN rn = max(1, (50 * n + 99) / 100) THEN value END),
               MAX(CASE WHEN rn = max(1, (95 * n + 99) / 100) THEN value END)
        FROM ranked GROUP BY metric_name, b ORDER BY metric_name, b
        """,
        (buckets.start,),
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


def render_report(store: LogStore, *, since: float | None = None, buckets: int = 60) -> str:
    """The report page for the records at or after ``since`` (epoch; None: all)."""
    span = choose_buckets(store, since, buckets)
    title = f"Logs and metrics: {store.database}"
    parts = [_HEAD.format(title=html.escape(title)), f"<h1>{html.escape(title)}</h1>"]
    if span is None:
        empty = "No records yet." if since is None else "No records in this period."
        parts.append(f"<p>{empty}</p>")
    else:
        parts.append(
            f'<p class="span">{span.label(0)} to {span.label(span.count)} UTC, '
            f"{span.count} buckets of {_duration(span.width)}</p>"
        )
        parts.append(_volume_chart(level_counts(store, span), span))
        parts.append(_rate_chart(error_rates(store, span), span))
        for name, (unit, values) in metric_percentiles(store, span).items():
            parts.append(_metric_chart(name, unit, values, span))
    parts.append("</body></html>\n")
    return "\n".join(parts)


# -- drawing ---------------------------------------------------------------------------------


def _volume_chart(counts: dict[str, list[int]], span: Buckets) -> str:
    totals = [sum(column) for column in zip(*counts.values(), strict=True)] or [0]
    top = max(totals) or 1
    bar = (_WIDTH - 2 * _PAD) / span.count
    marks = []
    below = [0.0] * span.count
    for level, column in counts.items():
        colour = _LEVEL_COLOURS.get(level, _OTHER_COLOUR)
        for index, n in enumerate(column):
            if not n:
                continue
            height = n / top * (_HEIGHT - 2 * _PAD)
            y = _HEIGHT - _PAD - below[index] - height
            below[index] += height
            marks.append(
                f'<rect class="bar" data-bucket="{index}" data-level="{html.escape(level)}" '
                f'data-count="{n}" x="{_PAD + index * bar:.1f}" y="{y:.1f}" '
                f'width="{max(bar - 1, 0.5):.1f}" height="{height:.1f}" fill="{colour}">'
                f"<title>{span.label(index)}: {n} {html.escape(level)}</title></rect>"
            )
    legend = " ".join(
        f'<span style="color:{_LEVEL_COLOURS.get(level, _OTHER_COLOUR)}">■ {html.escape(level)}'
        f" ({sum(column)})</span>"
        for level, column in counts.items()
    )
    return _figure("volume", "Log records per level", legend, top, "", marks)


def _rate_chart(rates: Sequence[float | None], span: Buckets) -> str:
    points = [(i, rate) for i, rate in enumerate(rates) if rate is not None]
    marks = [_polyline(((i, rate) for i, rate in points), 1.0, span, "#d64545")]
    marks += [
        f'<circle class="rate" data-bucket="{i}" data-rate="{rate:.6f}" '
        f'cx="{_x(i, span):.1f}" cy="{_y(rate, 1.0):.1f}" r="2.2" fill="#d64545">'
        f"<title>{span.label(i)}: {rate:.1%} errors</title></circle>"
        for i, rate in points
    ]
    return _figure("error-rate", "Error rate (ERROR and above)", "", 1.0, "%", marks)


def _metric_chart(
    name: str, unit: str | None, values: Sequence[tuple[float, float] | None], span: Buckets
) -> str:
    points = [(i, pair) for i, pair in enumerate(values) if pair is not None]
    top = max((p95 for _, (_, p95) in points), default=0.0) or 1.0
    band = [(_x(i, span), _y(p95, top)) for i, (_, p95) in points]
    band += [(_x(i, span), _y(p50, top)) for i, (p50, _) in reversed(points)]
    shape = " ".join(f"{x:.1f},{y:.1f}" for x, y in band)
    marks = [f'<polygon class="band" points="{shape}" fill="#3d7dd8" fill-opacity="0.2"/>']
    marks.append(_polyline(((i, p50) for i, (p50, _) in points), top, span, "#3d7dd8"))
    suffix = f" {html.escape(unit)}" if unit else ""
    marks += [
        f'<circle class="p50" data-bucket="{i}" data-p50="{p50!r}" data-p95="{p95!r}" '
        f'cx="{_x(i, span):.1f}" cy="{_y(p50, top):.1f}" r="2" fill="#3d7dd8">'
        f"<title>{span.label(i)}: p50 {p50:g}{suffix}, p95 {p95:g}{suffix}</title></circle>"
        for i, (p50, p95) in points
    ]
    heading = f"{name}{f' ({unit})' if unit else ''}: p50 line, p50 to p95 band"
    return _figure("metric", heading, "", top, suffix, marks, data_name=name)


def _figure(
    kind: str,
    heading: str,
    legend: str,
    top: float,
    unit: str,
    marks: Iterable[str],
    *,
    data_name: str | None = None,
) -> str:
    scale = f"{top:.0%}" if unit == "%" else f"{top:g}{unit}"
    name = f' data-name="{html.escape(data_name)}"' if data_name is not None else ""
    axis = (
        f'<line x1="{_PAD}" y1="{_HEIGHT - _PAD}" x2="{_WIDTH - _PAD}" '
        f'y2="{_HEIGHT - _PAD}" stroke="#888"/>'
        f'<text x="2" y="{_PAD}" font-size="10">{scale}</text>'
        f'<text x="2" y="{_HEIGHT - _PAD}" font-size="10">0</text>'
    )
    return (
        f'<section class="{kind}"{name}><h2>{html.escape(heading)}</h2>'
        f'<div class="legend">{legend}</div>'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img">{axis}{"".join(marks)}</svg></section>'
    )


def _polyline(points: Iterable[tuple[int, float]], top: float, span: Buckets, colour: str) -> str:
    coords = " ".join(f"{_x(i, span):.1f},{_y(v, top):.1f}" for i, v in points)
    return f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5"/>'


def _x(index: int, span: Buckets) -> float:
    return _PAD + (index + 0.5) * (_WIDTH - 2 * _PAD) / span.count


def _y(value: float, top: float) -> float:
    return _HEIGHT - _PAD - value / top * (_HEIGHT - 2 * _PAD)


def _level_order(level: str) -> int:
    order = list(_LEVEL_COLOURS)
    return order.index(level) if level in order else len(order)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1f2933; }}
h1 {{ font-size: 1.3em; }} h2 {{ font-size: 1em; margin: 1.4em 0 0.2em; }}
.legend span {{ margin-right: 1em; }} .span {{ color: #52606d; }}
svg {{ background: #fafbfc; border: 1px solid #e4e7eb; }}
</style></head><body>"""
