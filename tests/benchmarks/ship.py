"""Print the shipping throughput: rows/s from one ``ship`` process to a real collector,
and into a real PostgreSQL.

Usage::

    python tests/benchmarks/ship.py [--records 100000] [--rounds 3]

A log database of ``--records`` records (the record of docs/performance.md, with
extras) and a tenth as many metric points is shipped with ``sqlite-logs ship ... --once``
in a fresh child process per round: to rotel's collector (OTLP/HTTP, protobuf, gzip;
the collector decodes every request and acknowledges it, and discards the data, so the
machine's two cores are not shared with a backend), and into PostgreSQL with its default
durability (``fsync``, synchronous commit), a fresh database each round. Rounds are
interleaved, the table shows medians. It also times the OTLP encoding alone, done as
this package does it and naively (messages built from keyword arguments).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from sqlite_logging_handler import MetricsAdapter, SQLiteHandler  # noqa: E402
from tests.shipping.servers import Collector, PostgresCluster, free_port  # noqa: E402


def make_database(path: Path, records: int) -> None:
    handler = SQLiteHandler(path, batch_size=2000)
    log = logging.getLogger("bench.app")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    for i in range(records):
        log.info("request %d done in %.1f ms", i, 12.5, extra={"user_id": i, "path": "/api/users"})
    metrics = MetricsAdapter(log)
    for i in range(records // 10):
        if i % 3 == 0:
            metrics.increment("requests", tags={"path": "/api/users"})
        elif i % 3 == 1:
            metrics.gauge("queue_depth", i % 50, "items")
        else:
            metrics.record("response_time", 12.5 + i % 100, "ms", tags={"path": "/api/users"})
    handler.close()
    log.removeHandler(handler)


def ship(database: Path, kind: str, url: str, name: str, *options: str) -> tuple[float, float]:
    """Wall seconds and CPU seconds of one ``ship --once`` child process."""
    command = [
        sys.executable, "-m", "sqlite_logging_handler", "--db", str(database),
        "ship", kind, url, "--once", "--name", name, *options,
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode:
        raise RuntimeError(result.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def process_cpu(pid: int | None, children: bool = False) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc (0 elsewhere);
    with ``children``, also its children's, ended (waited for) and running."""
    fields = _stat(pid)
    if not fields:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
        for entry in os.listdir("/proc"):
            child = _stat(entry) if entry.isdigit() else []
            if child and child[1] == str(pid):
                ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _stat(pid: object) -> list[str]:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()
    except OSError:
        return []


def load_average() -> str:
    try:
        return ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def encoding_rates(database: Path, rows: int) -> tuple[float, float]:
    """Log records/s encoded (and serialised): as the package does it, and naively."""
    import sqlite3

    from sqlite_logging_handler import schema
    from sqlite_logging_handler.shipping._otlp_logs import LogEncoder
    from sqlite_logging_handler.shipping.destination import SourceInfo, resource_attributes

    conn = sqlite3.connect(database)
    table = conn.execute(
        f"SELECT {', '.join(schema.LOG_COLUMNS)} FROM logs ORDER BY id LIMIT ?", (rows,)
    ).fetchall()
    conn.close()
    source = SourceInfo(str(database), "bench", resource_attributes("bench"))
    encoder = LogEncoder(source)
    batches = [table[i : i + 1000] for i in range(0, len(table), 1000)]
    started = time.perf_counter()
    for batch in batches:
        encoder.encode(batch).SerializeToString()
    ours = len(table) / (time.perf_counter() - started)
    started = time.perf_counter()
    for batch in batches:
        _naive(batch, source).SerializeToString()
    naive = len(table) / (time.perf_counter() - started)
    return ours, naive


def _naive(rows: list[tuple[Any, ...]], source: object) -> Any:
    """The same messages built the common way: keyword arguments, lists of KeyValue."""
    import json

    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

    def value(v: object) -> AnyValue:
        if isinstance(v, bool):
            return AnyValue(bool_value=v)
        if isinstance(v, int):
            return AnyValue(int_value=v)
        if isinstance(v, float):
            return AnyValue(double_value=v)
        return AnyValue(string_value=str(v))

    records = []
    for r in rows:
        attrs = [KeyValue(key=k, value=value(v)) for k, v in json.loads(r[6] or "{}").items()]
        attrs += [
            KeyValue(key="code.file.path", value=value(r[9])),
            KeyValue(key="code.function.name", value=value(r[13])),
            KeyValue(key="code.line.number", value=value(r[12])),
            KeyValue(key="thread.id", value=value(r[3])),
            KeyValue(key="thread.name", value=value(r[16])),
            KeyValue(key="log.record.uid", value=value(f"bench:{r[0]}")),
        ]
        nanos = int(r[8] * 1e9)
        records.append(
            LogRecord(
                time_unix_nano=nanos,
                observed_time_unix_nano=nanos,
                severity_number=9,  # type: ignore[arg-type]
                severity_text=r[2],
                body=AnyValue(string_value=r[5]),
                attributes=attrs,
            )
        )
    scope = ScopeLogs(scope=InstrumentationScope(name="bench.app"), log_records=records)
    return ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[scope])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", help="passed to ship (default: its own)")
    args = parser.parse_args()
    options = ("--batch-size", args.batch_size) if args.batch_size else ()
    metrics = args.records // 10
    rows = args.records + metrics

    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.db"
        make_database(database, args.records)
        ours, naive = encoding_rates(database, min(args.records, 20_000))

        collector = Collector(Path(folder), f"http://127.0.0.1:{free_port()}")
        collector.exporter = "blackhole"
        collector.start()
        postgres = PostgresCluster(durable=True)
        postgres.start()
        results: dict[str, list[tuple[float, float]]] = {"otlp": [], "postgres": []}
        collector_cpu: list[float] = []
        server_cpu: list[float] = []
        load_before = load_average()
        try:
            for round_ in range(args.rounds):
                before = process_cpu(collector.pid)
                results["otlp"].append(
                    ship(database, "otlp", collector.url, f"otlp {round_}", *options)
                )
                collector_cpu.append(process_cpu(collector.pid) - before)
                url = postgres.new_database()
                before = process_cpu(postgres.pid, children=True)
                results["postgres"].append(
                    ship(database, "postgres", url, f"pg {round_}", *options)
                )
                server_cpu.append(process_cpu(postgres.pid, children=True) - before)
        finally:
            collector.stop()
            postgres.remove()

    print(
        f"{args.records:,} log records + {metrics:,} metric points = {rows:,} rows, median of "
        f"{args.rounds} rounds (one ship process each, start-up included)\n"
    )
    print("| destination | seconds | rows/s | ship process CPU s | rows per ship CPU-second |")
    print("|---|---|---|---|---|")
    for kind, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"| {kind} | {wall:.2f} | {rows / wall:,.0f} | {cpu:.2f} | {rows / cpu:,.0f} |")
    print(
        f"\nCPU s per round (median): collector {statistics.median(collector_cpu):.2f}, "
        f"PostgreSQL server {statistics.median(server_cpu):.2f}; "
        f"load average before: {load_before}, after: {load_average()}"
    )
    print(f"\nOTLP encoding alone (log records/s, serialised): {ours:,.0f} "
          f"as shipped, {naive:,.0f} naive ({ours / naive:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
