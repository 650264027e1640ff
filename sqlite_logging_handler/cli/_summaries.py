"""``stats``, ``metrics``, ``report`` and ``demo``: the database summed up."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from .. import _render, _report, maintenance
from .._demo import DEMO_DATABASE, run_demo
from .._times import parse_epoch, parse_time
from ..query import LogStore
from ._args import Register, bounded_int, database, positive_float, time_bound

__all__ = ["register", "size_text"]

_MAX_BUCKETS = 1000  # a chart, or a line of a terminal, has no room for more


def register(command: Register) -> None:
    """Add ``stats``, ``metrics``, ``report`` and ``demo``."""
    command("stats", _stats, "counts by level, logger and thread; time span; file sizes")

    metrics = command("metrics", _metrics, "per metric: count, min, avg, p50, p95, p99, max, unit")
    metrics.add_argument("name", nargs="?", help="only this metric")
    metrics.add_argument("--since", type=time_bound, help="e.g. 1h, 7d (default: all)")
    metrics.add_argument("--plot", action="store_true", help="a sparkline of each metric over time")
    metrics.add_argument(
        "--buckets", type=bounded_int(_MAX_BUCKETS), default=40, help="plot width (40; up to 1000)"
    )

    report = command("report", _report_page, "one self-contained HTML page of charts (SVG)")
    report.add_argument("-o", "--output", default="report.html", help="default: report.html")
    report.add_argument("--since", type=time_bound, help="e.g. 24h, 7d (default: all)")
    report.add_argument(
        "--buckets",
        type=bounded_int(_MAX_BUCKETS),
        default=60,
        help="time buckets (60; up to 1000)",
    )

    demo = command("demo", _demo, "log records and metrics from several threads, then summarise")
    demo.add_argument("--threads", type=bounded_int(1000), default=8, help="default: 8")
    demo.add_argument("--duration", type=positive_float, default=5.0, help="seconds; default: 5")


def _stats(args: argparse.Namespace, out: TextIO) -> int:
    path = database(args)
    with LogStore(path) as store:
        stats = store.statistics()
        threads = store.sql(
            "SELECT thread_name, thread_id, COUNT(*) AS n FROM logs "
            "GROUP BY thread_name, thread_id ORDER BY n DESC LIMIT 10"
        )
    db_size, wal_size = maintenance.file_sizes(path)
    print(f"database   {_render.visible(path)}", file=out)
    print(f"size       {size_text(db_size)} (WAL {size_text(wal_size)})", file=out)
    print(f"records    {stats['total_logs']:,} logs, {stats['total_metrics']:,} metrics", file=out)
    first, last = (_render.visible(stats[end] or "-") for end in ("first", "last"))
    print(f"time span  {first} .. {last} (UTC)", file=out)
    for title, counts in (("level", stats["logs_by_level"]), ("logger", stats["logs_by_logger"])):
        print(f"\nby {title}:", file=out)
        print(_render.table((title, "records"), list(counts.items())[:10]), file=out)
    print("\nby thread:", file=out)
    print(_render.table(("thread", "id", "records"), [tuple(r) for r in threads]), file=out)
    return 0


def size_text(size: int) -> str:
    """Bytes as ``812 B``, ``1.5 KB``, ``12.0 MB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"  # pragma: no cover


def _metrics(args: argparse.Namespace, out: TextIO) -> int:
    with LogStore(database(args)) as store:
        summary = store.metric_summary(name=args.name, since=args.since)
        if args.name and not summary:
            print(
                f"sqlite-logs: error: no metric {_render.visible(repr(args.name))}", file=sys.stderr
            )
            return 1
        fields = ("count", "min", "avg", "p50", "p95", "p99", "max", "unit")
        rows = [(name, *(s[f] for f in fields)) for name, s in summary.items()]
        print(_render.table(("metric", *fields), rows), file=out)
        if args.plot:
            for name in summary:
                values = _buckets(store, name, args.since, args.buckets)
                low, high = summary[name]["min"], summary[name]["max"]
                unit = _render.visible(summary[name]["unit"] or "")
                title = f"{_render.visible(name)} (average per bucket, {low:g} .. {high:g} {unit})"
                print(f"\n{title}", file=out)
                print(f"  {_render.sparkline(values)}", file=out)
    return 0


def _buckets(store: LogStore, name: str, since: Any, count: int) -> list[float | None]:
    """The metric's average in ``count`` equal time buckets from ``since`` (or its first value)."""
    start_text = parse_time(since)
    span = store.sql(
        "SELECT MIN(created), MAX(created) FROM metrics WHERE metric_name = ?"
        + (" AND timestamp >= ?" if start_text else ""),
        (name, start_text) if start_text else (name,),
    )[0]
    first, last = span[0], span[1]
    if first is None:
        return []
    width = max((last - first) / count, 1e-9)
    averages: dict[int, float] = dict(
        tuple(row)
        for row in store.sql(
            "SELECT MIN(CAST((created - ?) / ? AS INTEGER), ?), AVG(value) FROM metrics "
            "WHERE metric_name = ? AND created >= ? GROUP BY 1",
            (first, width, count - 1, name, first),
        )
    )
    return [averages.get(i) for i in range(count)]


def _report_page(args: argparse.Namespace, out: TextIO) -> int:
    with LogStore(database(args)) as store:
        page = _report.render_report(store, since=parse_epoch(args.since), buckets=args.buckets)
    with open(args.output, "w", encoding="utf-8") as target:
        target.write(page)
    print(f"wrote {_render.visible(args.output)}", file=out)
    return 0


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    # Never $SQLITE_LOGS_DB: a demo is not real data.
    return run_demo(args.db or DEMO_DATABASE, args.threads, args.duration, out)
