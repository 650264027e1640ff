"""Upgrades say how far they are; missing fields are shown alike, never as "None" (#15).

``upgrade`` on a terminal shows rows filled in and indexes built, as ``export``,
``prune``, ``backup`` and ``vacuum`` show theirs (``label: done of total unit
(percent), elapsed``). Every row the command line prints shows a field without a value
as ``-``, and a thread without a name (the seed's rows) by its id.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from sqlite_logging_handler import SQLiteHandler, schema
from sqlite_logging_handler._derived import BACKFILL_CHUNK

from .conftest import sqlite_logs
from .test_hostile_reading import Terminal
from .test_schema import make_seed_database

pytestmark = pytest.mark.slow


def _big_seed(path: Path, doublings: int = 16) -> int:
    """A database in the seed's layout with 2**(doublings+1) log rows; returns the rows."""
    make_seed_database(path)
    conn = sqlite3.connect(path)
    columns = "timestamp, level, thread_id, module, message, extra_data"
    for _ in range(doublings):
        conn.execute(f"INSERT INTO logs ({columns}) SELECT {columns} FROM logs")
        conn.commit()
    total = int(
        conn.execute(
            "SELECT (SELECT COUNT(*) FROM logs) + (SELECT COUNT(*) FROM metrics)"
        ).fetchone()[0]
    )
    conn.close()
    return total


def test_ensure_schema_reports_rows_filled_in_then_indexes_built(tmp_path: Path) -> None:
    path = tmp_path / "seed.db"
    total = _big_seed(path)
    assert total > 2 * BACKFILL_CHUNK
    calls: list[tuple[str, int, int]] = []
    conn = sqlite3.connect(path, isolation_level=None)
    schema.ensure_schema(conn, lambda what, done, all_: calls.append((what, done, all_)))
    conn.close()
    rows = [call for call in calls if call[0] == "rows"]
    indexes = [call for call in calls if call[0] == "indexes"]
    assert calls == rows + indexes
    assert len(rows) >= total // BACKFILL_CHUNK and rows[-1] == ("rows", total, total)
    assert [done for _, done, _ in rows] == sorted({done for _, done, _ in rows})
    assert indexes[-1][1] == indexes[-1][2] > 1


def test_upgrade_on_a_terminal_shows_rows_and_percent(tmp_path: Path) -> None:
    path = tmp_path / "seed.db"
    total = _big_seed(path)
    code, output, _ = Terminal("--db", str(path), "upgrade", stderr_on_terminal=True).finish()
    assert code == 0
    text = output.decode()
    assert f"upgrading: {BACKFILL_CHUNK:,} of {total:,} rows (" in text
    assert f"upgrading: {total:,} of {total:,} rows (100%)" in text
    assert "indexes (100%)" in text and "indexing: " in text
    assert f"upgraded {path} from schema version 0 to {schema.SCHEMA_VERSION}" in text


def test_upgraded_seed_rows_show_their_thread_id_and_no_none(tmp_path: Path) -> None:
    path = tmp_path / "seed.db"
    make_seed_database(path)
    assert sqlite_logs("--db", str(path), "upgrade").returncode == 0
    tail = sqlite_logs("--db", str(path), "tail", "-n", "5")
    assert tail.returncode == 0, tail.stderr
    assert "[42] seed info" in tail.stdout and "None" not in tail.stdout
    query = sqlite_logs("--db", str(path), "query")
    assert query.returncode == 0, query.stderr
    lines = query.stdout.splitlines()
    assert "None" not in query.stdout
    info = next(line for line in lines if "seed info" in line)
    assert info.split()[-4:] == ["42", "seed", "info", "-"]  # thread id; no extra: "-"
    stats = sqlite_logs("--db", str(path), "stats")
    assert stats.returncode == 0 and "None" not in stats.stdout


def test_a_row_written_by_hand_without_values_shows_dashes(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    SQLiteHandler(str(path)).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO logs (timestamp, level, module, message) "
        "VALUES ('2026-11-30 17:00:00.000', 'INFO', 'by-hand', 'no thread')"
    )
    conn.commit()
    conn.close()
    tail = sqlite_logs("--db", str(path), "tail", "-n", "1")
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout.rstrip().endswith("by-hand [-] no thread")
    query = sqlite_logs("--db", str(path), "query")
    assert "None" not in query.stdout
    row = next(line for line in query.stdout.splitlines() if "no thread" in line).split()
    assert row[row.index("by-hand") + 1] == "-"


def _logged_rows(path: Path, rows: int) -> None:
    """A handler's database with ``rows`` records of 300 characters or so."""
    handler = SQLiteHandler(str(path))
    handler.close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO logs (timestamp, level, module, message) "
        "VALUES ('2026-11-30 17:00:00.000', 'INFO', 'load', ?)",
        ("x" * 300,),
    )
    columns = "timestamp, level, module, message"
    while conn.execute("SELECT COUNT(*) FROM logs").fetchone()[0] < rows:
        conn.execute(f"INSERT INTO logs ({columns}) SELECT {columns} FROM logs")
    conn.commit()
    conn.close()


def test_prune_shows_the_free_pages_it_returns_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    _logged_rows(path, 30_000)
    terminal = Terminal("--db", str(path), "prune", "--keep-rows", "10", stderr_on_terminal=True)
    code, output, _ = terminal.finish()
    assert code == 0
    assert re.search(rb"returning free space: ([\d,]+) of \1 pages \(100%\)", output), output


def test_backup_to_stdout_shows_its_progress_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    _logged_rows(path, 30_000)
    copy = tmp_path / "copy.db"
    with open(copy, "wb") as out:
        terminal = Terminal("--db", str(path), "backup", "-", stdout=out, stderr_on_terminal=True)
        code, shown, _ = terminal.finish()
    assert code == 0
    assert re.search(rb"backing up: ([\d,]+) of \1 pages \(100%\)", shown), shown
    conn = sqlite3.connect(copy)
    assert conn.execute("SELECT COUNT(*) FROM logs").fetchone()[0] >= 30_000
    conn.close()
