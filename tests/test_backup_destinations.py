"""Backup destinations (issue 14.7-14.9 follow-up): refused or failed, always saying why.

``sqlite-logs backup``, ``LogStore.backup()`` and ``SQLiteHandler.backup()`` into a
read-only place, a missing directory, a directory, onto an application's database, a
file that is not a database, or the database itself: a ``SQLiteLoggingError`` (one line
on the command line) naming the destination and the real cause, and no file destroyed.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from sqlite_logging_handler import LogStore, SQLiteHandler, SQLiteLoggingError

from .conftest import make_logger, rows, sqlite_logs
from .test_access import ReadOnlyPlace, logged
from .test_access import read_only as read_only  # the fixture

pytestmark = pytest.mark.slow


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "ok.db"
    logged(path).close()
    return path


def refused(source: Path, destination: Path | str, *expected: str) -> None:
    """Every way of backing up refuses ``destination`` with one message holding ``expected``."""
    with LogStore(source) as store, pytest.raises(SQLiteLoggingError) as raised:
        store.backup(destination)
    handler = SQLiteHandler(source)
    try:
        with pytest.raises(SQLiteLoggingError) as from_handler:
            handler.backup(destination)
    finally:
        handler.close()
    result = sqlite_logs("--db", str(source), "backup", str(destination))
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    for said in (str(raised.value), str(from_handler.value), line):
        assert str(destination) in said
        for text in expected:
            assert text in said, said


def test_a_missing_directory_is_named_and_not_created(source, tmp_path):
    destination = tmp_path / "nodir" / "sub" / "bk.db"
    refused(source, destination, f"there is no directory {str(tmp_path / 'nodir')!r}")
    assert not (tmp_path / "nodir").exists()


def test_a_file_in_the_way_of_the_directory_is_named(source, tmp_path):
    (tmp_path / "afile").write_text("x")
    refused(source, tmp_path / "afile" / "bk.db", "afile' is not a directory")


def test_a_directory_is_refused(source, tmp_path):
    refused(source, tmp_path, "it is a directory")


def test_a_read_only_place_is_named_and_nothing_is_left_there(read_only: ReadOnlyPlace, source):
    destination = read_only.dir / "bk.db"
    result = read_only.run(
        "-m", "sqlite_logging_handler", "--db", str(source), "backup", str(destination)
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert str(destination) in line
    if read_only.how == "mount":
        assert "read-only file system" in line, line
    else:
        assert "is not writable, so the file cannot be created" in line, line
    store = read_only.python(
        """
        import sys
        from sqlite_logging_handler import LogStore, SQLiteLoggingError
        try:
            LogStore(sys.argv[1]).backup(sys.argv[2])
        except SQLiteLoggingError as exc:
            print("refused:", exc)
        """,
        str(source),
        str(destination),
    )
    assert store.stdout.startswith("refused: cannot back up"), store.stderr
    assert sorted(p.name for p in read_only.dir.iterdir() if "probe" not in p.name) == []


def test_an_applications_database_is_never_replaced(source, tmp_path):
    app = tmp_path / "app.db"
    conn = sqlite3.connect(app)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ann')")
    conn.commit()
    conn.close()
    before = app.read_bytes()
    refused(source, app, "without log tables", "users", "not replaced")
    assert app.read_bytes() == before
    assert [tuple(r) for r in rows(app, "SELECT name FROM users")] == [("ann",)]


def test_a_file_that_is_not_a_database_is_named_and_not_modified(source, tmp_path):
    notes = tmp_path / "notes.db"
    notes.write_text("hello, not a database")
    refused(source, notes, "is not an SQLite database", "not modified")
    assert notes.read_text() == "hello, not a database"


def test_the_database_itself_is_refused_by_any_path(source, tmp_path):
    link = tmp_path / "link.db"
    link.symlink_to(source)
    hard = tmp_path / "hard.db"
    os.link(source, hard)
    for destination in (source, f"./{os.path.relpath(source)}", link, hard):
        refused(source, destination, "onto itself")
    handler = SQLiteHandler(source)  # through its file: URI, as handler.store() reads
    try:
        with pytest.raises(SQLiteLoggingError, match="onto itself"):
            handler.backup(source)
    finally:
        handler.close()
    assert not Path(f"{source}-wal").exists()
    assert len(rows(source)) == 3


@pytest.mark.parametrize("existing", ["a log database", "an empty file", "nothing"])
def test_an_old_backup_or_an_empty_file_is_replaced_as_cp_would(source, tmp_path, existing):
    destination = tmp_path / "bk.db"
    if existing == "a log database":
        old = SQLiteHandler(destination)
        make_logger(old).warning("an older backup")
        old.close()
    elif existing == "an empty file":
        destination.write_bytes(b"")
    result = sqlite_logs("--db", str(source), "backup", str(destination))
    assert (result.returncode, result.stderr) == (0, "")
    assert [r["message"] for r in rows(destination)] == [r["message"] for r in rows(source)]
