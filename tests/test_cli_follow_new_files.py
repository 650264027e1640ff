"""``tail -F`` and a database that appears, paths that can never be one, and a large ``-n``.

The #15 acceptance pass: ``tail -F`` started before the database existed missed the
records written before it noticed the file (it started at the new file's last ``-n``);
``tail -F`` on a directory waited forever; ``tail -n 1000000`` held every row in memory.
Each case runs ``sqlite-logs`` as a user does, in a subprocess, on real files.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from ._follow import Follower, message
from .conftest import PYTHON, child_env, sqlite_logs

pytestmark = pytest.mark.slow
_THREADS, _EACH = 4, 3000

# An application that starts as soon as it is run: its threads log at once, then it ends.
_WRITER = """
import logging, sys, threading
from sqlite_logging_handler import SQLiteHandler
handler = SQLiteHandler(sys.argv[1])
log = logging.getLogger("burst")
log.setLevel(logging.INFO)
log.propagate = False
log.addHandler(handler)
def work(k):
    for i in range(int(sys.argv[2])):
        log.info("t%d %d", k, i)
threads = [threading.Thread(target=work, args=(k,)) for k in range(int(sys.argv[3]))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
log.info("the end")
handler.close()
"""


def write_burst(db: Path, each: int = _EACH) -> None:
    """Run the writer: ``_THREADS`` threads log ``each`` records each into ``db``."""
    subprocess.run(
        [PYTHON, "-c", _WRITER, str(db), str(each), str(_THREADS)],
        env=child_env(), check=True, timeout=300,
    )  # fmt: skip


def until_the_end(follower: Follower) -> list[str]:
    """The messages the follower shows up to the writer's last, ``the end``."""
    messages = follower.messages(1)
    while messages[-1] != "the end":
        messages += follower.messages(1)
    return messages[:-1]


def assert_every_record_once_in_order(messages: list[str]) -> None:
    by_thread: dict[str, list[int]] = {}
    for shown in messages:
        thread, number = shown.split()
        by_thread.setdefault(thread, []).append(int(number))
    assert by_thread == {f"t{k}": list(range(_EACH)) for k in range(_THREADS)}


@pytest.mark.parametrize("before", ["missing", "removed"])
def test_tail_F_shows_every_record_of_a_database_that_appears(tmp_path, before):
    """As ``tail -F`` shows a file that appears after it started: all of it is new."""
    db = tmp_path / "burst.db"
    if before == "removed":
        write_burst(db, 1)
    follower = Follower(db, "-F")
    try:
        if before == "removed":
            until_the_end(follower)  # the old database's records
            db.unlink()
            assert "has been removed; waiting" in follower.note()
        else:
            assert "waiting for it" in follower.note()
        write_burst(db)
        assert_every_record_once_in_order(until_the_end(follower))
        assert follower.out.empty()  # nothing twice
        assert follower.process.poll() is None
    finally:
        follower.stop()


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda p: p.mkdir(), "it is a directory"),
        (lambda p: os.mkfifo(p), "it is not a regular file"),
        (lambda p: p.parent.joinpath("afile").write_text(""), "is a file, not a directory"),
    ],
    ids=["directory", "fifo", "under-a-file"],
)
def test_tail_F_on_what_can_never_be_a_database_fails_as_other_commands_do(tmp_path, make, said):
    path = tmp_path / "adir"
    make(path)
    if said.startswith("is a file"):
        path = tmp_path / "afile" / "x.db"
    follow = sqlite_logs("--db", str(path), "tail", "-F")
    plain = sqlite_logs("--db", str(path), "tail")
    assert (follow.returncode, follow.stdout) == (1, "")
    assert follow.stderr == plain.stderr
    assert said in follow.stderr and len(follow.stderr.splitlines()) == 1


def test_tail_F_waits_for_a_directory_that_does_not_exist_yet(tmp_path):
    """As ``tail -F`` does: ``mkdir -p logs`` and the application may come later."""
    db = tmp_path / "logs" / "app.db"
    follower = Follower(db, "-F")
    try:
        assert "waiting for it" in follower.note()
        db.parent.mkdir()
        write_burst(db)
        assert_every_record_once_in_order(until_the_end(follower))
    finally:
        follower.stop()


_ROWS = 200_000


@pytest.fixture(scope="module")
def many_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``_ROWS`` records of 300 bytes, times out of id order with ties, every third an ERROR."""
    db = tmp_path_factory.mktemp("many") / "many.db"
    write_burst(db, 1)
    conn = sqlite3.connect(db)
    names = [row[1] for row in conn.execute("PRAGMA table_info(logs)") if row[1] != "id"]
    made = {
        "message": "printf('m%d %.300c', n, 'x')",
        "timestamp": "printf('2026-01-01 %02d:%02d:%02d.000', (n * 7919 % 86400) / 3600,"
        " (n * 7919 % 3600) / 60, n * 7919 % 60 / 2 * 2)",
        "level": "CASE WHEN n % 3 THEN 'INFO' ELSE 'ERROR' END",
        "levelno": "CASE WHEN n % 3 THEN 20 ELSE 40 END",
    }
    with conn:
        conn.execute(
            f"INSERT INTO logs ({', '.join(names)}) "
            f"WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < {_ROWS}) "
            f"SELECT {', '.join(made.get(name, name) for name in names)} "
            "FROM k, (SELECT * FROM logs LIMIT 1)"
        )
        conn.execute(f"DELETE FROM logs WHERE id <= {_THREADS + 1}")  # the seeds
    conn.close()
    return db


# Runs the command, reads up to argv[1] lines of its stdout into argv[2], ends it if it
# has not ended, and prints the peak RSS (KB) of the command alone.
_MEASURE = """
import resource, subprocess, sys
child = subprocess.Popen(sys.argv[3:], stdout=subprocess.PIPE)
with open(sys.argv[2], "wb") as kept:
    for _ in range(int(sys.argv[1])):
        line = child.stdout.readline()
        if not line:
            break
        kept.write(line)
if child.poll() is None:
    child.terminate()
child.stdout.close()
child.wait()
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.mark.parametrize(
    ("args", "count"),
    [(["-n", "1000000"], _ROWS), (["-f", "-n", "60000", "--min-level", "ERROR"], 60_000)],
    ids=["all", "follow-filtered"],
)
def test_tail_with_a_large_n_streams_in_constant_memory(many_db, tmp_path, args, count):
    kept = tmp_path / "kept.txt"
    measured = subprocess.run(
        [PYTHON, "-c", _MEASURE, str(count), str(kept),
         PYTHON, "-m", "sqlite_logging_handler", "--db", str(many_db), "tail", *args],
        env=child_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert measured.returncode == 0, measured.stderr
    conn = sqlite3.connect(many_db)
    where = "WHERE levelno >= 40" if "--min-level" in args else ""
    expected = [
        text
        for (text,) in conn.execute(
            f"SELECT message FROM logs {where} ORDER BY timestamp DESC, id DESC LIMIT ?", [count]
        )
    ][::-1]
    conn.close()
    shown = kept.read_text().splitlines()
    assert [message(line) for line in shown] == expected
    peak_kb = int(measured.stdout)
    assert peak_kb < 60_000, f"peak RSS {peak_kb:,} KB for {count:,} rows"
