"""``tail -f``/``-F`` when another log database is copied over the followed file (#15 UAT).

``cp other.db app.db`` keeps the file (same inode) and replaces its content. The rules:
a record of the new content is never printed before the note that the file has been
replaced, a record of the old content never after it, and no record twice within one
content. Each case runs ``sqlite-logs`` as a user does, with stdout and stderr in one
pipe so that the order of notes and records is the order the user sees.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from sqlite_logging_handler import LogStore, SQLiteHandler, maintenance
from sqlite_logging_handler.exceptions import SQLiteLoggingError

from ._follow import WAIT, Follower, write
from .conftest import make_logger, sqlite_logs

pytestmark = pytest.mark.slow
_SOON = 5.0  # seconds: "within about a second", with room for a loaded machine
_REPLACED = "has been replaced"


def checkpoint(db: Path) -> None:
    """Empty ``db``'s WAL into the file, as a writer's upkeep does (waits out readers)."""
    conn = sqlite3.connect(db, timeout=WAIT)
    try:
        for _ in range(400):
            if maintenance.checkpoint(conn, wait=0.1).complete:
                return
        pytest.fail(f"could not checkpoint {db}")
    finally:
        conn.close()


def caught_up(follower: Follower, db: Path, message: str, level: int = logging.WARNING) -> None:
    """Write ``message``, see it followed, empty the WAL, and let the follower look again.

    Then the follower's connection holds the file's pages as they are, as when it has
    been idle for a while: a copy now changes nothing SQLite shows it. The WAL is
    emptied as a restore over a WAL database needs (see ``cli/_follow_watch``). The
    wait is for looks of the follower's own, which nothing outside it shows.
    """
    write(db, message, level=level)
    assert follower.next() == message
    checkpoint(db)
    time.sleep(4 * 0.25)  # four of the follower's polls


@pytest.fixture
def app_db(tmp_path: Path) -> Path:
    db = tmp_path / "app.db"
    write(db, "app 0", "app 1", "app 2")
    return db


@pytest.fixture
def sources(tmp_path: Path, app_db: Path) -> dict[str, tuple[Path, str]]:
    """Files a user may copy over app.db, and the last record of each."""
    more = tmp_path / "other.db"  # another log database: more rows, other times
    write(more, *(f"other {n}" for n in range(50)))
    fewer = tmp_path / "fewer.db"  # another one, with fewer rows than app.db
    write(fewer, "fewer 0")
    older = tmp_path / "older.db"  # an older backup of app.db itself
    shutil.copyfile(app_db, older)
    conn = sqlite3.connect(older)
    with conn:
        conn.execute("DELETE FROM logs WHERE message = 'app 2'")
        conn.execute("UPDATE sqlite_sequence SET seq = 2 WHERE name = 'logs'")
    conn.close()
    walled = tmp_path / "walled.db"  # its last records still in its -wal: cp copies the rest
    write(walled, "walled 0")
    holder = sqlite3.connect(walled, isolation_level=None)
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    columns = ", ".join(r[1] for r in holder.execute("PRAGMA table_info(logs)") if r[1] != "id")
    copied = columns.replace("message", "'walled 1'")
    holder.execute(f"INSERT INTO logs ({columns}) SELECT {copied} FROM logs")  # in the WAL
    shutil.copyfile(walled, tmp_path / "walled-main.db")
    holder.close()
    made = tmp_path / "made.db"  # written by `sqlite-logs backup`, as a user may restore
    result = sqlite_logs("--db", str(more), "backup", str(made))
    assert result.returncode == 0, result.stderr
    return {
        "more": (more, "other 49"),
        "fewer": (fewer, "fewer 0"),
        "older": (older, "app 1"),
        "walled": (tmp_path / "walled-main.db", "walled 0"),
        "backup": (made, "other 49"),
    }


@pytest.mark.parametrize(
    ("source", "how"),
    [("more", "cp"), ("fewer", "cp"), ("older", "cp"), ("walled", "cp"), ("backup", "cp"),
     ("more", "sqlite-logs backup")],
)  # fmt: skip
@pytest.mark.parametrize("flag", ["-f", "-F"])
def test_content_copied_over_is_shown_soon_without_any_write(app_db, sources, flag, source, how):
    """``cp``, or a restore by ``sqlite-logs --db other.db backup app.db`` (in place)."""
    path, last = sources[source]
    follower = Follower(app_db, flag, "-n", "1", merged=True)
    try:
        assert follower.next() == "app 2"
        caught_up(follower, app_db, "app 3")
        if how == "cp":
            inode = app_db.stat().st_ino
            shutil.copyfile(path, app_db)  # cp: the same file, another content
            assert app_db.stat().st_ino == inode
        else:  # through SQLite, in place
            result = sqlite_logs("--db", str(path), "backup", str(app_db))
            assert result.returncode == 0, result.stderr
        assert _REPLACED in follower.next(timeout=_SOON)
        assert follower.next() == last  # the new content's last -n
        write(app_db, "after the copy")
        assert follower.next() == "after the copy"
    finally:
        assert follower.unread() == []


@pytest.mark.parametrize("flag", ["-f", "-F"])
def test_with_a_filter_the_new_content_is_shown_soon(app_db, tmp_path, flag):
    write(app_db, "app error", level=logging.ERROR)
    write(app_db, "app warning")
    other = tmp_path / "other.db"
    write(other, "other error", level=logging.ERROR)
    write(other, *(f"other {n}" for n in range(30)))
    follower = Follower(app_db, flag, "-n", "1", "--level", "ERROR", merged=True)
    try:
        assert follower.next() == "app error"
        caught_up(follower, app_db, "app error 2", logging.ERROR)
        shutil.copyfile(other, app_db)
        assert _REPLACED in follower.next(timeout=_SOON)
        assert follower.next() == "other error"
        write(app_db, "a warning, not shown")
        write(app_db, "after the copy", level=logging.ERROR)
        assert follower.next() == "after the copy"
    finally:
        assert follower.unread() == []


@pytest.mark.parametrize("how", ["cp", "backup"])
@pytest.mark.parametrize("flag", ["-f", "-F"])
def test_copies_followed_by_writes_never_show_a_record_under_the_wrong_content(
    app_db, sources, flag, how
):
    """Copies, each followed at once by a write, many times: the follower races them all.

    The write lands before or after the follower notices the copy; either way the note
    comes first, then the new content's last record (the copy's, or the one written),
    then the one written if it was not that. ``cp`` leaves SQLite's shared memory with
    the old page count until the follower has looked (docs/cli.md), so the write waits
    until a handler can open the file; ``sqlite-logs backup`` onto the file (SQLite's
    backup API, in place) can be written to at once.
    """
    contents = [sources["more"], sources["older"]]  # every copy changes the content
    follower = Follower(app_db, flag, "-n", "1", merged=True)
    try:
        assert follower.next() == "app 2"
        for turn in range(25):
            path, last = contents[turn % 2]
            if how == "cp":
                checkpoint(app_db)  # the WAL into the file first: a clean copy over it
                shutil.copyfile(path, app_db)
            else:
                with LogStore(path) as store:
                    store.backup(app_db)
            written = f"written after copy {turn}"
            write_when_readable(app_db, written)
            seen = follower.until(written)
            assert _REPLACED in seen[0], seen
            assert seen[1:] in ([last, written], [written]), seen
    finally:
        assert follower.unread() == []


def write_when_readable(db: Path, message: str) -> None:
    """``write``, once a handler can open ``db`` (see the test above)."""
    for _ in range(400):
        try:
            write(db, message)
            return
        except SQLiteLoggingError as exc:
            if "malformed" not in str(exc):
                raise
            time.sleep(0.05)  # until the follower's look rebuilds SQLite's shared memory
    pytest.fail(f"{db} stayed unreadable")


@pytest.mark.parametrize("flag", ["-f", "-F"])
def test_a_writer_with_checkpoints_is_followed_without_a_false_alarm(app_db, flag):
    """The application's own writes and checkpoints change the file too: not a copy."""
    follower = Follower(app_db, flag, "-n", "1", merged=True)
    handler = SQLiteHandler(app_db)
    try:
        assert follower.next() == "app 2"
        log = make_logger(handler)
        for n in range(300):
            log.warning("steady %d", n)
            if n % 10 == 9:
                handler.flush()
                checkpoint(app_db)
        handler.close()
        assert follower.until("steady 299") == [f"steady {n}" for n in range(300)]
    finally:
        handler.close()
        assert follower.unread() == []


def test_a_copy_sqlite_cannot_read_ends_tail_f_saying_why(app_db, sources):
    """A copy over a file whose WAL still holds frames (docs/cli.md): not silence."""
    follower = Follower(app_db, "-f", "-n", "1", merged=True)
    try:
        assert follower.next() == "app 2"
        write(app_db, "app 3")  # its frames stay in the WAL: the follower has it open
        assert follower.next() == "app 3"
        shutil.copyfile(sources["more"][0], app_db)
        said = follower.next(timeout=_SOON)
        if said.startswith("sqlite-logs: error:"):
            assert said.startswith(
                f"sqlite-logs: error: {str(app_db)!r} has been replaced in place by a file "
                "that cannot be read as a log database ("
            ), said
            assert follower.process.wait(timeout=WAIT) == 1
        else:  # SQLite read the pair as a database after all
            assert _REPLACED in said, said
            assert not follower.next().startswith("app "), "a record of the old content"
    finally:
        follower.stop()
