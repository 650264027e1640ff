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
import time
from collections.abc import Callable, Sequence
from typing import NoReturn

from .. import __version__
from .._terminal import COLOUR_CHOICES, visible
from ..exceptions import SQLiteLoggingError
from ..shipping.command import add_ship_command
from . import _reading, _showcase, _summaries, _tail, _upkeep
from ._args import DATABASE_VARIABLE, Command, Register, database, empty_time_range
from ._dashes import command_parser, did_you_mean, unknown_option, with_attached_values
from ._output import os_reason, say_error, silence, usage_error
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
_LEVEL_OPTIONS = ("--level", "--min-level")  # tail, query and export's; no other command's
_SIGPIPE_STATUS = 128 + 13  # what a shell reports for a process SIGPIPE ended


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sqlite-logs`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    A reader of stdout or stderr that went away (``| head -1``) ends any command the
    same way, quietly, with 141 (as if SIGPIPE had ended it), whatever was being
    written: records, a help text, a progress or "exported" line. An error message
    that cannot be written keeps its own exit status.
    """
    try:
        return _main(argv)
    except BrokenPipeError:
        silence(sys.stdout, sys.__stdout__)
        silence(sys.stderr, sys.__stderr__)
        return _SIGPIPE_STATUS


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    given = sys.argv[1:] if argv is None else argv
    words = with_attached_values(parser, given)
    parser.given = words
    args, unknown = parser.parse_known_args(words)
    if unknown:  # argparse would blame the top level: name the command that was given
        usage_error(_unrecognized(parser, args, unknown), _prog(args))
        return 2
    if not hasattr(args, "run"):
        usage_error("give a command", "sqlite-logs")
        return 2
    args.now = time.time()  # one "now" per command: every relative time counts from it
    empty = empty_time_range(args)
    if empty:
        usage_error(empty, _prog(args))
        return 2
    try:
        with ended_by_signals():
            result: int = args.run(args, sys.stdout)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        sys.stderr.flush()
    except BrokenPipeError:
        raise  # main(): 141, for stdout and stderr alike
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


def _unrecognized(
    parser: argparse.ArgumentParser, args: argparse.Namespace, unknown: list[str]
) -> str:
    """What is wrong with the ``unknown`` words given to a command that takes none.

    A level given to a command without levels (``metrics --level ERROR``) says which
    commands take one, rather than "unrecognized arguments: --level" (its value having
    been taken for a metric's name).
    """
    options = [word.split("=", 1)[0] for word in unknown]
    level = next((option for option in options if option in _LEVEL_OPTIONS), None)
    command = getattr(args, "command", "")
    if level and command == "metrics":
        return (
            "metrics have no level: filter them by name (metrics NAME), --tag KEY=VALUE "
            "and --since/--until"
        )
    if level and command:
        return f"{command} takes no {level}: tail, query and export do"
    dashed = next((option for option in options if option.startswith("--")), "")
    meant = did_you_mean(command_parser(parser, command, getattr(args, "kind", None)), dashed)
    return f"unrecognized arguments: {' '.join(unknown)}{meant if dashed else ''}"


def _prog(args: argparse.Namespace) -> str:
    """The command as its help is asked for: ``sqlite-logs query``, ``sqlite-logs ship otlp``."""
    words = ["sqlite-logs", getattr(args, "command", ""), getattr(args, "kind", None) or ""]
    return " ".join(word for word in words if word)


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
    say_error(f"sqlite-logs: error: {visible(text)}")


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (``usage_error``), without the usage dump.

    ``given``: the words the top level parses; an unknown option among those before
    the command is named, rather than its value taken for the command (``--bd app.db
    stats`` is not "invalid choice: 'app.db'", as ``git --bd`` is "unknown option").
    """

    given: Sequence[str] = ()

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument COMMAND: invalid choice"):
            message = unknown_option(self, self.given) or message
        usage_error(message, self.prog)
        sys.exit(2)


def _parser() -> _Parser:
    parser = _Parser(
        prog="sqlite-logs",
        description="Look at, follow, summarise, export and prune a log database "
        "written by SQLiteHandler.",
        epilog=f"The database is --db PATH, else ${DATABASE_VARIABLE}, else logs.db "
        "(demo: system_logs.db). "
        "Times are shown in local time with their UTC offset (--utc: in UTC).",
    )
    parser.add_argument("--version", action="version", version=f"sqlite-logs {__version__}")
    _common_options(parser, argparse.SUPPRESS)
    parser.set_defaults(db=None, utc=False, command="", color="auto")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(command=name)
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
    parser.add_argument(
        "--color",
        "--colour",
        choices=COLOUR_CHOICES,
        default=default,
        help="colour by level: auto (on a terminal, unless $NO_COLOR is set; "
        "$FORCE_COLOR forces it), always, never (default: auto)",
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
