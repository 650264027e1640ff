"""The ``sqlite-logs`` command line.

Exit codes follow Unix tools: 0 on success, 1 for runtime errors (a missing or unusable
database), 2 for bad arguments. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

from .exceptions import SQLiteLoggingError
from .handler import SQLiteHandler
from .metrics import MetricsAdapter
from .query import LogStore

__all__ = ["main"]

DEMO_DATABASE = "system_logs.db"
_DEMO_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sqlite-logs`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        result: int = args.run(args, sys.stdout)
    except (OSError, SQLiteLoggingError) as exc:
        print(f"sqlite-logs: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


def _parser() -> argparse.ArgumentParser:
    # --db is accepted before or after the subcommand: the subcommand's copy uses
    # SUPPRESS so it only overrides the top-level value when actually given.
    parser = argparse.ArgumentParser(
        prog="sqlite-logs",
        description="Look at, follow and summarise a log database written by SQLiteHandler.",
    )
    parser.add_argument("--db", help="the log database (default: $SQLITE_LOGS_DB, else logs.db)")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="log from several threads at once, then print a summary read back",
        description=(
            "Reproduce the seed's benchmark through the real handler: THREADS threads log "
            "records for DURATION seconds, then a summary is read back from the database."
        ),
    )
    demo.add_argument("--db", default=argparse.SUPPRESS, help=f"default: {DEMO_DATABASE}")
    demo.add_argument("--threads", type=_positive_int, default=8, help="default: 8")
    demo.add_argument("--duration", type=_positive_float, default=5.0, help="seconds; default: 5")
    demo.set_defaults(run=_demo)
    return parser


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


# -- demo -------------------------------------------------------------------------------


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    database = args.db or DEMO_DATABASE  # never $SQLITE_LOGS_DB: a demo is not real data
    handler = SQLiteHandler(database)
    logger = logging.getLogger("sqlite_logs_demo")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        started = time.time()
        _run_demo_threads(logger, args.threads, args.duration, out)
        handler.flush()
        elapsed = time.time() - started
        print(f"\n✅ All workers completed in {elapsed:.2f}s", file=out)
        with LogStore(database) as store:
            _print_summary(store, started, elapsed, out)
    finally:
        logger.removeHandler(handler)
        handler.close()
    print("\nExplore it further, for example the latest errors:", file=out)
    print(
        '   python -c "from sqlite_logging_handler import LogStore; '
        f"[print(r.timestamp, r.level, r.message) for r in LogStore('{database}')"
        ".logs(min_level='ERROR', limit=5)]\"",
        file=out,
    )
    return 0


def database(args: argparse.Namespace) -> str:
    """The database a subcommand works on: --db, else $SQLITE_LOGS_DB, else logs.db."""
    return str(args.db or os.environ.get("SQLITE_LOGS_DB") or "logs.db")


def _run_demo_threads(logger: logging.Logger, threads: int, duration: float, out: TextIO) -> None:
    stop = threading.Event()
    counts = [0] * threads
    metrics = MetricsAdapter(logger)

    def work(n: int) -> None:
        component = f"worker-{n}"
        i = 0
        while not stop.is_set():
            level = _DEMO_LEVELS[i % len(_DEMO_LEVELS)]
            duration = round(i % 97 * 1.3, 1)
            logger.log(
                level,
                "Processing task %d",
                i,
                extra={"component": component, "task": i, "duration_ms": duration},
            )
            metrics.record("task_duration", duration, "ms", tags={"component": component})
            i += 1
            counts[n] = i

    workers = [threading.Thread(target=work, args=(n,), name=f"demo-{n}") for n in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    while (elapsed := time.monotonic() - started) < duration:
        time.sleep(min(0.25, duration - elapsed))
        done = sum(counts)
        _progress(
            out, f"⏳ {elapsed:4.1f}s  {done:,} records and {done:,} metrics from {threads} threads"
        )
    stop.set()
    for worker in workers:
        worker.join()


def _progress(out: TextIO, text: str) -> None:
    end = "\r" if out.isatty() else "\n"
    print(text, end=end, file=out, flush=True)


def _print_summary(store: LogStore, started: float, elapsed: float, out: TextIO) -> None:
    run = "WHERE created >= ?"
    total = store.sql(f"SELECT COUNT(*) FROM logs {run}", (started,))[0][0]
    metrics = store.sql(f"SELECT COUNT(*) FROM metrics {run}", (started,))[0][0]
    print("\n📊 Summary:", file=out)
    print(f"   Total Logs: {total:,}", file=out)
    print(f"   Total Metrics: {metrics:,}", file=out)
    print(f"   Logs per second: {total / elapsed:,.2f}", file=out)
    print("\n📈 Logs by Level:", file=out)
    for level, count in store.sql(
        f"SELECT level, COUNT(*) FROM logs {run} GROUP BY level ORDER BY min(levelno)", (started,)
    ):
        print(f"   {level:<10} {count:>7,} ({100 * count / max(total, 1):5.1f}%)", file=out)
    print("\n🧵 Logs by Thread:", file=out)
    for name, count in store.sql(
        f"SELECT thread_name, COUNT(*) FROM logs {run} GROUP BY thread_name ORDER BY 1",
        (started,),
    ):
        print(f"   {name:<10} {count:>7,}", file=out)
    _print_rows("📝 Sample Logs:", store.logs(since=started, limit=5), out)
    _print_rows("🚨 Recent Errors:", store.logs(since=started, min_level="ERROR", limit=5), out)
    print("\n📉 Sample Metrics:", file=out)
    for name, summary in store.metric_summary(since=started).items():
        print(
            f"   {name}: {summary['count']:,} values, avg {summary['avg']:.1f}, "
            f"p50 {summary['p50']:g}, p95 {summary['p95']:g}, p99 {summary['p99']:g} "
            f"{summary['unit'] or ''}",
            file=out,
        )


def _print_rows(title: str, rows: Sequence[Any], out: TextIO) -> None:
    print(f"\n{title}", file=out)
    for row in rows:
        print(f"   {row.timestamp}  {row.level:<8} {row.thread_name:<10} {row.message}", file=out)
