"""``stats`` and ``metrics``: the database summed up, as tables, JSON lines or CSV."""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Sequence
from typing import Any, TextIO

from .. import _render, maintenance
from .._aggregates import KINDS_SQL, bucket_sql, bucket_statistic
from .._times import parse_epoch
from .._words import number
from ..query import LogStore, _metric_filters
from ._args import Register, add_time_range, bounded_int, check_database, extra
from ._output import note, say_error

__all__ = ["MAX_BUCKETS", "register", "size_text"]

MAX_BUCKETS = 1000  # a chart, or a line of a terminal, has no room for more
_SUMMARY = ("count", "sum", "min", "avg", "p50", "p95", "p99", "max", "unit")
#: The columns of ``metrics``, in its table, its JSON and its CSV alike: the name by the
#: database's column name, as ``export metrics`` and ``LogStore.metric_summary()`` call it.
_COLUMNS = ("metric_name", *_SUMMARY)
_TOP = 10  # rows of the "by logger" and "by thread" tables


def register(command: Register) -> None:
    """Add ``stats`` and ``metrics``."""
    command("stats", _stats, "counts by level, logger, thread and metric; time span; sizes")

    metrics = command(
        "metrics", _metrics, "per metric: count, sum, min, avg, p50, p95, p99, max, unit"
    )
    metrics.add_argument("name", nargs="?", help="only this metric")
    add_time_range(metrics)
    metrics.add_argument(
        "--tag",
        action="append",
        type=extra,
        default=[],
        metavar="KEY=VALUE",
        help="tags equal to VALUE (as --extra; KEY may be a dotted path); repeatable",
    )
    output = metrics.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per metric and line")
    output.add_argument("--csv", action="store_true", help="CSV with a header row")
    output.add_argument("--plot", action="store_true", help="a sparkline of each metric over time")
    metrics.add_argument(
        "--buckets",
        type=bounded_int(MAX_BUCKETS),
        default=40,
        help="--plot: time buckets, up to 1000 (default: 40)",
    )


def _stats(args: argparse.Namespace, out: TextIO) -> int:
    path = check_database(args)
    with LogStore(path) as store:
        totals = store.statistics()
        spans = {
            table: store.sql(f"SELECT MIN(created), MAX(created) FROM {table}")[0]
            for table in ("logs", "metrics")
        }
        levels = store.sql(
            "SELECT level, COUNT(*) FROM logs GROUP BY level ORDER BY MIN(levelno), level"
        )
        threads = store.sql(
            "SELECT thread_name, thread_id, COUNT(*) AS n FROM logs "
            f"GROUP BY thread_name, thread_id ORDER BY n DESC LIMIT {_TOP}"
        )
        metrics = store.sql(
            "SELECT metric_name, COUNT(*) AS n, MIN(created), MAX(created) FROM metrics "
            "GROUP BY metric_name ORDER BY n DESC, metric_name"
        )
    db_size, wal_size = maintenance.file_sizes(path)
    logs_total, metrics_total = totals["total_logs"], totals["total_metrics"]
    print(f"database   {_render.visible(path)}", file=out)
    print(f"size       {size_text(db_size)} (WAL {size_text(wal_size)})", file=out)
    print(f"records    {logs_total:,} logs, {metrics_total:,} metric values", file=out)
    for table, (first, last) in spans.items():
        if first is not None:
            print(f"{table:<10} {_span(first, last, args.utc)}", file=out)
    if logs_total:
        _section(out, "by level", ("level", "records"), [(n, f"{c:,}") for n, c in levels])
        loggers = list(totals["logs_by_logger"].items())
        _section(out, "by logger", ("logger", "records"), [(n, f"{c:,}") for n, c in loggers])
        rows = [(name, ident, f"{n:,}") for name, ident, n in threads]
        _section(out, "by thread", ("thread", "id", "records"), rows)
    if metrics_total:
        rows = [(name, f"{n:,}", _span(first, last, args.utc)) for name, n, first, last in metrics]
        _section(out, "metrics", ("metric", "values", "time span"), rows)
    return 0


def _span(first: float, last: float, utc: bool) -> str:
    return (
        f"{_render.shown_time(first, None, utc=utc)} .. {_render.shown_time(last, None, utc=utc)}"
    )


def _section(
    out: TextIO, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    more = f" (the first {_TOP})" if len(rows) >= _TOP and title != "by level" else ""
    print(f"\n{title}{more}:", file=out)
    counts = [i for i, header in enumerate(headers) if header in ("records", "values")]
    print(_render.table(headers, rows[:_TOP] if more else rows, right=counts), file=out)


def size_text(size: int) -> str:
    """Bytes as ``812 B``, ``1.5 KB``, ``12.0 MB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"  # pragma: no cover


def _metrics(args: argparse.Namespace, out: TextIO) -> int:
    with LogStore(check_database(args)) as store:
        summary = store.metric_summary(
            name=args.name, since=args.since, until=args.until, tags=_tags(args)
        )
        if args.name and not summary:
            name = _render.visible(repr(args.name))
            say_error(f"sqlite-logs: error: no metric {name}")
            return 1
        if args.json:
            for name, values in summary.items():
                row = {"metric_name": name, **{field: values[field] for field in _SUMMARY}}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            return 0
        if args.csv:
            writer = csv.writer(out)
            writer.writerow(_COLUMNS)
            writer.writerows((name, *(s[f] for f in _SUMMARY)) for name, s in summary.items())
            return 0
        if not summary:  # no bare header: a pipe reads nothing, a person reads why
            filtered = args.since or args.until or args.tag
            note("no metric values match" if filtered else "no metrics in this database")
            return 0
        rows = [
            (name, f"{s['count']:,}", *(s[f] for f in _SUMMARY[1:])) for name, s in summary.items()
        ]
        print(_render.table(_COLUMNS, rows, right=range(1, 9)), file=out)
        if args.plot:
            kinds = {metric: kind for metric, kind, _ in store.sql(KINDS_SQL)}  # one scan
            for name in summary:
                _plot(store, args, name, summary[name], bucket_statistic(kinds.get(name)), out)
    return 0


def _plot(
    store: LogStore,
    args: argparse.Namespace,
    name: str,
    summary: dict[str, Any],
    statistic: str,
    out: TextIO,
) -> None:
    """A sparkline of the metric over time: its ``statistic`` per bucket, as the report's.

    ``statistic`` is ``bucket_statistic`` of the metric's kind: ``"sum"`` or ``"p50"``.
    """
    values = _buckets(store, args, name, statistic)
    shown = [v for v in values if v is not None]
    span = f"{number(min(shown), 4)} .. {number(max(shown), 4)}" if shown else "no values"
    what = "total per bucket" if statistic == "sum" else "median (p50) per bucket"
    unit = _render.visible(summary["unit"] or "")
    print(f"\n{_render.visible(name)} ({what}, {span}{' ' + unit if unit else ''})", file=out)
    print(f"  {_render.sparkline(values)}", file=out)


def _buckets(
    store: LogStore, args: argparse.Namespace, name: str, statistic: str
) -> list[float | None]:
    """The metric's ``statistic`` in ``--buckets`` equal time buckets, computed in SQLite.

    The buckets cover the period asked for, as ``report``'s do: from ``--since`` (else
    the first value) to ``--until`` (else now, after a ``--since``; else the last value).
    """
    now = time.time()  # relative bounds count back from the same moment as the query's
    since, until = parse_epoch(args.since, now=now), parse_epoch(args.until, now=now)
    where = _metric_filters(name, since, until, _tags(args), store._named)
    first, last = store.sql(
        f"SELECT MIN(created), MAX(created) FROM metrics {where.sql()}", where.params
    )[0]
    count = args.buckets
    values: list[float | None] = [None] * count
    if first is None:
        return []
    first = first if since is None else since
    last = until if until is not None else (now if since is not None else last)
    width = max((last - first) / count, 1e-9)
    bucket = f"max(0, min({count - 1}, CAST((created - {first!r}) / {width!r} AS INTEGER)))"
    for row in store.sql(bucket_sql(where.sql(), bucket), where.params):
        values[row["b"]] = row[statistic]
    return values


def _tags(args: argparse.Namespace) -> dict[str, Any] | None:
    return dict(args.tag) or None
