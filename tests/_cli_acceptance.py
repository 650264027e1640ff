"""Helpers of the #15 acceptance tests of ``sqlite-logs`` (test_cli_acceptance*.py)."""

from __future__ import annotations

import argparse

from sqlite_logging_handler import MetricsAdapter, SQLiteHandler

from .conftest import make_logger, sqlite_logs
from .test_cli_as_used import NEW_YORK

__all__ = ["COMMANDS", "NEW_YORK", "help_default", "make_app_db", "parsers", "sqlite_logs"]

COMMANDS = (
    ["tail"], ["query"], ["stats"], ["metrics"], ["export"], ["report", "-o", "-"],
    ["prune", "--keep-rows", "1"], ["backup", "copy.db"], ["vacuum"], ["upgrade"],
)  # fmt: skip


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
