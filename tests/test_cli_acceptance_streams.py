"""#15 acceptance findings on ``sqlite-logs``, each tested as the whole class it is one case of.

Paths that are no good, closed pipes, colour.
Each runs ``sqlite-logs`` as a user does (a subprocess, or ``main()``), on real databases.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from ._cli_acceptance import make_app_db, sqlite_logs
from .conftest import PYTHON, child_env
from .test_hostile_reading import Terminal

pytestmark = pytest.mark.slow


@pytest.fixture
def app_db(db_path):
    """A few records and metric values, as an application leaves them."""
    return make_app_db(db_path)


# -- 8. every path a user gives that is no good is named, with what is wrong -------------

_READERS = [
    ["stats"], ["query"], ["tail"], ["tail", "-f"], ["metrics"], ["export"],
    ["report", "-o", "-"], ["prune", "--keep-rows", "1"], ["vacuum"], ["upgrade"],
    ["backup", "copy.db"], ["ship", "--status"],
]  # fmt: skip


def _bad_databases(tmp_path, app_db):
    (tmp_path / "junk.txt").write_text("not a database\n")
    (tmp_path / "empty.db").write_bytes(b"")
    return {
        str(tmp_path): "it is a directory",
        str(tmp_path / "no" / "x.db"): re.escape(f"there is no directory '{tmp_path / 'no'}'"),
        str(app_db / "x.db"): re.escape(f"'{app_db}' is a file, not a directory"),
        str(tmp_path / "junk.txt"): "(file is not a database|is not an SQLite database)",
        str(tmp_path / "empty.db"): "has no log tables",
    }


@pytest.mark.parametrize("command", _READERS, ids=" ".join)
def test_a_bad_database_path_is_named_with_what_is_wrong(command, app_db, tmp_path):
    for path, wrong in _bad_databases(tmp_path, app_db).items():
        result = sqlite_logs("--db", path, *command, cwd=tmp_path)
        assert result.returncode == 1, (path, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert f"'{path}'" in result.stderr or f"'{os.path.basename(path)}'" in result.stderr
        assert re.search(wrong, result.stderr), (path, result.stderr)


def test_an_empty_database_path_is_refused(app_db):
    result = sqlite_logs("--db", "", "stats", env={"SQLITE_LOGS_DB": str(app_db)})
    assert result.returncode == 1
    assert result.stderr == "sqlite-logs: error: --db '': give the database's path\n"


@pytest.mark.parametrize(
    "command",
    [["export", "-o"], ["report", "-o"], ["backup"], ["demo", "--duration", "0.1", "--db"]],
)
def test_a_bad_output_path_is_named_with_what_is_wrong(command, app_db, tmp_path):
    for path, wrong in {
        str(tmp_path): "it is a directory",
        str(tmp_path / "no" / "x.db"): f"'{tmp_path / 'no'}'",
        str(app_db / "x.db"): f"'{app_db}' is not a directory",
    }.items():
        result = sqlite_logs("--db", str(app_db), *command, path, cwd=tmp_path)
        assert result.returncode == 1, (path, result.stderr)
        assert result.stderr.count("\n") == 1, result.stderr
        assert f"'{path}'" in result.stderr, result.stderr
        assert wrong in result.stderr or "a part of the path is a file" in result.stderr, (
            result.stderr
        )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_database_is_named(app_db):
    app_db.chmod(0)
    try:
        result = sqlite_logs("--db", str(app_db), "stats")
    finally:
        app_db.chmod(0o644)
    assert result.returncode == 1
    assert result.stderr == f"sqlite-logs: error: cannot read '{app_db}': permission denied\n"


# -- 9. a reader that goes away ends every command the same way -------------------------

_WRITERS = [
    ["tail"], ["tail", "-f"], ["query"], ["query", "--json"], ["query", "--csv"], ["stats"],
    ["metrics"], ["metrics", "--json"], ["metrics", "--csv"], ["metrics", "--plot"],
    ["export"], ["export", "--format", "csv"], ["export", "metrics", "--format", "json"],
    ["report", "-o", "-"], ["backup", "-"], ["ship", "--status"], ["prune", "--keep-rows", "9"],
    ["vacuum"], ["upgrade"], ["demo", "--duration", "0.2", "--threads", "1", "--db", "demo.db"],
]  # fmt: skip


def _closed_pipe(args: list[str], stream: str, cwd) -> subprocess.CompletedProcess[bytes]:
    """Run with ``stream`` (stdout or stderr) a pipe whose reader has gone."""
    read, write = os.pipe()
    os.close(read)
    other = subprocess.PIPE
    try:
        return subprocess.run(
            [PYTHON, "-m", "sqlite_logging_handler", *args],
            env=child_env(),
            stdout=write if stream == "stdout" else other,
            stderr=write if stream == "stderr" else other,
            cwd=cwd,
            timeout=120,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize("command", _WRITERS, ids=" ".join)
def test_every_command_ends_with_141_quietly_when_stdout_is_gone(command, app_db, tmp_path):
    result = _closed_pipe(["--db", str(app_db), *command], "stdout", tmp_path)
    assert result.returncode == 141
    assert result.stderr == b""


@pytest.mark.parametrize("follow", ["-f", "-F"])
def test_a_follower_ends_as_soon_as_its_reader_has_gone(follow, app_db, tmp_path):
    """``tail -f | head -1`` ends when head has gone, not when the next record comes.

    As GNU ``tail -f``: no record is written after the reader closes its end.
    """
    read, write = os.pipe()
    process = subprocess.Popen(
        [PYTHON, "-m", "sqlite_logging_handler", "--db", str(app_db), "tail", follow, "-n", "1"],
        env=child_env(),
        stdout=write,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    os.close(write)
    try:
        with os.fdopen(read, "rb") as reader:
            assert b"payment failed" in reader.readline()  # head -1 reads its line, then goes
        assert process.wait(timeout=60) == 141
        assert process.communicate()[1] == b""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("command", "written", "whole"),
    [
        (["export", "-o", "out.jsonl"], "out.jsonl", "payment failed"),
        (["export", "metrics", "-o", "m.csv", "--format", "csv"], "m.csv", "db_query"),
    ],
)
def test_a_line_on_a_closed_stderr_ends_as_one_on_stdout(command, written, whole, app_db, tmp_path):
    result = _closed_pipe(["--db", str(app_db), *command], "stderr", tmp_path)
    assert result.returncode == 141
    assert result.stdout == b""
    # ``export -o f 2>&1 | head -0``: the file was complete before the line about it.
    assert whole in (tmp_path / written).read_text()
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    ("command", "written"),
    [(["report", "-o", "r.html"], "r.html"), (["backup", "copy.db"], "copy.db")],
)
def test_a_file_complete_before_stdout_closed_is_kept(command, written, app_db, tmp_path):
    """``report -o r.html | head -0``: the "wrote" line fails, the page stays, as export's."""
    result = _closed_pipe(["--db", str(app_db), *command], "stdout", tmp_path)
    assert result.returncode == 141
    assert (tmp_path / written).stat().st_size > 0


@pytest.mark.parametrize(
    ("command", "status"),
    [
        (["query", "--since", "bogus"], 2),
        (["query", "--bogus"], 2),
        (["metrics", "no-such-metric"], 1),
        (["--db", "missing.db", "stats"], 1),
    ],
)
def test_an_error_on_a_closed_stderr_keeps_its_status(command, status, app_db, tmp_path):
    result = _closed_pipe(["--db", str(app_db), *command], "stderr", tmp_path)
    assert result.returncode == status
    assert result.stdout == b""


# -- 10. colour follows one rule: --color, $NO_COLOR, $FORCE_COLOR, the terminal --------


def _on_a_terminal(args: list[str], env: dict[str, str]) -> bytes:
    """What ``sqlite-logs`` writes to stdout when it is a terminal (raw mode)."""
    environment = child_env()
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        environment.pop(name, None)
    code, output, _ = Terminal(*args, env={**environment, **env}).finish()
    assert code == 0
    return output


@pytest.mark.parametrize(
    ("terminal", "options", "env", "coloured"),
    [
        (True, [], {}, True),
        (True, [], {"NO_COLOR": "1"}, False),
        (True, [], {"NO_COLOR": ""}, True),  # set but empty: as if not set
        (True, [], {"TERM": "dumb"}, False),
        (True, ["--color", "never"], {}, False),
        (True, ["--color=always"], {"NO_COLOR": "1"}, True),  # the command line decides
        (False, [], {}, False),
        (False, [], {"FORCE_COLOR": "1"}, True),
        (False, [], {"FORCE_COLOR": "0"}, False),
        (False, [], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
        (False, ["--colour", "always"], {}, True),
    ],
)
def test_colour_follows_one_rule(app_db, terminal, options, env, coloured):
    args = ["--db", str(app_db), "tail", *options]
    if terminal:
        output = _on_a_terminal(args, env)
    else:
        output = sqlite_logs(*args, env={"NO_COLOR": "", "FORCE_COLOR": "", **env}).stdout.encode()
    assert b"payment failed" in output
    assert (b"\x1b[31m" in output) is coloured, output


def test_colour_is_the_same_rule_before_and_after_the_command(app_db):
    before = sqlite_logs("--db", str(app_db), "--color", "always", "tail").stdout
    after = sqlite_logs("--db", str(app_db), "tail", "--color", "always").stdout
    assert before == after and "\x1b[31m" in before
