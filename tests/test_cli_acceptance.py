"""#15 acceptance findings on ``sqlite-logs``, each tested as the whole class it is one case of.

Help texts state what the commands really do, errors are one line, bounds and times
say what is accepted, colour follows one rule. Each runs ``sqlite-logs`` as a user
does (a subprocess, or ``main()``), on real databases.
"""

from __future__ import annotations

import argparse
import re
import subprocess

import pytest

from sqlite_logging_handler import MetricsAdapter, SQLiteHandler
from sqlite_logging_handler.cli import _parser

from .conftest import PYTHON, child_env, make_logger

pytestmark = pytest.mark.slow

_COMMANDS = (
    ["tail"], ["query"], ["stats"], ["metrics"], ["export"], ["report", "-o", "-"],
    ["prune", "--keep-rows", "1"], ["backup", "copy.db"], ["vacuum"], ["upgrade"],
)  # fmt: skip


def sqlite_logs(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    environment = child_env()
    environment.pop("SQLITE_LOGS_DB", None)
    environment.update(env or {})
    return subprocess.run(
        [PYTHON, "-m", "sqlite_logging_handler", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


@pytest.fixture
def app_db(db_path):
    """A few records and metric values, as an application leaves them."""
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.info("cart opened", extra={"user_id": 7})
    log.error("payment failed")
    MetricsAdapter(log).record("db_query", 12.5, "ms")
    handler.close()
    return db_path


def _parsers(parser: argparse.ArgumentParser, name: str = "sqlite-logs"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- 1. every default a help text states is what the command does ------------------------


def test_every_option_with_a_default_states_it_in_its_help():
    """Each default the parser holds is in the help, as "default: VALUE", and no other."""
    checked = 0
    for name, parser in _parsers(_parser()):
        for action in parser._actions:
            stated = re.findall(r"default: ([^;,)\s]+)", action.help or "")
            default = action.default
            if default in (None, argparse.SUPPRESS, False, True, []) or action.help is None:
                continue
            if isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            assert stated == [_shown(default)], (name, action.option_strings, action.help)
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize("command", _COMMANDS, ids=lambda c: c[0])
def test_the_default_database_in_help_is_the_one_used(command, tmp_path):
    helped = sqlite_logs(command[0], "--help")
    assert "(default: $SQLITE_LOGS_DB, else logs.db)" in " ".join(helped.stdout.split())
    plain = sqlite_logs(*command, cwd=tmp_path)
    assert "no log database at 'logs.db'" in plain.stderr
    named = sqlite_logs(*command, cwd=tmp_path, env={"SQLITE_LOGS_DB": "env.db"})
    assert "no log database at 'env.db'" in named.stderr


def test_the_demo_writes_the_database_its_help_names(tmp_path):
    helped = " ".join(sqlite_logs("demo", "--help").stdout.split())
    stated = re.search(r"--db PATH the database to write \(default: (\S+) ", helped)
    assert stated is not None, helped
    env = {"SQLITE_LOGS_DB": str(tmp_path / "real.db")}
    ran = sqlite_logs("demo", "--threads", "1", "--duration", "0.2", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / stated[1]).is_file()
    assert not (tmp_path / "real.db").exists()


def test_the_ship_database_default_is_stated_too():
    for kind in ("otlp", "postgres"):
        helped = " ".join(sqlite_logs("ship", kind, "--help").stdout.split())
        assert "--db PATH the log database (default: $SQLITE_LOGS_DB, else logs.db)" in helped


# -- 3. every error is one line, usage errors exit 2, without a usage dump ----------------


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["query", "--since", "bogus"], "query"),  # a bad value
        (["query", "--bogus"], "query"),  # an unknown option
        (["--bogus", "stats"], "stats"),
        (["tail", "-n"], "tail"),  # a missing value
        (["backup"], "backup"),  # a missing argument
        (["export", "--format", "xml"], "export"),  # a bad choice
        (["metrics", "--buckets", "many"], "metrics"),  # a bad number
        (["query", "--json", "--csv"], "query"),  # options that exclude each other
        (["query", "--l", "5"], "query"),  # an ambiguous abbreviation
        (["query", "--until", "2h", "--since", "1h"], "query"),  # an empty time range
        (["prune"], "prune"),
        (["export", "metrics", "--level", "INFO"], "export"),
        (["ship"], "ship"),
        (["ship", "otlp"], "ship otlp"),
        (["ship", "otlp", "http://x", "--batch-size", "0"], "ship otlp"),
        (["frobnicate"], ""),
        ([], ""),
    ],
)
def test_a_usage_error_is_one_line_and_exits_2(args, command, app_db):
    result = sqlite_logs("--db", str(app_db), *args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "usage:" not in result.stderr
    hint = " ".join(["sqlite-logs", command, "--help"]).replace("  ", " ")
    assert result.stderr.startswith("sqlite-logs: error: "), result.stderr
    assert result.stderr.endswith(f" (see: {hint})\n"), result.stderr


def test_a_runtime_error_is_one_line_and_exits_1(tmp_path):
    result = sqlite_logs("--db", str(tmp_path / "none.db"), "stats")
    assert result.returncode == 1
    assert result.stderr.startswith("sqlite-logs: error: ") and result.stderr.count("\n") == 1
