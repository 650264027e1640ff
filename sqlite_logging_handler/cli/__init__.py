"""The ``sqlite-logs`` command line: look at, follow, summarise, export and prune logs.

Exit codes follow Unix tools: 0 on success, 1 for runtime errors (a missing or unusable
database), 2 for bad arguments, 130 on Ctrl-C (SIGINT), 143 on SIGTERM and 129 on
SIGHUP (each after the command's cleanup: no half-written file stays), and 141 (as if
killed by SIGPIPE) when the reader of its output goes away (``sqlite-logs stats |
head -1``), quietly. Errors
are one line on stderr, never a traceback. Every subcommand takes ``--db PATH`` and
``--utc``/``--local`` (before or after its name); the database defaults to
``$SQLITE_LOGS_DB``, else ``logs.db``.

Each group of subcommands lives in a module of its own with a ``register(command)``
function; ``_COMMAND_GROUPS`` lists them, in the order ``--help`` shows them.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from .._terminal import visible
from ..exceptions import SQLiteLoggingError
from ..shipping.command import add_ship_command
from . import _reading, _showcase, _summaries, _tail, _upkeep
from ._args import DATABASE_VARIABLE, Command, Register, database, empty_time_range
from ._dashes import with_attached_values
from ._output import os_reason
from ._signals import Terminated, ended_by_signals

__all__ = ["database", "main"]

_COMMAND_GROUPS: tuple[Callable[[Register], None], ...] = (
    _tail.register,
    _reading.register,
    _summaries.register,
    _showcase.register,
    _upkeep.register,
    add_ship_command,
)
_SIGPIPE_STATUS = 128 + 13  # what a shell reports for a process SIGPIPE ended


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sqlite-logs`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = _parser()
    given = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(with_attached_values(parser, given))
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    empty = empty_time_range(args)
    if empty:
        print(f"sqlite-logs: error: {empty}", file=sys.stderr)
        return 2
    try:
        with ended_by_signals():
            result: int = args.run(args, sys.stdout)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        _silence_stdout()
        return _SIGPIPE_STATUS
    except (OSError, sqlite3.Error, SQLiteLoggingError) as exc:
        _error(exc)
        return 1
    except (ValueError, TypeError, OverflowError) as exc:  # a value only the database judges
        _error(exc)
        return 2
    except KeyboardInterrupt:
        return 130
    except Terminated as ended:  # SIGTERM, SIGHUP: cleaned up as for Ctrl-C
        return ended.status
    return result


def _error(exc: BaseException) -> None:
    """One line on stderr, whatever text the error carries.

    An OS error names its path and cause in words ("'/tmp/x': it is a directory"),
    never a bare "[Errno 21]".
    """
    text = str(exc)
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        path = os.fsdecode(exc.filename)
        text = f"{path!r}: {os_reason(exc, path)}"
        if exc.filename2 is not None:
            text += f" (and {os.fsdecode(exc.filename2)!r})"
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    print(f"sqlite-logs: error: {visible(text)}", file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit fails no more."""
    if sys.stdout is not sys.__stdout__ or sys.__stdout__ is None:
        return  # not the process's own stdout (a caller's StringIO)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqlite-logs",
        description="Look at, follow, summarise, export and prune a log database "
        "written by SQLiteHandler.",
        epilog=f"The database is --db PATH, else ${DATABASE_VARIABLE}, else logs.db. "
        "Times are shown in local time with their UTC offset (--utc: in UTC).",
    )
    parser.add_argument("--version", action="version", version=f"sqlite-logs {__version__}")
    _common_options(parser, argparse.SUPPRESS)
    parser.set_defaults(db=None, utc=False)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        # SUPPRESS: the subcommand's options only override the top-level ones when given.
        _common_options(sub, argparse.SUPPRESS)
        sub.set_defaults(run=run)
        return sub

    for register in _COMMAND_GROUPS:
        register(command)
    return parser


def _common_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--db",
        default=default,
        metavar="PATH",
        help=f"the log database (default: ${DATABASE_VARIABLE}, else logs.db)",
    )
    zone = parser.add_mutually_exclusive_group()
    zone.add_argument(
        "--utc", action="store_true", default=default, help="show times in UTC (with Z)"
    )
    zone.add_argument(
        "--local",
        dest="utc",
        action="store_false",
        default=default,
        help="show times in local time, with the UTC offset (the default)",
    )
