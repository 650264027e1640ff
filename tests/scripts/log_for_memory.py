"""Child program: log COUNT records into DB and print the writer's peak RSS after each fifth.

Usage: log_for_memory.py DB COUNT [keep-cache]. With ``keep-cache`` the writer never
releases its page cache (to show what the release is for). The queue is kept small,
so what grows with the run is the writer's, not the backlog's. Prints one JSON line:
``{"peaks_mib": [...], "rows": N}``. Run by tests/test_memory.py; never imported.
"""

import json
import logging
import sqlite3
import sys
from pathlib import Path

from sqlite_logging_handler import SQLiteHandler, _timed

db, count = sys.argv[1], int(sys.argv[2])
if sys.argv[3:] == ["keep-cache"]:
    _timed.RELEASE_MEMORY_EVERY = float("inf")
    _timed.RELEASE_MEMORY_ROWS = 2**62

handler = SQLiteHandler(db, queue_size=2_000)
log = logging.getLogger("memory")
log.propagate = False
log.setLevel(logging.INFO)
log.addHandler(handler)


def peak_mib() -> float:
    """The writer's peak RSS: this process's, or its writer process's.

    Not ``getrusage``: its peak survives ``exec`` and would be the parent's (pytest's)
    if that was larger.
    """
    pid = handler.stats()["writer_pid"] or "self"
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmHWM in /proc/self/status")


padding = "x" * 200  # rows of a realistic size: the database outgrows the 64 MB cache
peaks = []
for i in range(count):
    log.info("request %d done in %.1f ms %s", i, 12.5, padding, extra={"user_id": i})
    if (i + 1) % (count // 5) == 0:
        handler.flush()
        peaks.append(peak_mib())
handler.close()
with sqlite3.connect(db) as conn:
    stored = conn.execute("SELECT COUNT(*) FROM logs").fetchone()[0]
print(json.dumps({"peaks_mib": peaks, "rows": stored}))
