"""Scenario 2: SIGKILL loses at most the last flush_interval, never the file."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from ..conftest import PYTHON, child_env, rows

CHILD = """
import logging, sys, time
from sqlite_logging_handler import SQLiteHandler
# This loop logs faster than any writer commits: what a kill can lose is what is not
# yet committed, the last flush_interval plus the queue's backlog, so the queue is
# kept to a fraction of a second's worth (docs/reliability.md).
handler = SQLiteHandler(sys.argv[1], flush_interval=0.2, queue_size=2000)
log = logging.getLogger("crash")
log.setLevel(logging.INFO)
log.addHandler(handler)
i = 0
while True:
    log.info("%d", i)
    i += 1
    if i % 200 == 0:   # report how many were emitted, and when (CLOCK_MONOTONIC)
        print(i, time.monotonic(), flush=True)
"""


def test_sigkill_keeps_everything_emitted_a_second_before_and_a_sound_file(db_path):
    child = subprocess.Popen(
        [PYTHON, "-c", CHILD, str(db_path)],
        env=child_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    reports: list[tuple[int, float]] = []
    for line in child.stdout:
        count, at = line.split()
        reports.append((int(count), float(at)))
        if reports[-1][1] - reports[0][1] > 2.5:
            break
    killed_at = time.monotonic()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    assert rows(db_path, "PRAGMA integrity_check")[0][0] == "ok"
    emitted_a_second_before = max(count for count, at in reports if at <= killed_at - 1.0)
    stored = [int(r["message"]) for r in rows(db_path, "SELECT message FROM logs ORDER BY id")]
    assert len(stored) >= emitted_a_second_before
    assert stored == list(range(len(stored)))  # a prefix: no gaps, no duplicates
