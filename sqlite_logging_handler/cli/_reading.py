"""``tail``, ``query`` and ``export``: records, as lines, tables, JSON lines or CSV."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import TextIO

from .. import _render
from ..query import LogRow, LogStore
from ._args import Register, add_filters, database, filters, level, row_count

__all__ = ["register"]


def register(command: Register) -> None:
    """Add ``tail``, ``query`` and ``export``."""
    tail = command("tail", _tail, "the last records, oldest first; -f follows new ones")
    tail.add_argument("-n", type=row_count, default=10, help="how many (default: 10)")
    tail.add_argument("-f", "--follow", action="store_true", help="print records as they arrive")
    tail.add_argument("--level", type=level, help="records at this level and above")
    tail.add_argument("--logger", help="this logger and its children")

    query = command("query", _query, "records matching filters, as a table, JSON lines or CSV")
    add_filters(query)
    query.add_argument("--limit", type=row_count, default=100, help="default: 100")
    output = query.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per line")
    output.add_argument("--csv", action="store_true", help="CSV with a header row")

    export = command("export", _export, "stream records to JSON lines or CSV, in constant memory")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    add_filters(export)


def _tail(args: argparse.Namespace, out: TextIO) -> int:
    colour = out.isatty()
    with LogStore(database(args)) as store:
        wanted = {"min_level": args.level, "logger": args.logger}
        rows = store.logs(**wanted, limit=args.n)
        for row in reversed(rows):
            print(_render.log_line(row, colour), file=out, flush=True)
        if args.follow:
            after = max((row.id for row in rows), default=None)
            for row in store.follow(**wanted, after_id=after):
                print(_render.log_line(row, colour), file=out, flush=True)
    return 0


def _query(args: argparse.Namespace, out: TextIO) -> int:
    with LogStore(database(args)) as store:
        rows = store.logs(**filters(args), limit=args.limit)
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


def _export(args: argparse.Namespace, out: TextIO) -> int:
    with LogStore(database(args)) as store, _output(args.output, out) as target:
        rows = store.iter_logs(**filters(args))
        if args.format == "csv":
            count = _render.write_csv(rows, LogRow._fields, target)
        else:
            count = _render.write_json_lines(rows, target)
    if args.output:
        print(f"exported {count:,} records to {_render.visible(args.output)}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _output(path: str | None, default: TextIO) -> Iterator[TextIO]:
    if path is None:
        yield default
        return
    with open(path, "w", encoding="utf-8", newline="") as target:
        yield target
