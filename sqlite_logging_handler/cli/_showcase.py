"""``report`` and ``demo``: an HTML page to open first, and the seed's benchmark run."""

from __future__ import annotations

import argparse
from typing import TextIO

from .. import _render, _report
from .._demo import DEMO_DATABASE, run_demo
from .._times import parse_epoch
from ..query import LogStore
from ._args import (
    DATABASE_VARIABLE,
    Register,
    add_time_range,
    bounded_int,
    check_database,
    duration,
)
from ._output import output_file, to_stdout
from ._summaries import MAX_BUCKETS

__all__ = ["register"]


def register(command: Register) -> None:
    """Add ``report`` and ``demo``."""
    report = command(
        "report", _report_page, "one self-contained HTML page: charts, top errors, loggers"
    )
    report.add_argument(
        "-o",
        "--output",
        default="report.html",
        help="the HTML file to write; -: stdout (default: report.html)",
    )
    add_time_range(report)
    report.set_defaults(ends_now=True)  # --since alone: to now (empty_time_range checks it)
    report.add_argument(
        "--buckets",
        type=bounded_int(MAX_BUCKETS),
        default=60,
        help="about this many time buckets, of a round width, up to 1000 (default: 60)",
    )

    demo = command("demo", _demo, "log records and metrics from several threads, then summarise")
    for action in demo._actions:  # the demo's database is its own, never $SQLITE_LOGS_DB
        if action.dest == "db":
            action.help = (
                f"the database to write (default: {DEMO_DATABASE} in the current "
                f"directory, never ${DATABASE_VARIABLE}: a demo is not real data)"
            )
    demo.add_argument(
        "--threads",
        type=bounded_int(1000),
        default=8,
        help="threads logging at once, up to 1000 (default: 8)",
    )
    demo.add_argument(
        "--duration",
        type=duration,
        default=5.0,
        help="how long the threads log, in seconds (default: 5)",
    )


def _report_page(args: argparse.Namespace, out: TextIO) -> int:
    path = check_database(args)
    with LogStore(path) as store:
        page = _report.render_report(
            store,
            since=parse_epoch(args.since, now=args.now),  # both from one "now": 2h to 1h
            until=parse_epoch(args.until, now=args.now),  # ago is an hour to the millisecond
            buckets=args.buckets,
            utc=args.utc,
            now=args.now,
        )
    with output_file(args.output, out) as target:
        # Line by line, as every command writes: a reader that goes away (| head -1)
        # ends it with 141 as it ends the others, not only when the page outgrows a pipe.
        target.writelines(page.splitlines(keepends=True))
    if not to_stdout(args.output):
        print(f"wrote {_render.visible(args.output)}", file=out)
    return 0


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    # Never $SQLITE_LOGS_DB: a demo is not real data.
    return run_demo(args.db or DEMO_DATABASE, args.threads, args.duration, out, utc=args.utc)
