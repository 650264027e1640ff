"""The ``sqlite-logs`` command line: look at, follow, summarise, export and prune logs.

Exit codes follow Unix tools: 0 on success, 1 for runtime errors (a missing or unusable
database), 2 for bad arguments. Errors are one line on stderr, never a traceback.
Every subcommand takes ``--db PATH`` (before or after its name), defaulting to
``$SQLITE_LOGS_DB``, else ``logs.db``.

Each group of subcommands lives in a module of its own with a ``register(command)``
function; ``_COMMAND_GROUPS`` lists them, in the order ``--help`` shows them.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Sequence

from .._terminal import visible
from ..exceptions import SQLiteLoggingError
from . import _reading, _summaries, _upkeep
from ._args import Command, Register, database

__all__ = ["database", "main"]

_COMMAND_GROUPS: tuple[Callable[[Register], None], ...] = (
    _reading.register,
    _summaries.register,
    _upkeep.register,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sqlite-logs`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    try:
        result: int = args.run(args, sys.stdout)
    except (OSError, sqlite3.Error, SQLiteLoggingError) as exc:
        _error(exc)
        return 1
    except (ValueError, TypeError, OverflowError) as exc:  # a value only the database judges
        _error(exc)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


def _error(exc: BaseException) -> None:
    """One line on stderr, whatever text the error carries."""
    print(f"sqlite-logs: error: {visible(str(exc))}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqlite-logs",
        description="Look at, follow, summarise, export and prune a log database "
        "written by SQLiteHandler.",
    )
    parser.add_argument("--db", help="the log database (default: $SQLITE_LOGS_DB, else logs.db)")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        # SUPPRESS: the subcommand's --db only overrides the top-level one when given.
        sub.add_argument("--db", default=argparse.SUPPRESS, help="the log database")
        sub.set_defaults(run=run)
        return sub

    for register in _COMMAND_GROUPS:
        register(command)
    return parser
