"""Soak test: writers, readers, a pruner and random SIGKILLs on one database, for minutes.

Usage::

    python tests/soak/soak.py --minutes 5 [--db soak.db] [--writers 3] [--readers 2]

Writer processes log from several threads and call ``flush()`` every half second,
recording in a status file how many records a successful flush covered. The
supervisor SIGKILLs a random writer now and then and starts a new one. A pruner deletes
the oldest rows in small batches, counting what it deleted per writer. Readers query
throughout. At the end, for every writer: records stored (in the file, or pruned) must
cover every flushed record, never exceed what it emitted, and, for writers that were
stopped rather than killed, equal what it emitted less what it counted as dropped or
failed. Not part of CI: it runs for minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

WRITER = """
import json, logging, os, sys, threading, time
from sqlite_logging_handler import SQLiteHandler
db, name, status_path, stop_path = sys.argv[1:5]
handler = SQLiteHandler(db, batch_size=200, flush_interval=0.2)
log = logging.getLogger("soak")
log.setLevel(logging.INFO)
log.addHandler(handler)
counter = iter(range(10**12))
lock = threading.Lock()
emitted = 0

def work(t):
    global emitted
    while not os.path.exists(stop_path):
        i = next(counter)
        log.info("soak %s %d", name, i, extra={"w": name, "i": i, "t": t})
        with lock:  # counted once emit has returned, so a later flush() covers it
            emitted += 1

threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(3)]
for t in threads: t.start()
def report():
    with lock:
        covered = emitted
    ok = handler.flush(timeout=30)
    status = {"acked": covered if ok else None, "emitted": emitted, **handler.stats()}
    tmp = status_path + ".tmp"
    with open(tmp, "w") as f: json.dump(status, f)
    os.replace(tmp, status_path)
    return ok
while not os.path.exists(stop_path):
    time.sleep(0.5)
    report()
for t in threads: t.join()
report()
handler.close()
stats = handler.stats()
with open(status_path, "w") as f:
    json.dump({"acked": stats["written"], "emitted": stats["emitted"], **stats}, f)
"""


def main() -> None:
    """Run the soak for --minutes and print the accounting table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--db")
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--kill-every", type=float, default=7.0, help="mean seconds between kills")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="soak-"))
    db = Path(args.db) if args.db else work / "soak.db"
    stop = work / "stop"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    sys.path.insert(0, str(REPO))
    from sqlite_logging_handler import LogStore, SQLiteHandler

    SQLiteHandler(db).close()
    writers: dict[str, subprocess.Popen[bytes]] = {}
    killed: set[str] = set()
    names = iter(f"w{n}" for n in range(10**6))

    def start_writer() -> None:
        name = next(names)
        writers[name] = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), name, str(work / f"{name}.json"), str(stop)],
            env=env,
        )

    for _ in range(args.writers):
        start_writer()

    pruned: dict[str, int] = {}
    done = threading.Event()
    reader_errors: list[str] = []

    def prune() -> None:
        conn = sqlite3.connect(db, timeout=30)
        while not done.wait(1.0):
            (count,) = conn.execute("SELECT COUNT(*) FROM logs").fetchone()
            if count < 50_000:
                continue
            with conn:
                cut = conn.execute(
                    "SELECT id FROM logs ORDER BY id LIMIT 1 OFFSET 2000"
                ).fetchone()[0]
                for writer, n in conn.execute(
                    "SELECT json_extract(extra_data, '$.w'), COUNT(*) FROM logs "
                    "WHERE id < ? GROUP BY 1",
                    (cut,),
                ):
                    pruned[writer] = pruned.get(writer, 0) + n
                conn.execute("DELETE FROM logs WHERE id < ?", (cut,))
        conn.close()

    def read() -> None:
        store = LogStore(db)
        while not done.is_set():
            try:
                store.logs(min_level="INFO", since="1m", limit=100)
                store.statistics()
            except Exception as exc:
                reader_errors.append(repr(exc))
        store.close()

    helpers = [threading.Thread(target=prune)] + [
        threading.Thread(target=read) for _ in range(args.readers)
    ]
    for helper in helpers:
        helper.start()

    deadline = time.monotonic() + args.minutes * 60
    rng = random.Random(0)
    while time.monotonic() < deadline:
        time.sleep(min(rng.expovariate(1 / args.kill_every), max(0.0, deadline - time.monotonic())))
        alive = [name for name, p in writers.items() if p.poll() is None]
        if alive and time.monotonic() < deadline:
            victim = rng.choice(alive)
            writers[victim].send_signal(signal.SIGKILL)
            writers[victim].wait()
            killed.add(victim)
            start_writer()
        print(
            f"\r{time.monotonic() - deadline + args.minutes * 60:6.0f}s  kills: {len(killed)}",
            end="",
            flush=True,
        )

    stop.touch()
    for process in writers.values():
        process.wait(timeout=120)
    done.set()
    for helper in helpers:
        helper.join()
    print()
    report(db, work, writers, killed, pruned, reader_errors)


def report(db, work, writers, killed, pruned, reader_errors) -> None:
    """Check every writer's accounting and print the totals."""
    conn = sqlite3.connect(db)
    stored = dict(
        conn.execute("SELECT json_extract(extra_data, '$.w'), COUNT(*) FROM logs GROUP BY 1")
    )
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()
    totals = {"emitted": 0, "stored": 0, "dropped": 0, "failed": 0, "lost in kills": 0}
    problems = []
    for name in writers:
        status_path = work / f"{name}.json"
        status = (
            json.loads(status_path.read_text())
            if status_path.exists()
            else {"acked": 0, "emitted": 0}
        )
        kept = stored.get(name, 0) + pruned.get(name, 0)
        acked = status.get("acked") or 0
        emitted = status["emitted"]
        totals["stored"] += kept
        totals["dropped"] += status.get("dropped", 0)
        totals["failed"] += status.get("failed", 0)
        if name in killed:
            # A killed writer emitted more than its last status said; count what we know.
            totals["emitted"] += max(emitted, kept)
            totals["lost in kills"] += max(0, emitted - kept)
            if kept < acked:
                problems.append(f"{name}: {acked} flushed but only {kept} stored")
        else:
            if writers[name].returncode != 0:
                problems.append(f"{name}: exited with {writers[name].returncode}")
            totals["emitted"] += emitted
            if kept + status.get("dropped", 0) + status.get("failed", 0) != emitted:
                problems.append(f"{name}: emitted {emitted}, stored {kept}, status {status}")
    print(
        f"writers: {len(writers)} ({len(killed)} killed with SIGKILL), "
        f"pruned: {sum(pruned.values()):,}"
    )
    print("| " + " | ".join(totals) + " |")
    print("|" + "---|" * len(totals))
    print("| " + " | ".join(f"{v:,}" for v in totals.values()) + " |")
    print(f"integrity_check: {integrity}; reader errors: {len(reader_errors)}")
    for problem in problems + reader_errors[:5]:
        print("PROBLEM:", problem)
    sys.exit(1 if problems or reader_errors or integrity != "ok" else 0)


if __name__ == "__main__":
    main()
