"""Scenario 6: faults of the file system and the file (more in tests/test_failures.py:
disk full, a file removed while running, a directory given as the path)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile

import pytest

from sqlite_logging_handler import SQLiteHandler, SQLiteLoggingError, _transactions
from sqlite_logging_handler import handler as handler_module

from ..conftest import PYTHON, child_env, make_logger, rows


def test_a_corrupted_header_is_refused_at_construction_and_not_modified(db_path):
    SQLiteHandler(db_path).close()
    data = bytearray(db_path.read_bytes())
    data[:16] = b"garbage garbage!"
    db_path.write_bytes(bytes(data))
    with pytest.raises(SQLiteLoggingError, match="not an SQLite database"):
        SQLiteHandler(db_path)
    assert db_path.read_bytes() == bytes(data)


def test_corruption_while_running_is_counted_and_never_reaches_the_caller(
    db_path, monkeypatch, capsys
):
    monkeypatch.setattr(_transactions, "RETRY_FOR", 0.3)
    handler = SQLiteHandler(db_path, batch_size=50, pragmas={"journal_mode": "DELETE"})
    log = make_logger(handler)
    for i in range(2000):
        log.info("before %d %s", i, "x" * 100)
    assert handler.flush()
    with open(db_path, "r+b") as f:  # scribble over every page but the first
        size = os.path.getsize(db_path)
        f.seek(4096)
        f.write(os.urandom(size - 4096))
    for i in range(500):
        log.info("after %d", i)  # never raises
    handler.flush(timeout=60)
    stats = handler.stats()
    assert stats["written"] + stats["dropped"] + stats["failed"] == stats["emitted"] == 2500
    if stats["failed"]:
        assert "could not be written" in capsys.readouterr().err
    handler.close()


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MB file system (tmpfs), remountable read-only; skipped where mount is refused."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield mountpoint
    subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def remount(mountpoint, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mountpoint)], check=True)


def test_a_full_disk_is_counted_and_writing_resumes_when_space_is_freed(
    small_disk, monkeypatch, capsys
):
    monkeypatch.setattr(_transactions, "RETRY_FOR", 0.3)
    ballast = small_disk / "ballast"
    handler = SQLiteHandler(small_disk / "app.db", batch_size=100)
    ballast.write_bytes(b"\0" * (1024 * 1024))
    log = make_logger(handler)
    for i in range(20_000):
        log.info("filling the disk %d %s", i, "x" * 100)
    assert handler.flush(timeout=120) is False
    stats = handler.stats()
    assert stats["failed"] > 0
    assert stats["written"] + stats["failed"] == stats["emitted"] == 20_000
    assert "could not be written" in capsys.readouterr().err

    ballast.unlink()
    log.info("after space was freed")
    assert handler.flush(timeout=60) is True
    handler.close()
    stored = rows(small_disk / "app.db", "SELECT message FROM logs ORDER BY id DESC LIMIT 1")
    assert stored[0][0] == "after space was freed"


READ_ONLY_CHILD = """
import logging, os, pwd, sys
from sqlite_logging_handler import SQLiteHandler, SQLiteLoggingError
nobody = pwd.getpwnam("nobody")
os.setgid(nobody.pw_gid)
os.setuid(nobody.pw_uid)  # file permissions apply from here on
db = sys.argv[1]
handler = SQLiteHandler(db)
log = logging.getLogger("ro")
log.addHandler(handler)
log.warning("before")
print("flushed", handler.flush(), flush=True)
sys.stdin.readline()  # the parent makes the file read-only meanwhile
for i in range(100):
    log.warning("while read-only %d", i)
print("flushed", handler.flush(timeout=60), flush=True)
try:
    SQLiteHandler(db)
except SQLiteLoggingError as exc:
    print("refused:", exc, flush=True)
handler.close()
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a child that drops to nobody")
def test_a_database_made_read_only_while_running():
    """The open connection keeps writing (Linux checks permissions at open); a new
    handler on the now read-only file is refused at construction."""
    directory = tempfile.mkdtemp(dir="/tmp")  # reachable for nobody
    os.chmod(directory, 0o777)
    db = os.path.join(directory, "app.db")
    try:
        child = subprocess.Popen(
            [PYTHON, "-c", READ_ONLY_CHILD, db],
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd="/",
        )
        assert child.stdout is not None
        assert child.stdin is not None
        assert child.stdout.readline().split() == ["flushed", "True"]
        os.chmod(db, 0o444)
        child.stdin.write("go\n")
        child.stdin.flush()
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert out.splitlines()[0] == "flushed True"
        assert out.splitlines()[1].startswith(f"refused: cannot use '{db}'")
        assert "readonly" in out.splitlines()[1]
        assert len(rows(db)) == 101
    finally:
        shutil.rmtree(directory)


def test_a_database_moved_away_while_running_keeps_the_path(tmp_path):
    """Rotation by moving the file (with its -wal, which holds the newest commits)."""
    db = tmp_path / "app.db"
    handler = SQLiteHandler(db)
    log = make_logger(handler)
    log.info("into the original")
    assert handler.flush()
    for suffix in ("", "-wal", "-shm"):
        shutil.move(f"{db}{suffix}", tmp_path / f"archived.db{suffix}")
    log.info("into the path")
    assert handler.flush()
    handler.close()
    assert [r["message"] for r in rows(db)] == ["into the path"]
    conn = sqlite3.connect(tmp_path / "archived.db")
    assert conn.execute("SELECT message FROM logs").fetchall() == [("into the original",)]
    conn.close()


def test_close_on_a_full_disk_says_in_one_line_how_many_and_why(small_disk, monkeypatch, capsys):
    """#14.3 follow-up: the close line agrees with stats() and names the write error."""
    monkeypatch.setattr(handler_module, "CLOSE_TIMEOUT", 1.5)  # shorter than RETRY_FOR
    ballast = small_disk / "ballast"
    handler = SQLiteHandler(small_disk / "app.db", batch_size=100, flush_interval=0.05)
    log = make_logger(handler)
    log.info("before the disk filled")
    assert handler.flush()
    ballast.write_bytes(b"\0" * (1024 * 1024))
    filler = small_disk / "filler"
    with contextlib.suppress(OSError), open(filler, "wb") as f:  # every last block
        while True:
            f.write(b"\0" * 4096)
            f.flush()
    for i in range(3000):
        log.info("while the disk is full %d %s", i, "x" * 100)
    handler.close()
    stats = handler.stats()
    assert stats["written"] + stats["failed"] == stats["emitted"] == 3001
    assert stats["failed"] > 0
    said = [line for line in capsys.readouterr().err.splitlines() if "unwritten" in line]
    assert len(said) == 1, said
    assert f"with {stats['failed']} record(s) unwritten" in said[0]
    assert "writing failed:" in said[0] and "full" in said[0]
