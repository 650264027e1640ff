"""``sqlite-logs demo``: the seed's benchmark, run through the real handler, told honestly.

Threads log records and metrics concurrently for a few seconds; then the handler
stores what is still queued, with progress; then the seed's summary is read back from
the database with LogStore. What is reported is what happened: how many records the
threads emitted in how long, how long the threads spent inside logging calls (when
the handler's queue is full, callers wait for room), and how long it took until every
record was stored.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from ._render import shown, shown_thread, shown_time
from ._terminal import visible
from ._words import number
from .handler import SQLiteHandler
from .metrics import MetricsAdapter
from .query import LogStore

__all__ = ["DEMO_DATABASE", "run_demo"]

DEMO_DATABASE = "system_logs.db"
_DEMO_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)
_QUEUE_SIZE = 100_000  # the handler's default: records held in memory at most
_TICK = 0.25  # seconds between two progress lines


@dataclass
class _Run:
    """What the demo's threads did: records logged, and seconds spent in logging calls."""

    threads: int
    logged: list[int] = field(default_factory=list)
    inside: list[float] = field(default_factory=list)
    fullest: int = 0  # the most records seen queued at once

    def __post_init__(self) -> None:
        self.logged = [0] * self.threads
        self.inside = [0.0] * self.threads


def run_demo(
    database: str, threads: int, duration: float, out: TextIO, *, utc: bool = False
) -> int:
    """Log from ``threads`` threads for ``duration`` seconds, store it all, then summarise.

    Times in the summary are local with their offset, or UTC (``utc``).
    """
    handler = SQLiteHandler(database, queue_size=_QUEUE_SIZE)
    logger = logging.getLogger("sqlite_logs_demo")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        started = time.time()
        run = _log_for(logger, handler, threads, duration, out)
        logged_for = time.time() - started
        _report_logging(run, logged_for, out)
        _store_everything(handler, run, out)
        stored_after = time.time() - started
        print(
            f"💾 All stored {stored_after - logged_for:.2f} s after the threads stopped "
            f"({stored_after:.2f} s from the start)",
            file=out,
        )
        with LogStore(database) as store:
            _print_summary(store, started, (logged_for, stored_after), utc, out)
    finally:
        logger.removeHandler(handler)
        handler.close()
    print("\nExplore it further:", file=out)
    for command in ("tail -n 20", "stats", "query --min-level ERROR --since 1h", "metrics"):
        print(f"   sqlite-logs --db {database} {command}", file=out)
    return 0


def _log_for(
    logger: logging.Logger, handler: SQLiteHandler, threads: int, duration: float, out: TextIO
) -> _Run:
    stop = threading.Event()
    run = _Run(threads)
    metrics = MetricsAdapter(logger)

    def work(n: int) -> None:
        component = f"worker-{n}"
        i = 0
        clock = time.perf_counter
        while not stop.is_set():
            level = _DEMO_LEVELS[i % len(_DEMO_LEVELS)]
            duration = round(i % 97 * 1.3, 1)
            before = clock()
            logger.log(
                level,
                "Processing task %d",
                i,
                extra={"component": component, "task": i, "duration_ms": duration},
            )
            metrics.record("task_duration", duration, "ms", tags={"component": component})
            run.inside[n] += clock() - before
            i += 1
            run.logged[n] = i

    workers = [threading.Thread(target=work, args=(n,), name=f"demo-{n}") for n in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    while (elapsed := time.monotonic() - started) < duration:
        stop.wait(min(_TICK, duration - elapsed))
        run.fullest = max(run.fullest, handler.stats()["queue_depth"])
        done = sum(run.logged)
        _progress(f"⏳ {elapsed:4.1f}s  {done:,} records and {done:,} metric values logged by "
                  f"{threads} threads")  # fmt: skip
    stop.set()
    for worker in workers:
        worker.join()
    _progress("", done=True)
    return run


def _report_logging(run: _Run, logged_for: float, out: TextIO) -> None:
    logged = sum(run.logged)
    print(
        f"✅ {run.threads} threads logged for {logged_for:.2f} s: {logged:,} records "
        f"({logged / logged_for:,.0f} a second) and as many metric values",
        file=out,
    )
    share = sum(run.inside) / (run.threads * logged_for)
    if run.fullest >= _QUEUE_SIZE * 0.99:
        waited = (
            f"the handler's queue filled up ({_QUEUE_SIZE:,} records and metric values "
            "together), so callers waited for room (overflow='block')"
        )
    else:
        waited = (
            f"the queue never filled (at most {run.fullest:,} of {_QUEUE_SIZE:,} records "
            "and metric values together)"
        )
    print(f"   The threads spent {share:.0%} of their time in logging calls; {waited}", file=out)


def _store_everything(handler: SQLiteHandler, run: _Run, out: TextIO) -> None:
    """Wait until every record emitted is stored (or dropped/failed), showing progress."""
    emitted = 2 * sum(run.logged)  # a record and a metric per step
    while True:
        stats = handler.stats()
        if stats["written"] + stats["dropped"] + stats["failed"] >= emitted:
            break
        _progress(
            f"💾 storing: {stats['written']:,} of {emitted:,} rows (records and metric "
            "values) stored"
        )
        handler.flush(timeout=_TICK)
    _progress("", done=True)


def _progress(text: str, *, done: bool = False) -> None:
    """A progress line, redrawn in place on a terminal's stderr; nothing elsewhere.

    Never on stdout: piped or redirected, the demo's output is its results only.
    """
    if sys.stderr is not None and sys.stderr.isatty():
        print(f"\r{text}\033[K", end="" if not done else "\r", file=sys.stderr, flush=True)


def _print_summary(
    store: LogStore,
    started: float,
    times: tuple[float, float],
    utc: bool,
    out: TextIO,
) -> None:
    logged_for, stored_after = times
    run = "WHERE created >= ?"
    total = store.sql(f"SELECT COUNT(*) FROM logs {run}", (started,))[0][0]
    metrics = store.sql(f"SELECT COUNT(*) FROM metrics {run}", (started,))[0][0]
    print("\n📊 Summary:", file=out)
    print(f"   Total Logs: {total:,}", file=out)
    print(f"   Total Metrics: {metrics:,}", file=out)
    print(
        f"   Logs per second: {total / logged_for:,.0f} logged over {logged_for:.2f} s; "
        f"{total / stored_after:,.0f} stored end to end over {stored_after:.2f} s "
        "(metric values: as many)",
        file=out,
    )
    print("\n📈 Logs by Level:", file=out)
    for level, count in store.sql(
        f"SELECT level, COUNT(*) FROM logs {run} GROUP BY level ORDER BY min(levelno)", (started,)
    ):
        share = 100 * count / max(total, 1)
        print(f"   {visible(level):<10} {count:>7,} ({share:5.1f}%)", file=out)
    print("\n🧵 Logs by Thread:", file=out)
    by_thread = store.sql(
        f"SELECT thread_name, COUNT(*) FROM logs {run} GROUP BY thread_name ORDER BY 1",
        (started,),
    )
    for name, count in by_thread:
        print(f"   {visible(name):<10} {count:>7,}", file=out)
    names = [name for name, _ in by_thread]
    _print_rows("📝 Sample Logs:", _one_per_thread(store, names, started), utc, out)
    errors = _one_per_thread(store, names, started, min_level="ERROR")
    _print_rows("🚨 Recent Errors:", errors, utc, out)
    print("\n📉 Sample Metrics:", file=out)
    for name, summary in store.metric_summary(since=started).items():
        print(
            f"   {visible(name)}: {summary['count']:,} values, avg {number(summary['avg'])}, "
            f"p50 {number(summary['p50'])}, p95 {number(summary['p95'])}, "
            f"p99 {number(summary['p99'])} "
            f"{visible(summary['unit'] or '')}",
            file=out,
        )


def _one_per_thread(
    store: LogStore, names: Sequence[str], started: float, **filters: Any
) -> list[Any]:
    """The newest record of each of (at most) five threads: samples that differ."""
    rows = [
        row
        for name in names[:5]
        for row in store.logs(thread=name, since=started, limit=1, **filters)
    ]
    return sorted(rows, key=lambda row: (row.created or 0, row.id))


def _print_rows(title: str, rows: Sequence[Any], utc: bool, out: TextIO) -> None:
    print(f"\n{title}", file=out)
    for row in rows:
        when = shown_time(row.created, row.timestamp, utc=utc)
        level, message = shown(row.level), shown(row.message)
        thread = shown_thread(row.thread_name, row.thread_id)
        print(f"   {when}  {level:<8} {thread:<10} {message}", file=out)
