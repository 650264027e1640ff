"""The report's charts: time series drawn as inline SVG inside HTML axes.

Each chart is a grid of HTML: tick labels on a y axis and an x axis, around an SVG
that stretches to the width of the page (``preserveAspectRatio="none"``, lines and
points with ``vector-effect="non-scaling-stroke"``). Labels are HTML text, so they
keep their size at any width; the page needs no script and scrolls sideways at no
width. Every mark carries its numbers in ``data-`` attributes and a ``<title>``
tooltip; a mark whose bucket has a records section links to it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ._terminal import visible
from ._ticks import number_ticks, time_ticks
from ._times import format_time
from ._words import number

__all__ = [
    "LEVEL_COLOURS",
    "RATE_HEADING",
    "VOLUME_HEADING",
    "Buckets",
    "TimeAxis",
    "counter_chart",
    "html_attr",
    "html_text",
    "level_colour",
    "metric_chart",
    "rate_chart",
    "volume_chart",
]

_W, _H = 1000.0, 200.0  # the SVG's own coordinates; CSS sets its size on the page
LEVEL_COLOURS = ((50, "#7a1f9e"), (40, "#d64545"), (30, "#e0a526"), (20, "#3d7dd8"))
_LOW_COLOUR = "#9aa5b1"  # DEBUG and below
_RATE_COLOUR, _METRIC_COLOUR = "#d64545", "#3d7dd8"
VOLUME_HEADING, RATE_HEADING = "Log records per level", "Error rate (ERROR and above)"


@dataclass(frozen=True)
class Buckets:
    """``count`` equal time buckets of ``width`` seconds from the epoch ``start``.

    ``start`` and ``width`` are whole milliseconds, and a row falls in the bucket its
    stored ``timestamp`` text (``created`` rounded to the millisecond) falls in: so
    ``sqlite-logs query --since START --until END``, which compares that text, finds
    exactly the rows a bucket counts. ``until`` (if given) cuts the last bucket short,
    ``since`` (if given) the first: the period chosen, on a grid of round times.
    """

    start: float
    width: float
    count: int
    until: float | None = None
    since: float | None = None

    @property
    def first(self) -> float:
        """The epoch where the first bucket starts (``since``, if it cuts it short)."""
        return self.bounds(0)[0]

    @property
    def end(self) -> float:
        """The epoch where the last bucket ends."""
        end = self.start + self.count * self.width
        return end if self.until is None else min(end, self.until)

    def bounds(self, index: int) -> tuple[float, float]:
        """The epochs bucket ``index`` starts and ends at (whole milliseconds)."""
        start = _millis(self.start + index * self.width)
        end = _millis(self.start + (index + 1) * self.width)
        if self.since is not None:
            start, end = max(start, self.since), max(end, self.since)
        return start, end if self.until is None else min(end, self.until)

    def edges(self, index: int) -> tuple[float, float]:
        """The ``created`` range of bucket ``index``: ``created >= a AND created < b``."""
        start, end = self.bounds(index)
        return start - _HALF_MS, end - _HALF_MS

    def sql(self, column: str = "created") -> str:
        """SQL giving a row's bucket index (clamped into range)."""
        index = f"CAST(({column} - {self.start - _HALF_MS!r}) / {self.width!r} AS INTEGER)"
        return f"max(0, min({self.count - 1}, {index}))"


_HALF_MS = 0.0005  # created within half a millisecond below a bound is stored as it


def _millis(epoch: float) -> float:
    return round(epoch * 1000) / 1000


@dataclass(frozen=True)
class TimeAxis:
    """The x axis every chart shares: its buckets, and the zone times are shown in."""

    buckets: Buckets
    utc: bool
    linked: frozenset[int] = frozenset()  # buckets with a records section

    def label(self, index: int) -> str:
        """The bucket's start and end, for tooltips."""
        start, end = self.buckets.bounds(index)
        return f"{format_time(start, utc=self.utc)} to {format_time(end, utc=self.utc)}"

    def x(self, index: int, middle: bool = True) -> float:
        """The SVG x of bucket ``index`` (its middle, or its left edge)."""
        return (index + (0.5 if middle else 0.0)) * _W / self.buckets.count

    def ticks(self) -> str:
        """The x axis: round times, as HTML labels placed in percent of the width.

        Of more than three labels, every other one gives way in a narrow window (the
        page's CSS hides ``odd`` ones): at least two are always shown.
        """
        span = self.buckets.count * self.buckets.width
        shown = [
            (epoch, label, (epoch - self.buckets.start) / span * 100)
            for epoch, label in time_ticks(
                self.buckets.start, self.buckets.end, utc=self.utc, least=self.buckets.width
            )
        ]
        shown = [tick for tick in shown if -0.01 <= tick[2] <= 100.01]
        spans = []
        for n, (epoch, label, where) in enumerate(shown):
            # Labels near an end are anchored inside the axis, not centred on the tick.
            shift = 0 if where < 8 else (100 if where > 92 else 50)
            odd = " odd" if n % 2 and len(shown) > 3 else ""
            spans.append(
                f'<span class="tick{odd}" style="left:{where:.2f}%;'
                f'transform:translateX(-{shift}%)" data-epoch="{epoch:.3f}">'
                f"{html.escape(label)}</span>"
            )
        return f'<div class="x-axis">{"".join(spans)}</div>'


def level_colour(levelno: int | float | None) -> str:
    """The colour of a level, by severity.

    A custom level (NOTICE 25, ALERT 45, TRACE 5) gets a darker shade of the standard
    level below it, darker the further above it: stacked beside it, it stays apart.
    """
    if levelno is None:
        return _LOW_COLOUR
    floor, colour = next(
        ((floor, colour) for floor, colour in LEVEL_COLOURS if levelno >= floor),
        (10, _LOW_COLOUR),
    )
    if levelno in (0, 10, 20, 30, 40, 50):
        return colour
    if levelno < 10:  # TRACE and the like, below DEBUG: a shade between it and black
        return _darker(colour, 0.15)
    return _darker(colour, 0.3 + 0.4 * min((levelno - floor) / 10, 1.0))


def _darker(colour: str, by: float) -> str:
    """``#rrggbb`` mixed with black: ``by`` 0 keeps it, 1 is black."""
    channels = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * (1 - by)):02x}" for c in channels)


def volume_chart(counts: dict[str, tuple[int | None, list[int]]], axis: TimeAxis) -> str:
    """Stacked bars of records per level (least severe at the bottom) in each bucket."""
    totals = [sum(column) for column in zip(*(c for _, c in counts.values()), strict=True)]
    ticks = number_ticks(max(totals, default=0), integer=True)
    top = ticks[-1][0]
    width = _W / axis.buckets.count
    below = [0.0] * axis.buckets.count
    marks = []
    for level, (levelno, column) in counts.items():
        for index, n in enumerate(column):
            if not n:
                continue
            height = n / top * _H
            below[index] += height
            bar = (
                f'<rect class="bar" data-bucket="{index}" data-level="{html_attr(level)}" '
                f'data-count="{n}" x="{axis.x(index, False):.2f}" y="{_H - below[index]:.2f}" '
                f'width="{max(width * 0.9, 0.5):.2f}" height="{height:.2f}" '
                f'fill="{level_colour(levelno)}"><title>{html_text(axis.label(index))}: '
                f"{n:,} {html_text(level)}</title></rect>"
            )
            marks.append(_linked(bar, index, axis))
    legend = " ".join(
        f'<span class="key" data-level="{html_attr(level)}" data-count="{sum(column)}">'
        f'<i style="background:{level_colour(levelno)}"></i>{html_text(level)} '
        f"{sum(column):,}</span>"
        for level, (levelno, column) in counts.items()
    )
    return _chart("volume", VOLUME_HEADING, legend, ticks, marks, axis)


def counter_chart(name: str, unit: str | None, sums: Sequence[float], axis: TimeAxis) -> str:
    """A counter's total per bucket, as bars: what was counted then, not a distribution."""
    whole = all(float(total).is_integer() for total in sums)
    ticks = number_ticks(max(sums, default=0.0), "" if unit == "count" else unit or "",
                         integer=whole, bottom=min(sums, default=0.0))  # fmt: skip
    scale = (ticks[0][0], ticks[-1][0])
    width = _W / axis.buckets.count
    marks = [
        _linked(
            f'<rect class="bar total" data-bucket="{index}" data-total="{total!r}" '
            f'x="{axis.x(index, False):.2f}" y="{min(_y(total, *scale), _y(0, *scale)):.2f}" '
            f'width="{max(width * 0.9, 0.5):.2f}" '
            f'height="{abs(_y(total, *scale) - _y(0, *scale)):.2f}" '
            f'fill="{_METRIC_COLOUR}"><title>{html_text(axis.label(index))}: {number(total)}'
            f"{html_text(f' {unit}' if unit else '')}</title></rect>",
            index,
            axis,
        )
        for index, total in enumerate(sums)
        if total
    ]
    heading = f"{name}{f' ({unit})' if unit else ''}: total per bucket (a counter)"
    return _chart("metric", heading, "", ticks, marks, axis, data_name=name)


def rate_chart(rates: Sequence[float | None], axis: TimeAxis) -> str:
    """The share of records at ERROR and above, per bucket with records."""
    ticks = number_ticks(max((r for r in rates if r is not None), default=0.0), "%")
    top = ticks[-1][0]
    points = [(i, rate) for i, rate in enumerate(rates) if rate is not None]
    marks = [_polyline(((axis.x(i), _y(rate, 0.0, top)) for i, rate in points), _RATE_COLOUR)]
    marks += [
        _linked(
            _point("rate", axis.x(i), _y(rate, 0.0, top), _RATE_COLOUR,
                   f'data-bucket="{i}" data-rate="{rate:.6f}"',
                   f"{axis.label(i)}: {rate:.1%} errors"),
            i, axis,
        )
        for i, rate in points
    ]  # fmt: skip
    return _chart("error-rate", RATE_HEADING, "", ticks, marks, axis)


def metric_chart(
    name: str, unit: str | None, values: Sequence[tuple[float, float] | None], axis: TimeAxis
) -> str:
    """A metric's p50 line inside its p50-p95 band, per bucket with values."""
    points = [(i, pair) for i, pair in enumerate(values) if pair is not None]
    ticks = number_ticks(max((p95 for _, (_, p95) in points), default=0.0), unit or "",
                         bottom=min((p50 for _, (p50, _) in points), default=0.0))  # fmt: skip
    scale = (ticks[0][0], ticks[-1][0])
    spots = [(axis.x(i), p50, p95) for i, (p50, p95) in points]
    if len(points) == 1:  # a lone bucket: its band spans the bucket, not a line of no width
        ((i, (p50, p95)),) = points
        spots = [(axis.x(i, False), p50, p95), (axis.x(i + 1, False), p50, p95)]
    band = [(x, _y(p95, *scale)) for x, _, p95 in spots]
    band += [(x, _y(p50, *scale)) for x, p50, _ in reversed(spots)]
    shape = " ".join(f"{x:.2f},{y:.2f}" for x, y in band)
    marks = [f'<polygon class="band" points="{shape}" fill="{_METRIC_COLOUR}" fill-opacity="0.2"/>']
    marks.append(
        _polyline(((axis.x(i), _y(p50, *scale)) for i, (p50, _) in points), _METRIC_COLOUR)
    )
    suffix = f" {unit}" if unit else ""
    marks += [
        _point("p50", axis.x(i), _y(p50, *scale), _METRIC_COLOUR,
               f'data-bucket="{i}" data-p50="{p50!r}" data-p95="{p95!r}"',
               f"{axis.label(i)}: p50 {number(p50)}{suffix}, p95 {number(p95)}{suffix}")
        for i, (p50, p95) in points
    ]  # fmt: skip
    heading = f"{name}{f' ({unit})' if unit else ''}: p50 line, p50 to p95 band"
    return _chart("metric", heading, "", ticks, marks, axis, data_name=name)


def _chart(
    kind: str,
    heading: str,
    legend: str,
    ticks: list[tuple[float, str]],
    marks: Iterable[str],
    axis: TimeAxis,
    *,
    data_name: str | None = None,
) -> str:
    scale = (ticks[0][0], ticks[-1][0])
    grid = "".join(
        f'<line class="grid" x1="0" x2="{_W:.0f}" y1="{_y(value, *scale):.2f}" '
        f'y2="{_y(value, *scale):.2f}" vector-effect="non-scaling-stroke"/>'
        for value, _ in ticks
    )
    labels = "".join(
        f'<span class="tick" style="bottom:{100 - _y(value, *scale) / _H * 100:.2f}%" '
        f'data-value="{value!r}">'
        f"{html.escape(label)}</span>"
        for value, label in ticks
    )
    name = f' data-name="{html_attr(data_name)}"' if data_name is not None else f' id="{kind}"'
    # The value axis as wide as its longest label (11 px text in 14 px ``ch``), so that
    # "3,000,000,000 bytes" is not cut off at the page's edge in a narrow window.
    longest = max(len(label) for _, label in ticks) * 0.85
    columns = f"max(3em, calc({longest:.1f}ch + 0.6em)) minmax(0, 1fr)"
    return (
        f'<section class="chart {kind}"{name}><h2>{html_text(heading)}</h2>'
        f'<div class="legend">{legend}</div>'
        f'<div class="frame" style="grid-template-columns:{columns}">'
        f'<div class="y-axis">{labels}</div>'
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W:.0f} {_H:.0f}" '
        f'preserveAspectRatio="none" role="img" aria-label="{html_attr(heading)}">'
        f"{grid}{''.join(marks)}</svg>{axis.ticks()}</div></section>"
    )


def _point(kind: str, x: float, y: float, colour: str, data: str, title: str) -> str:
    # A zero-length round-capped line: a dot that stays round when the SVG stretches.
    return (
        f'<line class="{kind}" {data} x1="{x:.2f}" y1="{y:.2f}" x2="{x:.2f}" y2="{y:.2f}" '
        f'stroke="{colour}" stroke-width="6" stroke-linecap="round" '
        f'vector-effect="non-scaling-stroke"><title>{html_text(title)}</title></line>'
    )


def _polyline(points: Iterable[tuple[float, float]], colour: str) -> str:
    coords = " ".join(f"{x:.2f},{y:.2f}" for x, y in points)
    return (
        f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5" '
        'vector-effect="non-scaling-stroke"/>'
    )


def _linked(mark: str, index: int, axis: TimeAxis) -> str:
    return f'<a href="#bucket-{index}">{mark}</a>' if index in axis.linked else mark


def _y(value: float, low: float, high: float) -> float:
    """The SVG y of ``value`` on an axis from ``low`` (the bottom) to ``high``."""
    return _H - (value - low) / ((high - low) or 1.0) * _H


def html_text(value: object) -> str:
    """``value`` as HTML text: through ``visible()``, then escaped (every report module)."""
    return html.escape(visible(value), quote=False)


def html_attr(value: object) -> str:
    """``value`` as an HTML attribute's value (quotes escaped too)."""
    return html.escape(visible(value), quote=True)
