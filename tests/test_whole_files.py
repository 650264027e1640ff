"""Files a command writes are whole or absent (#15): never half a backup, export or report.

``backup``, ``export -o`` and ``report -o`` write a temporary file beside the
destination and rename it into place when it is complete. Interrupted (SIGINT,
SIGTERM) or failing mid-way (a file size limit, as a full disk), they leave nothing
where there was nothing, and an existing destination as it was. Real processes, real
signals, a database big enough that the copy takes a while.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sqlite_logging_handler import LogStore, SQLiteHandler, SQLiteLoggingError

from .conftest import PYTHON, child_env, doubled_log_database, make_logger

pytestmark = pytest.mark.slow

_DOUBLINGS = 18  # 262,144 log rows, about 180 MB: a backup takes a good fraction of a second


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log database of 262,144 rows (one logged record, doubled with SQL)."""
    path = tmp_path_factory.mktemp("big") / "big.db"
    doubled_log_database(path, _DOUBLINGS)
    return path


def _start(*args: str, limit: int | None = None) -> subprocess.Popen[str]:
    """``sqlite-logs ARGS`` as a child process; ``limit``: its largest file, in bytes."""

    def limited() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.Popen(
        [PYTHON, "-m", "sqlite_logging_handler", *args],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limited,
    )


def _shell_status(code: int) -> int:
    """The exit status a shell reports: 128+N for a process signal N ended."""
    return 128 - code if code < 0 else code


def _wait_for_new_file(folder: Path, before: set[str], process: subprocess.Popen[str]) -> None:
    """Poll until a file appears in ``folder`` (the command started writing)."""
    deadline = time.monotonic() + 60
    while not set(os.listdir(folder)) - before:
        assert process.poll() is None, f"ended before writing: {process.communicate()}"
        assert time.monotonic() < deadline, "no file appeared within 60 s"
        time.sleep(0.001)


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file in ``folder`` with a digest of its content."""
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in sorted(os.listdir(folder))
    }


def _older_backup(destination: Path) -> None:
    """An older, small log database at ``destination`` (a backup may replace it)."""
    handler = SQLiteHandler(str(destination))
    handler.close()


_SIGNALS = [
    pytest.param(signal.SIGINT, 130, id="SIGINT"),
    pytest.param(signal.SIGTERM, 143, id="SIGTERM"),
]


def _interrupted(
    command: Callable[[Path], list[str]],
    folder: Path,
    destination: Path,
    signum: int,
) -> subprocess.Popen[str]:
    before = set(os.listdir(folder))
    process = _start(*command(destination))
    try:
        _wait_for_new_file(folder, before, process)
        assert process.poll() is None, "the command ended before the signal was sent"
        process.send_signal(signum)
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process


@pytest.mark.parametrize(("signum", "status"), _SIGNALS)
@pytest.mark.parametrize("existing", [False, True], ids=["new", "over-an-older-backup"])
def test_an_interrupted_backup_leaves_nothing_and_an_older_backup_as_it_was(
    big_db: Path, tmp_path: Path, signum: int, status: int, existing: bool
) -> None:
    destination = tmp_path / "bk.db"
    if existing:
        _older_backup(destination)
    before = _snapshot(tmp_path)

    def command(target: Path) -> list[str]:
        return ["--db", str(big_db), "backup", str(target)]

    process = _interrupted(command, tmp_path, destination, signum)
    assert _shell_status(process.returncode) == status
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(("signum", "status"), _SIGNALS)
def test_an_interrupted_export_leaves_the_previous_export_as_it_was(
    big_db: Path, tmp_path: Path, signum: int, status: int
) -> None:
    destination = tmp_path / "out.jsonl"
    destination.write_text('{"previous": "export"}\n')
    before = _snapshot(tmp_path)

    def command(target: Path) -> list[str]:
        return ["--db", str(big_db), "export", "-o", str(target)]

    process = _interrupted(command, tmp_path, destination, signum)
    assert _shell_status(process.returncode) == status
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "command",
    [
        ["backup", "{out}"],
        ["export", "-o", "{out}"],
        ["export", "--format", "csv", "-o", "{out}"],
    ],
    ids=["backup", "export", "export-csv"],
)
def test_a_write_failing_mid_way_leaves_the_destination_as_it_was(
    big_db: Path, tmp_path: Path, command: list[str]
) -> None:
    """A file size limit (EFBIG, as a full disk's ENOSPC) stops the write half-way.

    (``report -o`` writes through the same code as ``export -o``; its page is too small
    for a limit that still lets SQLite open the database's 32 KB shared-memory file.)
    """
    destination = tmp_path / "out"
    if command[0] == "backup":
        _older_backup(destination)
    else:
        destination.write_text("the previous file\n")
    before = _snapshot(tmp_path)
    args = [part.format(out=destination) for part in command]
    process = _start("--db", str(big_db), *args, limit=64 * 1024)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    assert stderr.startswith("sqlite-logs: error: ") and str(destination) in stderr
    assert _snapshot(tmp_path) == before


def test_outputs_that_are_not_regular_files_are_written_directly(big_db: Path) -> None:
    process = _start("--db", str(big_db), "report", "-o", os.devnull)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert not Path(os.devnull).is_file() and Path(os.devnull).exists()


def _logged(database: Path, message: str) -> None:
    handler = SQLiteHandler(str(database))
    make_logger(handler).warning(message)
    handler.close()


def test_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    database = tmp_path / "logs.db"
    _logged(database, "through the link")
    target = tmp_path / "exports" / "latest.jsonl"
    target.parent.mkdir()
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "latest.jsonl"
    link.symlink_to(target)
    process = _start("--db", str(database), "export", "-o", str(link))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert link.is_symlink() and "through the link" in target.read_text()
    assert target.stat().st_mode & 0o777 == 0o640  # the replaced file keeps its mode
    assert sorted(os.listdir(target.parent)) == ["latest.jsonl"]


def test_log_store_backup_interrupted_leaves_nothing(big_db: Path, tmp_path: Path) -> None:
    """Ctrl-C during ``LogStore.backup(progress=...)``: raised in its progress call."""
    destination = tmp_path / "bk.db"
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 3:
            raise KeyboardInterrupt

    with LogStore(str(big_db)) as store, pytest.raises(KeyboardInterrupt):
        store.backup(destination, progress=progress)
    assert os.listdir(tmp_path) == []
    _older_backup(destination)
    before = _snapshot(tmp_path)
    calls.clear()
    with LogStore(str(big_db)) as store, pytest.raises(KeyboardInterrupt):
        store.backup(destination, progress=progress)
    assert _snapshot(tmp_path) == before
    with LogStore(str(big_db)) as store:
        store.backup(destination)
    with LogStore(str(destination)) as copy:
        assert copy.count_logs() == 2**_DOUBLINGS


def test_log_store_backup_into_a_missing_directory_names_it(tmp_path: Path) -> None:
    database = tmp_path / "logs.db"
    SQLiteHandler(str(database)).close()
    with LogStore(str(database)) as store, pytest.raises(SQLiteLoggingError, match="no directory"):
        store.backup(tmp_path / "missing" / "bk.db")
    assert sorted(os.listdir(tmp_path)) == ["logs.db"]
