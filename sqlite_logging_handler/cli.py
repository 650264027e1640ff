"""The ``sqlite-logs`` command line: look at, follow, summarise, export and prune logs.

Exit codes follow Unix tools: 0 on success, 1 for runtime errors (a missing or unusable
database), 2 for bad arguments. Errors are one line on stderr, never a traceback.
Every subcommand takes ``--db PATH`` (before or after its name), defaulting to
``$SQLITE_LOGS_DB``, else ``logs.db``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

from . import _render, _report, maintenance, schema
from ._access import open_writer
from ._demo import DEMO_DATABASE, run_demo
from .exceptions import SQLiteLoggingError
from .query import LogRow, LogStore, parse_age, parse_epoch, parse_time
from .shipping.command import add_ship_command

__all__ = ["main"]

Command = Callable[[argparse.Namespace, TextIO], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sqlite-logs`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    try:
        result: int = args.run(args, sys.stdout)
    except (OSError, sqlite3.Error, SQLiteLoggingError) as exc:
        print(f"sqlite-logs: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a bad value only the database could judge (a search query)
        print(f"sqlite-logs: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


def database(args: argparse.Namespace) -> str:
    """The database a subcommand works on: --db, else $SQLITE_LOGS_DB, else logs.db."""
    return str(args.db or os.environ.get("SQLITE_LOGS_DB") or "logs.db")


# -- the parser ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqlite-logs",
        description="Look at, follow, summarise, export and prune a log database "
        "written by SQLiteHandler.",
    )
    parser.add_argument("--db", help="the log database (default: $SQLITE_LOGS_DB, else logs.db)")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        # SUPPRESS: the subcommand's --db only overrides the top-level one when given.
        sub.add_argument("--db", default=argparse.SUPPRESS, help="the log database")
        sub.set_defaults(run=run)
        return sub

    demo = command("demo", _demo, "log records and metrics from several threads, then summarise")
    demo.add_argument("--threads", type=_positive_int, default=8, help="default: 8")
    demo.add_argument("--duration", type=_positive_float, default=5.0, help="seconds; default: 5")

    tail = command("tail", _tail, "the last records, oldest first; -f follows new ones")
    tail.add_argument("-n", type=_positive_int, default=10, help="how many (default: 10)")
    tail.add_argument("-f", "--follow", action="store_true", help="print records as they arrive")
    tail.add_argument("--level", type=_level, help="records at this level and above")
    tail.add_argument("--logger", help="this logger and its children")

    query = command("query", _query, "records matching filters, as a table, JSON lines or CSV")
    _add_filters(query)
    query.add_argument("--limit", type=_positive_int, default=100, help="default: 100")
    output = query.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per line")
    output.add_argument("--csv", action="store_true", help="CSV with a header row")

    command("stats", _stats, "counts by level, logger and thread; time span; file sizes")

    metrics = command("metrics", _metrics, "per metric: count, min, avg, p50, p95, p99, max, unit")
    metrics.add_argument("name", nargs="?", help="only this metric")
    metrics.add_argument("--since", type=_time, help="e.g. 1h, 7d (default: all)")
    metrics.add_argument("--plot", action="store_true", help="a sparkline of each metric over time")
    metrics.add_argument("--buckets", type=_positive_int, default=40, help="plot width (40)")

    report = command("report", _report_page, "one self-contained HTML page of charts (SVG)")
    report.add_argument("-o", "--output", default="report.html", help="default: report.html")
    report.add_argument("--since", type=_time, help="e.g. 24h, 7d (default: all)")
    report.add_argument("--buckets", type=_positive_int, default=60, help="time buckets (60)")

    export = command("export", _export, "stream records to JSON lines or CSV, in constant memory")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    _add_filters(export)

    prune = command("prune", _prune, "delete old records, in small transactions")
    prune.add_argument("--older-than", type=_age, help="e.g. 30d, 12h")
    prune.add_argument("--keep-rows", type=_positive_int, help="keep only the newest N log rows")
    prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    backup = command("backup", _backup, "copy the database consistently, while it is written to")
    backup.add_argument("destination")
    command("vacuum", _vacuum, "rebuild the file to return free space to the file system")
    command("upgrade", _upgrade, "bring an older database (e.g. the seed's) to the current schema")
    add_ship_command(command)
    return parser


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=_time, help="e.g. 90s, 15m, 1h, 7d, or an epoch")
    parser.add_argument("--until", type=_time, help="as --since")
    parser.add_argument("--level", type=_level, help="this level only")
    parser.add_argument("--min-level", type=_level, help="this level and above")
    parser.add_argument("--logger", help="this logger and its children")
    parser.add_argument("--contains", help="text in the message (any case)")
    parser.add_argument("--thread", help="a thread name or id")
    parser.add_argument("--trace-id", help="an OpenTelemetry trace id (32 hex digits)")
    parser.add_argument(
        "--search", help="full-text query, e.g. 'timeout AND db' (needs full_text=True)"
    )
    parser.add_argument(
        "--extra",
        action="append",
        type=_extra,
        default=[],
        metavar="KEY=VALUE",
        help="extra data equal to VALUE (read as JSON if it parses); repeatable",
    )


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    thread: int | str | None = args.thread
    if isinstance(thread, str) and thread.isdigit():
        thread = int(thread)
    return {
        "since": args.since, "until": args.until, "level": args.level,
        "min_level": args.min_level, "logger": args.logger, "contains": args.contains,
        "thread": thread, "extra": dict(args.extra) or None,
        "trace_id": args.trace_id, "search": args.search,
    }  # fmt: skip


# -- argument types: a bad value exits 2 with a usage message --------------------------------


def _positive_int(text: str) -> int:
    return int(_positive(text, int))


def _positive_float(text: str) -> float:
    return _positive(text, float)


def _positive(text: str, kind: type[int] | type[float]) -> float:
    """``text`` read as a positive ``kind``, or an argparse error naming what was expected."""
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if not 0 < value < float("inf"):
        what = "a whole number of at least 1" if kind is int else "a positive number"
        msg = f"expected {what}, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _time(text: str) -> float | str:
    value: float | str = float(text) if _is_number(text) else text
    try:
        parse_time(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _age(text: str) -> float:
    try:
        return parse_age(float(text) if _is_number(text) else text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _level(text: str) -> int | str:
    if text.isdigit():
        return int(text)
    if not isinstance(logging.getLevelName(text.upper()), int):
        msg = f"unknown level {text!r}: use DEBUG, INFO, WARNING, ERROR, CRITICAL or a number"
        raise argparse.ArgumentTypeError(msg)
    return text.upper()


def _extra(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        msg = f"expected KEY=VALUE, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- reading ----------------------------------------------------------------------------------


def _open_store(args: argparse.Namespace) -> LogStore:
    return LogStore(database(args))


def _tail(args: argparse.Namespace, out: TextIO) -> int:
    colour = out.isatty()
    with _open_store(args) as store:
        filters = {"min_level": args.level, "logger": args.logger}
        rows = store.logs(**filters, limit=args.n)
        for row in reversed(rows):
            print(_render.log_line(row, colour), file=out, flush=True)
        if args.follow:
            after = max((row.id for row in rows), default=None)
            for row in store.follow(**filters, after_id=after):
                print(_render.log_line(row, colour), file=out, flush=True)
    return 0


def _query(args: argparse.Namespace, out: TextIO) -> int:
    with _open_store(args) as store:
        rows = store.logs(**_filters(args), limit=args.limit)
    if args.json:
        _render.write_json_lines(rows, out)
    elif args.csv:
        _render.write_csv(rows, LogRow._fields, out)
    else:
        headers = ("id", "timestamp", "level", "logger", "thread", "message", "extra")
        print(
            _render.table(
                headers,
                ((r.id, r.timestamp, r.level, r.module, r.thread_name, r.message, r.extra_data)
                 for r in rows),
            ),
            file=out,
        )  # fmt: skip
    return 0


def _stats(args: argparse.Namespace, out: TextIO) -> int:
    path = database(args)
    with _open_store(args) as store:
        stats = store.statistics()
        threads = store.sql(
            "SELECT thread_name, thread_id, COUNT(*) AS n FROM logs "
            "GROUP BY thread_name, thread_id ORDER BY n DESC LIMIT 10"
        )
    db_size, wal_size = maintenance.file_sizes(path)
    print(f"database   {path}", file=out)
    print(f"size       {_bytes(db_size)} (WAL {_bytes(wal_size)})", file=out)
    print(f"records    {stats['total_logs']:,} logs, {stats['total_metrics']:,} metrics", file=out)
    print(f"time span  {stats['first'] or '-'} .. {stats['last'] or '-'} (UTC)", file=out)
    for title, counts in (("level", stats["logs_by_level"]), ("logger", stats["logs_by_logger"])):
        print(f"\nby {title}:", file=out)
        print(_render.table((title, "records"), list(counts.items())[:10]), file=out)
    print("\nby thread:", file=out)
    print(_render.table(("thread", "id", "records"), [tuple(r) for r in threads]), file=out)
    return 0


def _bytes(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"  # pragma: no cover


def _metrics(args: argparse.Namespace, out: TextIO) -> int:
    with _open_store(args) as store:
        summary = store.metric_summary(name=args.name, since=args.since)
        if args.name and not summary:
            print(f"sqlite-logs: error: no metric {args.name!r}", file=sys.stderr)
            return 1
        fields = ("count", "min", "avg", "p50", "p95", "p99", "max", "unit")
        rows = [(name, *(s[f] for f in fields)) for name, s in summary.items()]
        print(_render.table(("metric", *fields), rows), file=out)
        if args.plot:
            for name in summary:
                values = _buckets(store, name, args.since, args.buckets)
                low, high = summary[name]["min"], summary[name]["max"]
                unit = summary[name]["unit"] or ""
                print(f"\n{name} (average per bucket, {low:g} .. {high:g} {unit})", file=out)
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
    with _open_store(args) as store:
        page = _report.render_report(store, since=parse_epoch(args.since), buckets=args.buckets)
    with open(args.output, "w", encoding="utf-8") as target:
        target.write(page)
    print(f"wrote {args.output}", file=out)
    return 0


def _export(args: argparse.Namespace, out: TextIO) -> int:
    with _open_store(args) as store, _output(args.output, out) as target:
        rows = store.iter_logs(**_filters(args))
        if args.format == "csv":
            count = _render.write_csv(rows, LogRow._fields, target)
        else:
            count = _render.write_json_lines(rows, target)
    if args.output:
        print(f"exported {count:,} records to {args.output}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _output(path: str | None, default: TextIO) -> Iterator[TextIO]:
    if path is None:
        yield default
        return
    with open(path, "w", encoding="utf-8", newline="") as target:
        yield target


# -- writing ----------------------------------------------------------------------------------


def _writable(args: argparse.Namespace, *, upgrade: bool = False) -> sqlite3.Connection:
    """A write connection to an existing log database (never creating one)."""
    return open_writer(database(args), upgrade=upgrade)


def _prune(args: argparse.Namespace, out: TextIO) -> int:
    if args.older_than is None and args.keep_rows is None:
        print("sqlite-logs prune: error: give --older-than and/or --keep-rows", file=sys.stderr)
        return 2
    path = database(args)
    before = sum(maintenance.file_sizes(path))
    conn = _writable(args)
    returned = None
    try:
        deleted = maintenance.prune(
            conn, older_than=args.older_than, keep_rows=args.keep_rows, dry_run=args.dry_run
        )
        if not args.dry_run and any(deleted.values()):
            returned = maintenance.give_back_space(conn)
    finally:
        conn.close()
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {deleted['logs']:,} log rows and {deleted['metrics']:,} metric rows", file=out)
    if returned is not None:
        _print_space(path, before, returned, out)
    return 0


def _print_space(path: str, before: int, returned: maintenance.SpaceReturned, out: TextIO) -> None:
    """Say how much space went back to the file system, and what is still to come."""
    after = sum(maintenance.file_sizes(path))
    print(f"gave back {_bytes(max(0, before - after))}: {path} is now {_bytes(after)}", file=out)
    if returned.rebuilt:
        print(
            "(the file had no auto_vacuum: rebuilt with VACUUM, INCREMENTAL from now on)", file=out
        )
    if not returned.checkpoint.complete:
        print("(a reader holds the WAL: the file shrinks at the next checkpoint)", file=out)


def _backup(args: argparse.Namespace, out: TextIO) -> int:
    with _open_store(args) as store:
        store.backup(args.destination)
    print(f"backed up {database(args)} to {args.destination}", file=out)
    return 0


def _vacuum(args: argparse.Namespace, out: TextIO) -> int:
    path = database(args)
    before = sum(maintenance.file_sizes(path))
    conn = _writable(args)
    try:
        maintenance.vacuum(conn)
        done = maintenance.checkpoint(conn)
    finally:
        conn.close()
    after = sum(maintenance.file_sizes(path))
    print(f"vacuumed {path}: {_bytes(before)} -> {_bytes(after)}", file=out)
    if not done.complete:
        print("(a reader holds the WAL: the file shrinks at the next checkpoint)", file=out)
    return 0


def _upgrade(args: argparse.Namespace, out: TextIO) -> int:
    path = database(args)
    conn = _writable(args, upgrade=True)
    try:
        before = schema.schema_version(conn)
        schema.ensure_schema(conn)
        after = schema.schema_version(conn)
    finally:
        conn.close()
    if before == after:
        print(f"{path} is already at schema version {after}", file=out)
    else:
        print(f"upgraded {path} from schema version {before} to {after}", file=out)
    return 0


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    # Never $SQLITE_LOGS_DB: a demo is not real data.
    return run_demo(args.db or DEMO_DATABASE, args.threads, args.duration, out)
