"""Helpers of the #15 acceptance tests of ``sqlite-logs`` (test_cli_acceptance*.py)."""

from __future__ import annotations

import argparse
import subprocess

from sqlite_logging_handler import MetricsAdapter, SQLiteHandler

from .conftest import child_env, make_logger
from .test_cli_as_used import NEW_YORK
from .test_cli_as_used import sqlite_logs as run_sqlite_logs

__all__ = ["COMMANDS", "NEW_YORK", "help_default", "make_app_db", "parsers", "sqlite_logs"]

COMMANDS = (
    ["tail"], ["query"], ["stats"], ["metrics"], ["export"], ["report", "-o", "-"],
    ["prune", "--keep-rows", "1"], ["backup", "copy.db"], ["vacuum"], ["upgrade"],
)  # fmt: skip


def sqlite_logs(
    *args: str, env: dict[str, str] | None = None, **kw
) -> subprocess.CompletedProcess[str]:
    """``sqlite-logs ARGS`` in a subprocess, without $SQLITE_LOGS_DB unless ``env`` sets it.

    ``env`` adds to the test environment (``test_cli_as_used.sqlite_logs`` replaces it).
    """
    environment = child_env()
    environment.pop("SQLITE_LOGS_DB", None)
    return run_sqlite_logs(*args, env={**environment, **(env or {})}, **kw)


def make_app_db(db_path):
    """A few records and metric values, as an application leaves them (``app_db``)."""
    handler = SQLiteHandler(db_path)
    log = make_logger(handler)
    log.info("cart opened", extra={"user_id": 7})
    log.error("payment failed")
    MetricsAdapter(log).record("db_query", 12.5, "ms")
    handler.close()
    return db_path


def parsers(parser: argparse.ArgumentParser, name: str = "sqlite-logs"):
    """``(command, parser)`` for ``parser`` and every subcommand's, nested ones too."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from parsers(sub, f"{name} {sub_name}")


def help_default(value: object) -> str:
    """A default as a help text states it ("5" for 5.0)."""
    return f"{value:g}" if isinstance(value, float) else str(value)
