"""#15 acceptance findings on ``sqlite-logs``, each tested as the whole class it is one case of.

Help texts state what the commands do, errors are one line, hints name flags,
bounds say what is accepted.
Each runs ``sqlite-logs`` as a user does (a subprocess, or ``main()``), on real databases.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re

import pytest

from sqlite_logging_handler import LogStore, SQLiteHandler
from sqlite_logging_handler.cli import _parser
from sqlite_logging_handler.exceptions import SQLiteLoggingError

from ._cli_acceptance import COMMANDS, help_default, make_app_db, parsers, sqlite_logs
from .conftest import REPO, make_logger

pytestmark = pytest.mark.slow


@pytest.fixture
def app_db(db_path):
    """A few records and metric values, as an application leaves them."""
    return make_app_db(db_path)


# -- 1. every default a help text states is what the command does ------------------------


def test_every_option_with_a_default_states_it_in_its_help():
    """Each default the parser holds is in the help, as "default: VALUE", and no other."""
    checked = 0
    for name, parser in parsers(_parser()):
        for action in parser._actions:
            stated = re.findall(r"default: ([^;,)\s]+)", action.help or "")
            default = action.default
            if default in (None, argparse.SUPPRESS, False, True, []) or action.help is None:
                continue
            if isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            assert stated == [help_default(default)], (name, action.option_strings, action.help)
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
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


@pytest.mark.parametrize(
    "args",
    [
        ["metrics", "--level", "ERROR"],
        ["metrics", "--min-level", "ERROR"],
        ["metrics", "--level=ERROR"],
        ["metrics", "db_query", "--min-level=40"],
    ],
)
def test_metrics_with_a_level_say_metrics_have_none(args, app_db):
    """Not "unrecognized arguments: --level" with ERROR taken for a metric's name."""
    result = sqlite_logs("--db", str(app_db), *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "sqlite-logs: error: metrics have no level: filter them by name (metrics NAME), "
        "--tag KEY=VALUE and --since/--until (see: sqlite-logs metrics --help)\n"
    )


@pytest.mark.parametrize("command", ["stats", "report", "prune", "backup", "vacuum"])
def test_a_command_without_levels_says_which_commands_take_them(command, app_db):
    result = sqlite_logs("--db", str(app_db), command, "--level", "ERROR")
    assert result.returncode == 2
    assert result.stderr == (
        f"sqlite-logs: error: {command} takes no --level: tail, query and export do "
        f"(see: sqlite-logs {command} --help)\n"
    )


def test_only_the_commands_the_docs_name_take_levels():
    """docs/cli.md says which commands take --level/--min-level; their help agrees."""
    takers = [
        name.removeprefix("sqlite-logs ")
        for name, parser in parsers(_parser())
        if "--level" in parser._option_string_actions
    ]
    assert takers == ["tail", "query", "export"]
    docs = (REPO / "docs" / "cli.md").read_text()
    assert "The\n  same in every subcommand" not in docs
    assert "`--level` and `--min-level` are taken by `tail`, `query` and `export` only" in docs


@pytest.mark.parametrize(
    ("args", "option", "meant"),
    [
        (["--bd", "APP", "stats"], "--bd", " (did you mean --db?)"),
        (["-db", "APP", "stats"], "-db", " (did you mean --db?)"),
        (
            ["--utc", "--colr", "never", "--db", "APP", "stats"],
            "--colr",
            " (did you mean --color?)",
        ),
        (["--frobnicate", "x", "stats"], "--frobnicate", ""),
    ],
)
def test_an_unknown_option_before_the_command_is_named_not_taken_for_one(
    args, option, meant, app_db
):
    """``--bd app.db stats``: not "invalid choice: 'app.db'" for COMMAND (as git --bd)."""
    result = sqlite_logs(*[str(app_db) if arg == "APP" else arg for arg in args])
    assert result.returncode == 2
    assert result.stderr == (
        f"sqlite-logs: error: unrecognized option '{option}'{meant} (see: sqlite-logs --help)\n"
    )


@pytest.mark.parametrize(
    ("args", "unknown", "meant"),
    [
        (["query", "--bd", "x"], "--bd x", " (did you mean --db?)"),
        (["tail", "--folow"], "--folow", " (did you mean --follow?)"),
        (["query", "--sinse", "1h"], "--sinse 1h", " (did you mean --since?)"),
        (["ship", "otlp", "http://127.0.0.1:9", "--retry-fr", "1h"], "--retry-fr 1h",
         " (did you mean --retry-for?)"),
        (["query", "--frobnicate"], "--frobnicate", ""),
    ],
)  # fmt: skip
def test_an_unknown_option_after_the_command_says_which_was_meant(args, unknown, meant, app_db):
    """The same hint as before the command (``--db`` works in both places)."""
    result = sqlite_logs("--db", str(app_db), *args)
    assert result.returncode == 2
    command = " ".join(args[:2] if args[0] == "ship" else args[:1])
    assert result.stderr == (
        f"sqlite-logs: error: unrecognized arguments: {unknown}{meant} "
        f"(see: sqlite-logs {command} --help)\n"
    )


def test_a_runtime_error_is_one_line_and_exits_1(tmp_path):
    result = sqlite_logs("--db", str(tmp_path / "none.db"), "stats")
    assert result.returncode == 1
    assert result.stderr.startswith("sqlite-logs: error: ") and result.stderr.count("\n") == 1


# -- 5. a hint on the command line names the flag, not the Python keyword ---------------


@pytest.fixture
def fts_db(tmp_path):
    handler = SQLiteHandler(tmp_path / "fts.db", full_text=True)
    make_logger(handler).warning("user logged-in")
    handler.close()
    return tmp_path / "fts.db"


@pytest.mark.parametrize("command", ["query", "tail", "export"])
def test_full_text_hints_name_the_command_line_flags(command, app_db, fts_db):
    no_index = sqlite_logs("--db", str(app_db), command, "--search", "payment")
    assert no_index.returncode == 1
    assert no_index.stderr.endswith("or use --contains TEXT for a substring\n"), no_index.stderr
    malformed = sqlite_logs("--db", str(fts_db), command, "--match", "logged AND")
    assert malformed.returncode == 2
    assert "(to search for the words as written: --search 'logged AND')" in malformed.stderr
    for result in (no_index, malformed):
        assert not re.search(r"\w=", result.stderr.replace("full_text=True", "")), result.stderr
    # The hint works as given.
    hinted = sqlite_logs("--db", str(fts_db), command, "--search", "logged AND")
    assert hinted.returncode == 0, hinted.stderr


def test_logstore_hints_name_its_keywords(app_db, fts_db):
    with LogStore(app_db) as store, pytest.raises(SQLiteLoggingError, match="contains="):
        store.logs(search="payment")
    with LogStore(fts_db) as store, pytest.raises(ValueError, match="search='logged AND'"):
        store.logs(match="logged AND")
    with LogStore(app_db) as store, pytest.raises(SQLiteLoggingError, match="contains="):
        store.logs(match="payment")


# -- 6. every bound an error states is the bound accepted ---------------------------------

_NUMBERS = [
    ["tail", "-n"],
    ["query", "--limit"],
    ["prune", "--keep-rows"],
    ["metrics", "--buckets"],
    ["report", "--buckets"],
    ["demo", "--threads"],
    ["ship", "otlp", "http://127.0.0.1:9", "--batch-size"],
]


def _parse(args: list[str]) -> str:
    """The one-line error for ``args`` ("" if they parse)."""
    err = io.StringIO()
    code: object = 0
    with contextlib.redirect_stderr(err):
        try:
            _parser().parse_args(args)
        except SystemExit as stop:
            code = stop.code
    assert code == (2 if err.getvalue() else 0)
    return err.getvalue()


@pytest.mark.parametrize("option", _NUMBERS, ids=lambda o: " ".join((o[0], o[-1])))
def test_every_number_bound_said_is_the_bound_accepted(option):
    said = _parse([*option, "-5"])
    stated = re.search(r"expected a whole number(?:, (\d+) or more| from (\d+) to (\d+)),", said)
    assert stated is not None, said
    low = int(stated[1] or stated[2])
    high = int(stated[3]) if stated[3] else None
    assert _parse([*option, str(low)]) == ""
    assert _parse([*option, str(low - 1)]) == said.replace("'-5'", f"'{low - 1}'")
    if high is None:  # any size: more than SQLite counts means all
        assert _parse([*option, "9" * 40]) == ""
    else:
        assert _parse([*option, str(high)]) == ""
        assert "expected a whole number from" in _parse([*option, str(high + 1)])
    for bad in ("many", "1.5", ""):
        assert said.split(", not ")[0] in _parse([*option, bad])


def test_a_batch_size_of_any_size_ships_rather_than_failing_on_sqlite(app_db):
    result = sqlite_logs(
        "--db", str(app_db), "ship", "otlp", "http://127.0.0.1:9", "--once",
        "--retry-for", "0", "--batch-size", "9" * 30,
    )  # fmt: skip
    assert result.returncode == 1
    assert "gave up after retrying for 0 s: cannot reach the collector" in result.stderr
