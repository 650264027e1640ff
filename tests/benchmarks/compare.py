"""Print the caller cost and end-to-end throughput of SQLiteHandler beside the stdlib's.

Usage::

    python tests/benchmarks/compare.py [--records 100000] [--rounds 5] [--threads 1]
                                       [--kinds null,file,queue+file,sqlite,sqlite-process]

Each measurement runs in a fresh child process; contenders are interleaved round by
round and the table shows medians, because this machine is noisy (single runs mislead
by 25 %). ``sqlite`` is ``SQLiteHandler`` with the default writer thread,
``sqlite-process`` with ``writer="process"``. The record logged is the one of issue #7::

    log.info("request %d done in %.1f ms", i, 12.5, extra={"user_id": i, "path": "/api/users"})

The timed run starts once the handler has committed a first record: the time the
constructor took ("construction") and the time from construction to that commit are
shown apart ("first commit"), and so is the writer
process's own peak RSS (the application's is "peak RSS").
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import os
import queue
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

KINDS = ("null", "file", "queue+file", "sqlite", "sqlite-process")
REPO = Path(__file__).resolve().parents[2]


def _handler(kind: str, directory: str) -> tuple[logging.Handler, object]:
    """The handler to measure, and what must be stopped to finish writing."""
    if kind == "null":
        return logging.NullHandler(), None
    if kind == "file":
        return logging.FileHandler(os.path.join(directory, "a.log")), None
    if kind == "queue+file":
        target = logging.FileHandler(os.path.join(directory, "a.log"))
        records: queue.Queue[logging.LogRecord] = queue.Queue(-1)
        listener = logging.handlers.QueueListener(records, target)
        listener.start()
        return logging.handlers.QueueHandler(records), listener
    from sqlite_logging_handler import SQLiteHandler

    writer = "process" if kind == "sqlite-process" else "thread"
    return SQLiteHandler(os.path.join(directory, "a.db"), writer=writer), None


def _writer_peak_mib(handler: logging.Handler) -> float:
    """The writer process's peak RSS (0 without one), read while it runs."""
    pid = handler.stats()["writer_pid"] if hasattr(handler, "stats") else None
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(kind: str, records: int, threads: int) -> dict[str, float]:
    """One measurement, in this process: caller µs per call and records per second."""
    if kind.startswith("sqlite"):
        import sqlite_logging_handler  # noqa: F401 - imported once, outside the timing
    with tempfile.TemporaryDirectory() as directory:
        constructed = time.perf_counter()
        handler, listener = _handler(kind, directory)
        construction = time.perf_counter() - constructed
        log = logging.getLogger("bench")
        log.setLevel(logging.INFO)
        log.propagate = False
        first_commit = 0.0
        if kind.startswith("sqlite"):
            log.addHandler(handler)
            log.info("first")
            handler.flush()
            first_commit = time.perf_counter() - constructed
            log.removeHandler(handler)
        log.addHandler(handler)
        per_thread = records // threads
        caller_seconds: list[float] = []

        def work() -> None:
            started = time.perf_counter()
            for i in range(per_thread):
                log.info(
                    "request %d done in %.1f ms",
                    i,
                    12.5,
                    extra={"user_id": i, "path": "/api/users"},
                )
            caller_seconds.append(time.perf_counter() - started)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if isinstance(listener, logging.handlers.QueueListener):
            listener.stop()  # drains the queue into the file
        handler.flush()
        total = time.perf_counter() - started
        writer_peak = _writer_peak_mib(handler)
        handler.close()
    return {
        "caller_us": 1e6 * statistics.mean(caller_seconds) / per_thread,
        "records_per_s": per_thread * threads / total,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "writer_rss_mib": writer_peak,
        "first_commit_s": first_commit,
        "construct_s": construction,
    }


def _run_child(kind: str, records: int, threads: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--one",
            kind,
            "--records",
            str(records),
            "--threads",
            str(threads),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    """Run every contender ``--rounds`` times, interleaved, and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kinds", default=",".join(KINDS), help="contenders, comma-separated")
    parser.add_argument("--one", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.records, args.threads)))
        return
    kinds = tuple(args.kinds.split(","))
    if "file" not in kinds or not set(kinds) <= set(KINDS):
        parser.error(f"--kinds: some of {', '.join(KINDS)}, file among them")

    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for round_number in range(args.rounds):
        order = kinds if round_number % 2 == 0 else tuple(reversed(kinds))
        for kind in order:
            results[kind].append(_run_child(kind, args.records, args.threads))

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in results[kind])

    file_caller, file_rate = median("file", "caller_us"), median("file", "records_per_s")
    file_rss = median("file", "peak_rss_mib")
    print(f"{args.records:,} records, {args.threads} thread(s), median of {args.rounds} rounds\n")
    print(
        "| | caller µs/call | x FileHandler | end-to-end rec/s | x FileHandler "
        "| peak RSS MiB | x FileHandler | writer process RSS MiB | construction s "
        "| first commit s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind in kinds:
        caller, rate = median(kind, "caller_us"), median(kind, "records_per_s")
        rss, writer = median(kind, "peak_rss_mib"), median(kind, "writer_rss_mib")
        first, built = median(kind, "first_commit_s"), median(kind, "construct_s")
        print(
            f"| {kind} | {caller:.1f} | {caller / file_caller:.2f} | {rate:,.0f} | "
            f"{rate / file_rate:.2f} | {rss:.0f} | {rss / file_rss:.2f} | "
            f"{writer:.0f} | {built:.4f} | {first:.3f} |"
            if kind.startswith("sqlite")
            else f"| {kind} | {caller:.1f} | {caller / file_caller:.2f} | {rate:,.0f} | "
            f"{rate / file_rate:.2f} | {rss:.0f} | {rss / file_rss:.2f} | | {built:.4f} | |"
        )


if __name__ == "__main__":
    main()
