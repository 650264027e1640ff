"""Issue 14.6: a handler that failed to construct leaves nothing registered.

A bad option raises one clear exception at construction. Nothing of the half-built
handler stays behind: not in logging's handler list (``logging.shutdown()`` at exit would
close it), not in logging's fork hooks, not in the package's own registries, no thread.
"""

from __future__ import annotations

import gc
import json
import logging
import logging.config
import os
import threading

import pytest

from sqlite_logging_handler import SQLiteHandler, SQLiteLoggingError

from .conftest import PYTHON, child_env

BAD_OPTIONS = [
    pytest.param({"level": "LOUD"}, ValueError, id="level"),
    pytest.param({"batch_size": 0}, ValueError, id="batch_size"),
    pytest.param({"batch_size": "500"}, TypeError, id="batch_size-type"),
    pytest.param({"flush_interval": -1}, ValueError, id="flush_interval"),
    pytest.param({"queue_size": 0}, ValueError, id="queue_size"),
    pytest.param({"overflow": "discard"}, ValueError, id="overflow"),
    pytest.param({"pragmas": {"journal_mode": "WAL; DROP TABLE logs"}}, ValueError, id="pragmas"),
    pytest.param({"retention": "forever"}, ValueError, id="retention"),
    pytest.param({"max_rows": -1}, ValueError, id="max_rows"),
    pytest.param({"full_text": "yes"}, TypeError, id="full_text"),
    pytest.param({"writer": "fork"}, ValueError, id="writer"),
    pytest.param({"database": 42}, TypeError, id="database-type"),
    pytest.param({"database": "DIRECTORY"}, SQLiteLoggingError, id="database-directory"),
    pytest.param({"database": "NOT_SQLITE"}, SQLiteLoggingError, id="database-not-sqlite"),
]


def _options(kwargs: dict[str, object], tmp_path) -> dict[str, object]:
    options = {"database": str(tmp_path / "app.db"), **kwargs}
    if options["database"] == "DIRECTORY":
        options["database"] = str(tmp_path)
    elif options["database"] == "NOT_SQLITE":
        path = tmp_path / "notes.txt"
        path.write_text("not a database, " * 100)
        options["database"] = str(path)
    return options


def _registered() -> list[object]:
    """Every SQLiteHandler logging knows of (its handler list and its fork hooks)."""
    known = [ref() for ref in logging._handlerList]  # type: ignore[attr-defined]
    known += list(getattr(logging, "_at_fork_reinit_lock_weakset", ()))
    return [h for h in known if isinstance(h, SQLiteHandler)]


@pytest.mark.parametrize(("kwargs", "error"), BAD_OPTIONS)
def test_a_bad_option_leaves_nothing_registered(tmp_path, capsys, kwargs, error):
    gc.collect()
    before, threads = _registered(), threading.active_count()
    with pytest.raises(error) as caught:
        SQLiteHandler(**_options(kwargs, tmp_path))  # type: ignore[arg-type]
    # The traceback (which keeps the half-built handler alive) is still referenced here.
    assert caught.value is not None
    assert _registered() == before
    assert threading.active_count() == threads
    assert capsys.readouterr().err == ""


def test_bad_options_in_dictconfig_give_one_clear_error_and_nothing_at_exit(tmp_path):
    """The issue's case, for every option: no second traceback at exit, none after fork."""
    bad = [_options(p.values[0], tmp_path) for p in BAD_OPTIONS]  # type: ignore[arg-type]
    bad = [options for options in bad if "level" not in options]  # dictConfig sets it
    code = """
import json, logging.config, os, sys
failures = []
for options in json.loads(sys.argv[1]):
    config = {"version": 1, "handlers": {"db": {
        "class": "sqlite_logging_handler.SQLiteHandler", **options}},
        "root": {"handlers": ["db"], "level": "INFO"}}
    try:
        logging.config.dictConfig(config)
    except (ValueError, TypeError) as exc:
        failures.append(exc)  # kept alive until exit, tracebacks and all
pid = os.fork()  # logging's fork hooks run over every handler it knows
if pid == 0:
    os._exit(0)
assert os.waitpid(pid, 0)[1] == 0
print(len(failures))
"""
    import subprocess

    result = subprocess.run(
        [PYTHON, "-c", code, json.dumps(bad)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(bad))
    assert result.stderr == ""


def test_the_uncaught_error_is_the_only_traceback(tmp_path):
    code = """
import logging.config, sys
logging.config.dictConfig({"version": 1, "handlers": {"db": {
    "class": "sqlite_logging_handler.SQLiteHandler", "database": sys.argv[1],
    "overflow": "discard"}}, "root": {"handlers": ["db"]}})
"""
    import subprocess

    result = subprocess.run(
        [PYTHON, "-c", code, str(tmp_path / "app.db")],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    last = result.stderr.rstrip().splitlines()[-1]
    assert last == "ValueError: Unable to configure handler 'db'", result.stderr
    assert "overflow must be 'block' or 'drop', not 'discard'" in result.stderr
    assert "Exception ignored" not in result.stderr
    assert "AttributeError" not in result.stderr
    assert not os.path.exists(tmp_path / "app.db")
