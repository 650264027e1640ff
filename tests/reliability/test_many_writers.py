"""Scenario 3: many processes, handlers and threads write one file, while a store reads."""

from __future__ import annotations

import subprocess
import threading

from sqlite_logging_handler import LogStore, SQLiteHandler

from ..conftest import PYTHON, child_env, rows

WRITER = """
import logging, sys, threading
from sqlite_logging_handler import SQLiteHandler
db, proc = sys.argv[1], int(sys.argv[2])
handlers = [SQLiteHandler(db, batch_size=100, flush_interval=0.05) for _ in range(5)]
barrier = threading.Barrier(10)

def work(t):
    log = logging.getLogger(f"p{proc}.t{t}")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(handlers[t % 5])
    barrier.wait()
    for i in range(1000):
        log.info("%d", i, extra={"proc": proc, "worker": t})

threads = [threading.Thread(target=work, args=(t,)) for t in range(10)]
for t in threads: t.start()
for t in threads: t.join()
ok = all(h.flush(timeout=120) for h in handlers)
stats = [h.stats() for h in handlers]
for h in handlers: h.close()
print(sum(s["written"] for s in stats), sum(s["failed"] + s["dropped"] for s in stats), ok)
"""


def test_four_processes_of_five_handlers_and_ten_threads_lose_nothing(db_path):
    SQLiteHandler(db_path).close()  # the schema exists before the crowd arrives
    store = LogStore(db_path)
    reading = threading.Event()
    seen: list[int] = []

    def read() -> None:
        while not reading.is_set():
            seen.append(store.sql("SELECT COUNT(*) FROM logs")[0][0])
            store.logs(min_level="INFO", limit=50)

    reader = threading.Thread(target=read)
    reader.start()
    children = [
        subprocess.Popen(
            [PYTHON, "-c", WRITER, str(db_path), str(p)],
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in range(4)
    ]
    outputs = [child.communicate(timeout=300) for child in children]
    reading.set()
    reader.join()
    store.close()

    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert "database is locked" not in err
        assert out.split() == ["10000", "0", "True"]
    assert rows(db_path, "SELECT COUNT(*) FROM logs")[0][0] == 40_000
    per_writer = rows(
        db_path,
        "SELECT json_extract(extra_data, '$.proc') AS p, json_extract(extra_data, '$.worker') AS t,"
        " COUNT(*) AS n, COUNT(DISTINCT message) AS distinct_messages FROM logs GROUP BY p, t",
    )
    assert len(per_writer) == 40
    assert all(r["n"] == r["distinct_messages"] == 1000 for r in per_writer)
    assert seen == sorted(seen)  # the reader only ever saw committed, growing data
    assert rows(db_path, "PRAGMA integrity_check")[0][0] == "ok"


def test_many_handlers_creating_the_schema_at_once(tmp_path):
    """Processes racing to create (or upgrade) the schema of one new file all succeed."""
    db = tmp_path / "race.db"
    code = """
import logging, sys
from sqlite_logging_handler import SQLiteHandler
handler = SQLiteHandler(sys.argv[1])
log = logging.getLogger("race")
log.addHandler(handler)
log.warning("hello from %s", sys.argv[2])
handler.close()
"""
    children = [
        subprocess.Popen(
            [PYTHON, "-c", code, str(db), str(i)],
            env=child_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    assert rows(db, "SELECT COUNT(*) FROM logs")[0][0] == 6
