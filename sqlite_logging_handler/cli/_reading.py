"""``query`` and ``export``: records as a table, JSON lines or CSV; both tables streamed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from .. import _render
from ..query import LogRow, LogStore, MetricRow
from ._args import Register, add_filters, extra, filters, open_store, row_count
from ._output import note, output_file, to_stdout, usage_error
from ._progress import Progress, counted

__all__ = ["register"]

_WRITERS = {"jsonl": _render.write_json_lines, "json": _render.write_json_array}
# Options of export that only logs take, with their argparse dests.
_LOG_ONLY = {
    "--level": "level", "--min-level": "min_level", "--logger": "logger",
    "--contains": "contains", "--thread": "thread", "--trace-id": "trace_id",
    "--search": "search", "--match": "match", "--extra": "extra",
}  # fmt: skip


def register(command: Register) -> None:
    """Add ``query`` and ``export``."""
    query = command("query", _query, "records matching filters, as a table, JSON lines or CSV")
    add_filters(query)
    query.add_argument(
        "--limit", type=row_count, default=100, help="at most this many records (default: 100)"
    )
    output = query.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per line")
    output.add_argument("--csv", action="store_true", help="CSV with a header row")

    export = command("export", _export, "stream log records or metrics to JSON lines, JSON or CSV")
    export.add_argument(
        "table",
        nargs="?",
        choices=("logs", "metrics"),
        default="logs",
        help="logs or metrics (default: logs)",
    )
    export.add_argument(
        "--format",
        choices=("jsonl", "json", "csv"),
        default="jsonl",
        help="jsonl: JSON lines, json: one JSON array, csv: CSV with a header row (default: jsonl)",
    )
    export.add_argument("-o", "--output", help="file to write; -: stdout (default: stdout)")
    add_filters(export)
    export.add_argument("--name", help="metrics: this metric only")
    export.add_argument(
        "--tag",
        action="append",
        type=extra,
        default=[],
        metavar="KEY=VALUE",
        help="metrics: tags equal to VALUE (as --extra); repeatable",
    )


def _query(args: argparse.Namespace, out: TextIO) -> int:
    with open_store(args) as store:
        if args.json or args.csv:  # streamed, in constant memory, whatever --limit
            rows = store.iter_logs(**filters(args), limit=args.limit, newest_first=True)
            if args.json:
                _render.write_json_lines(rows, out)
            else:
                _render.write_csv(rows, LogRow._fields, out)
            return 0
        table = store.logs(**filters(args), limit=args.limit)  # a table sizes its columns
    if not table:  # no bare header: a pipe reads nothing, a person reads why
        filtered = any(filters(args).values())
        note("no records match" if filtered else "no records in this database")
        return 0
    headers = ("id", "time", "level", "logger", "thread", "message", "extra")
    shown = [
        (r.id, _render.shown_time(r.created, r.timestamp, utc=args.utc), r.level, r.module,
         _render.shown_thread(r.thread_name, r.thread_id), r.message, r.extra_data)
        for r in table
    ]  # fmt: skip
    print(_render.table(headers, shown), file=out)
    return 0


def _export(args: argparse.Namespace, out: TextIO) -> int:
    misplaced = _misplaced_options(args)
    if misplaced:
        usage_error(misplaced, "sqlite-logs export")
        return 2
    with open_store(args) as store:
        with output_file(args.output, out, newline="") as target:
            # Not over rows written to the same terminal; counting costs a query: only
            # for someone watching.
            watching = not to_stdout(args.output) or not out.isatty()
            progress = Progress(f"exporting {args.table}", unit="rows", enabled=watching)
            if progress.active:
                progress.total = _count(store, args)
            rows = counted(_rows(store, args), progress)
            fields = LogRow._fields if args.table == "logs" else MetricRow._fields
            if args.format == "csv":
                count = _render.write_csv(rows, fields, target)
            else:
                count = _WRITERS[args.format](rows, target)
            progress.finish()
        # Once the file is complete and in place: a closed stderr (2>&1 | head -0) ends
        # the command with 141 as for any output, and keeps the file, as backup's.
        _say_what_was_exported(store, args, count)
    return 0


def _misplaced_options(args: argparse.Namespace) -> str:
    if args.table == "metrics":
        given = [option for option, dest in _LOG_ONLY.items() if getattr(args, dest)]
        if given:
            return (
                f"{', '.join(given)}: for logs only (metrics take --since, --until, --name, --tag)"
            )
    elif args.name is not None or args.tag:
        return "--name and --tag are for metrics: sqlite-logs export metrics ..."
    return ""


def _rows(store: LogStore, args: argparse.Namespace) -> Iterable[Any]:
    if args.table == "metrics":
        return store.iter_metrics(**_metric_filters(args))
    return store.iter_logs(**filters(args))


def _count(store: LogStore, args: argparse.Namespace) -> int:
    if args.table == "metrics":
        return store.count_metrics(**_metric_filters(args))
    return store.count_logs(**filters(args))


def _metric_filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "name": args.name,
        "since": args.since,
        "until": args.until,
        "tags": dict(args.tag) or None,
    }


def _say_what_was_exported(store: LogStore, args: argparse.Namespace, count: int) -> None:
    what = "records" if args.table == "logs" else "metric values"
    if not to_stdout(args.output):
        print(f"exported {count:,} {what} to {_render.visible(args.output)}", file=sys.stderr)
    if count == 0 and args.table == "logs" and not any(filters(args).values()):
        metrics = store.count_metrics()
        if metrics:
            print(
                f"sqlite-logs: this database holds no log records but {metrics:,} metric "
                "values: sqlite-logs export metrics",
                file=sys.stderr,
            )
