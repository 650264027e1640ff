"""Odd places and odd databases (issue 14.7, 14.8, 14.9).

Read-only places are tested for real: root ignores directory permissions, so a child
runs as root without the capabilities that let it (``setpriv``), or inside a mount
namespace where the directory is a read-only bind mount (``unshare``). A test skips,
saying why, only where neither can be arranged.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest

from sqlite_logging_handler import LogStore, SchemaVersionError, SQLiteHandler, SQLiteLoggingError

from .conftest import PYTHON, child_env, make_logger, rows, sqlite_logs

pytestmark = pytest.mark.slow

SETPRIV = shutil.which("setpriv")
UNSHARE = shutil.which("unshare")
_MOUNT_RO = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


class ReadOnlyPlace:
    """A directory this test's children may read but not write, in one of two ways."""

    def __init__(self, how: str, directory: Path) -> None:
        self.how = how
        self.dir = directory

    def prefix(self) -> list[str]:
        if self.how == "mount":
            return [UNSHARE or "unshare", "--mount", "sh", "-c", _MOUNT_RO, "sh", str(self.dir)]
        if os.geteuid() == 0:  # root ignores permissions unless it drops these
            return [SETPRIV or "setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        return []

    def lock(self) -> None:
        """Make the directory read-only (from now on, for the children)."""
        if self.how == "permissions":
            self.dir.chmod(0o555)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``python *args`` in the read-only place."""
        return subprocess.run(
            [*self.prefix(), PYTHON, *args],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def python(self, code: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("-c", textwrap.dedent(code), *args)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "sqlite_logging_handler", *args)


def read_only_place(how: str, directory: Path) -> ReadOnlyPlace:
    """A read-only directory, made so by permissions or by a read-only bind mount."""
    if how == "mount" and (os.geteuid() != 0 or UNSHARE is None):
        pytest.skip("a read-only bind mount needs root and unshare(1)")
    if how == "permissions" and os.geteuid() == 0 and SETPRIV is None:
        pytest.skip("root ignores directory permissions, and setpriv(1) is missing")
    place = ReadOnlyPlace(how, directory)
    place.dir.mkdir()
    place.lock()
    probe = place.python("import sys; open(sys.argv[1], 'w')", str(place.dir / "probe"))
    place.dir.chmod(0o755)
    if probe.returncode == 0:
        pytest.skip(f"could not make a read-only place by {how} here")
    place.lock()
    return place


@pytest.fixture(params=["permissions", "mount"])
def read_only(request, tmp_path):
    place = read_only_place(request.param, tmp_path / "ro")
    yield place
    place.dir.chmod(0o755)


def logged(path: Path, count: int = 3) -> SQLiteHandler:
    """A handler on ``path`` that has written ``count`` records; still open."""
    handler = SQLiteHandler(path, flush_interval=60)
    log = make_logger(handler)
    for i in range(count):
        log.warning("record %d", i)
    assert handler.flush()
    return handler


# -- 14.7: reading wherever the file is readable ---------------------------------------------


def test_a_database_without_wal_files_is_read_in_a_read_only_place(read_only, tmp_path):
    path = read_only.dir / "inside.db"
    read_only.dir.chmod(0o755)
    logged(path).close()
    assert sorted(p.name for p in read_only.dir.iterdir() if "probe" not in p.name) == ["inside.db"]
    read_only.lock()
    stats = read_only.cli("--db", str(path), "stats")
    assert stats.returncode == 0, stats.stderr
    assert "3 logs" in stats.stdout
    tail = read_only.cli("--db", str(path), "tail", "-n", "5")
    assert tail.returncode == 0, tail.stderr
    assert [line.split()[-1] for line in tail.stdout.splitlines()] == ["0", "1", "2"]


@pytest.mark.parametrize("shm", [True, False], ids=["with-shm", "without-shm"])
def test_records_still_in_the_wal_are_read_in_a_read_only_place(read_only, tmp_path, shm):
    """Copied off a running server: the WAL holds records the main file does not have yet."""
    source = tmp_path / "live.db"
    handler = logged(source, 5)  # still open: its records are in the WAL
    read_only.dir.chmod(0o755)
    for suffix in ("", "-wal", *(["-shm"] if shm else [])):
        shutil.copy(f"{source}{suffix}", read_only.dir / f"inside.db{suffix}")
    handler.close()
    path = read_only.dir / "inside.db"
    read_only.lock()
    result = read_only.python(
        """
        import sys
        from sqlite_logging_handler import LogStore
        with LogStore(sys.argv[1]) as store:
            print(len(store.logs()), store.statistics()["total_logs"])
        """,
        str(path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["5", "5"]
    after = sorted(p.name for p in read_only.dir.iterdir())
    assert after == sorted(["inside.db", "inside.db-wal", *(["inside.db-shm"] if shm else [])])


# -- 14.7 and 14.8: write failures name the real cause -----------------------------------------


def test_a_new_database_in_a_read_only_place_names_the_directory(read_only):
    path = read_only.dir / "new.db"
    result = read_only.python(
        """
        import sys
        from sqlite_logging_handler import SQLiteHandler, SQLiteLoggingError
        try:
            SQLiteHandler(sys.argv[1])
        except SQLiteLoggingError as exc:
            print(exc)
        """,
        str(path),
    )
    assert result.returncode == 0, result.stderr
    said = result.stdout.strip()
    assert said.startswith(f"cannot use {str(path)!r} as a log database: the directory ")
    if read_only.how == "mount":
        assert "read-only file system" in said
    else:
        assert "is not writable, so the file cannot be created" in said
    assert not path.exists()


def test_an_existing_database_in_a_read_only_directory_names_the_wal_files(read_only):
    path = read_only.dir / "inside.db"
    read_only.dir.chmod(0o755)
    logged(path).close()
    read_only.lock()
    result = read_only.python(
        """
        import sys
        from sqlite_logging_handler import SQLiteHandler, SQLiteLoggingError
        try:
            SQLiteHandler(sys.argv[1])
        except SQLiteLoggingError as exc:
            print(exc)
        """,
        str(path),
    )
    said = result.stdout.strip()
    if read_only.how == "mount":
        assert "read-only file system" in said, said
    else:
        assert "inside.db-wal and inside.db-shm" in said, said
    prune = read_only.cli("--db", str(path), "prune", "--keep-rows", "1")
    assert prune.returncode == 1
    assert "read-only file system" in prune.stderr or "is not writable" in prune.stderr


def test_a_write_failure_at_run_time_names_the_directory(tmp_path):
    """The file went away and the directory became read-only while the handler ran."""
    read_only = read_only_place("permissions", tmp_path / "ro")
    read_only.dir.chmod(0o755)  # the child makes it read-only itself, while it runs
    result = read_only.python(
        """
        import logging, os, sys
        from sqlite_logging_handler import SQLiteHandler, _transactions
        _transactions.RETRY_FOR = 0.3
        db = sys.argv[1]
        handler = SQLiteHandler(db)
        log = logging.getLogger("app")
        log.addHandler(handler)
        log.warning("written")
        assert handler.flush()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        os.chmod(os.path.dirname(db), 0o555)
        log.warning("cannot be written")
        print(handler.flush(timeout=30), handler.stats()["failed"])
        handler.close()
        """,
        str(read_only.dir / "app.db"),
    )
    read_only.dir.chmod(0o755)
    assert result.stdout.split() == ["False", "1"], result.stderr
    assert "is not writable, so the file cannot be created" in result.stderr


def test_a_missing_directory_is_named_and_not_created(tmp_path):
    with pytest.raises(SQLiteLoggingError) as info:
        SQLiteHandler(tmp_path / "missing" / "deeper" / "app.db")
    assert f"the directory {str(tmp_path / 'missing')!r} does not exist" in str(info.value)
    assert not (tmp_path / "missing").exists()


def test_a_file_in_the_way_of_the_directory_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SQLiteLoggingError, match="is not a directory"):
        SQLiteHandler(blocker / "app.db")


# -- 14.9: an application's database is not an old log database ----------------------------------


def application_database(path: Path, user_version: int = 0) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.execute(f"PRAGMA user_version = {user_version}")
    conn.commit()
    conn.close()


def layout(path: Path) -> list[tuple[object, ...]]:
    return [tuple(r) for r in rows(path, "SELECT type, name, sql FROM sqlite_master")] + [
        (rows(path, "PRAGMA user_version")[0][0],)
    ]


@pytest.mark.parametrize("user_version", [0, 3])
def test_readers_say_an_application_database_has_no_log_tables(tmp_path, user_version):
    path = tmp_path / "app.db"
    application_database(path, user_version)
    before = layout(path)
    with pytest.raises(SQLiteLoggingError, match="has no log tables") as info:
        LogStore(path)
    assert not isinstance(info.value, SchemaVersionError)
    for command in (["stats"], ["tail"], ["upgrade"], ["prune", "--keep-rows", "1"], ["vacuum"]):
        result = sqlite_logs("--db", str(path), *command)
        assert result.returncode == 1, command
        assert "has no log tables" in result.stderr, (command, result.stderr)
        assert "schema version" not in result.stderr
    assert layout(path) == before  # nothing was added or changed


def test_an_empty_database_has_no_log_tables_for_readers(tmp_path):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    with pytest.raises(SQLiteLoggingError, match="has no log tables"):
        LogStore(path)


@pytest.mark.parametrize("user_version", [1, 7])
def test_the_handler_leaves_an_applications_user_version_alone(tmp_path, user_version):
    path = tmp_path / "app.db"
    application_database(path, user_version)
    before = layout(path)
    with pytest.raises(SQLiteLoggingError, match=f"user_version is {user_version}"):
        SQLiteHandler(path)
    assert layout(path) == before


def test_upgrade_still_upgrades_a_seed_database(tmp_path):
    from .test_schema import make_seed_database

    path = tmp_path / "seed.db"
    make_seed_database(path)
    result = sqlite_logs("--db", str(path), "upgrade")
    assert result.returncode == 0, result.stderr
    assert "upgraded" in result.stdout
