"""``sqlite-logs demo``: the seed's benchmark, run through the real handler.

Threads log records and metrics concurrently for a few seconds; then the seed's summary
is read back from the database with LogStore.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

from ._terminal import visible
from .handler import SQLiteHandler
from .metrics import MetricsAdapter
from .query import LogStore

__all__ = ["DEMO_DATABASE", "run_demo"]

DEMO_DATABASE = "system_logs.db"
_DEMO_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)


def run_demo(database: str, threads: int, duration: float, out: TextIO) -> int:
    """Log from ``threads`` threads for ``duration`` seconds, then print the summary."""
    handler = SQLiteHandler(database)
    logger = logging.getLogger("sqlite_logs_demo")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        started = time.time()
        _run_demo_threads(logger, threads, duration, out)
        handler.flush()
        elapsed = time.time() - started
        print(f"\n✅ All workers completed in {elapsed:.2f}s", file=out)
        with LogStore(database) as store:
            _print_summary(store, started, elapsed, out)
    finally:
        logger.removeHandler(handler)
        handler.close()
    print("\nExplore it further:", file=out)
    for command in ("tail -n 20", "stats", "query --min-level ERROR --since 1h", "metrics"):
        print(f"   sqlite-logs --db {database} {command}", file=out)
    return 0


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
        share = 100 * count / max(total, 1)
        print(f"   {visible(level):<10} {count:>7,} ({share:5.1f}%)", file=out)
    print("\n🧵 Logs by Thread:", file=out)
    for name, count in store.sql(
        f"SELECT thread_name, COUNT(*) FROM logs {run} GROUP BY thread_name ORDER BY 1",
        (started,),
    ):
        print(f"   {visible(name):<10} {count:>7,}", file=out)
    _print_rows("📝 Sample Logs:", store.logs(since=started, limit=5), out)
    _print_rows("🚨 Recent Errors:", store.logs(since=started, min_level="ERROR", limit=5), out)
    print("\n📉 Sample Metrics:", file=out)
    for name, summary in store.metric_summary(since=started).items():
        print(
            f"   {visible(name)}: {summary['count']:,} values, avg {summary['avg']:.1f}, "
            f"p50 {summary['p50']:g}, p95 {summary['p95']:g}, p99 {summary['p99']:g} "
            f"{visible(summary['unit'] or '')}",
            file=out,
        )


def _print_rows(title: str, rows: Sequence[Any], out: TextIO) -> None:
    print(f"\n{title}", file=out)
    for row in rows:
        level, thread, message = (visible(v) for v in (row.level, row.thread_name, row.message))
        print(f"   {row.timestamp}  {level:<8} {thread:<10} {message}", file=out)
