"""Memory does not grow with the database: the writer gives its unused page cache back."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlite_logging_handler import SQLiteHandler, _timed

from .conftest import PYTHON, child_env, make_logger

SCRIPT = Path(__file__).parent / "scripts" / "log_for_memory.py"
RECORDS = 150_000  # about 90 MB of database: more than the default 64 MB cache


def peak_growth(db_path: Path, *args: str) -> float:
    """MiB the child's peak RSS grew from its first fifth of records to the end."""
    out = subprocess.run(
        [PYTHON, str(SCRIPT), str(db_path), str(RECORDS), *args],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    result = json.loads(out)
    assert result["rows"] == RECORDS
    peaks = result["peaks_mib"]
    return float(peaks[-1] - peaks[0])


def test_peak_memory_does_not_grow_with_the_database(tmp_path):
    """Measured: 0 to 3 MiB of growth with the release, about 50 MiB without it.

    In both modes: a writer process, faster than the thread writer, once grew 28 MiB
    when the cache was given back by the clock only (once a second).
    """
    released = peak_growth(tmp_path / "released.db")
    kept = peak_growth(tmp_path / "kept.db", "keep-cache")
    assert released < 20, (released, kept)
    assert kept > released + 20, (released, kept)  # the premise: the cache would grow


def test_releasing_memory_keeps_an_in_memory_database(monkeypatch):
    """``:memory:`` pages are the data: SQLite must not free them, every commit releasing."""
    monkeypatch.setattr(_timed, "RELEASE_MEMORY_EVERY", 0.0)
    handler = SQLiteHandler(":memory:", batch_size=100)
    try:
        log = make_logger(handler)
        expected = [f"record {i} {'x' * 500}" for i in range(5_000)]
        for message in expected:
            log.info(message)
        assert handler.flush(10)
        with handler.store() as store:
            stored = [row["message"] for row in store.sql("SELECT message FROM logs ORDER BY id")]
        assert handler.stats()["batches"] >= 50  # the premise: many commits, each releasing
    finally:
        handler.close()
    assert stored == expected
