"""What the subcommands share: the database they work on, argument types, the filters.

An argument type raises ``argparse.ArgumentTypeError``: a bad value exits 2 with a
usage message, as argparse does for its own checks.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import time
from collections.abc import Callable
from typing import Any, TextIO

from .._access import no_database
from .._binds import INT64_MAX
from .._render import stored_log_row, stored_metric_row
from .._times import no_time_between, parse_age, parse_epoch, parse_time
from ..query import LogStore

__all__ = [
    "DATABASE_VARIABLE",
    "Command",
    "CommandLineStore",
    "Register",
    "add_filters",
    "add_time_range",
    "bounded_int",
    "check_database",
    "database",
    "duration",
    "empty_time_range",
    "extra",
    "filters",
    "level",
    "open_store",
    "positive_int",
    "row_count",
    "time_bound",
    "whole_number",
]

#: A subcommand: runs with the parsed arguments, writes to ``out``, returns the exit code.
Command = Callable[[argparse.Namespace, TextIO], int]
#: Adds a subcommand: ``register(name, run, help)`` returns its parser, for its arguments.
Register = Callable[[str, Command, str], argparse.ArgumentParser]

#: The environment variable naming the default database.
DATABASE_VARIABLE = "SQLITE_LOGS_DB"
_DEFAULT_DATABASE = "logs.db"


def database(args: argparse.Namespace) -> str:
    """The database a subcommand works on: --db, else $SQLITE_LOGS_DB, else logs.db."""
    return str(args.db or os.environ.get(DATABASE_VARIABLE) or _DEFAULT_DATABASE)


def check_database(args: argparse.Namespace) -> str:
    """The database's path, which must be an existing, readable file.

    Raises:
        FileNotFoundError: there is none; the message names the path, says what is
            there instead (a directory, no such directory), where the path came from
            and how to give another.
        PermissionError: the file cannot be read.
    """
    if args.db == "":
        msg = "--db '': give the database's path"
        raise FileNotFoundError(msg)
    path = database(args)
    if os.path.isfile(path):
        if not os.access(path, os.R_OK):
            msg = f"cannot read {path!r}: permission denied"
            raise PermissionError(msg)
        return path
    if args.db:
        hint = ""
    elif os.environ.get(DATABASE_VARIABLE):
        hint = f" (from ${DATABASE_VARIABLE})"
    else:
        hint = f": give one with --db PATH or ${DATABASE_VARIABLE}"
    msg = f"{no_database(path)}{hint}"
    raise FileNotFoundError(msg)


class CommandLineStore(LogStore):
    """A ``LogStore`` for the command line.

    Its errors' hints name the command line's flags, not keywords; its rows keep
    ``extra_data`` and ``tags`` as stored text, which JSON and CSV output write as it is.
    """

    _log_row = staticmethod(stored_log_row)
    _metric_row = staticmethod(stored_metric_row)

    def _substring_hint(self) -> str:
        return "use --contains TEXT for a substring"

    def _words_hint(self, query: str) -> str:
        return f"to search for the words as written: --search {shlex.quote(query)}"

    @staticmethod
    def _named(name: str, value: object) -> str:
        return f"--{name.replace('_', '-')} {value!r}"  # as empty_time_range names them


def open_store(args: argparse.Namespace) -> LogStore:
    """A ``CommandLineStore`` on the subcommand's database (see ``check_database``)."""
    return CommandLineStore(check_database(args))


def add_time_range(parser: argparse.ArgumentParser) -> None:
    """``--since`` and ``--until``, read by the parser ``LogStore`` uses."""
    parser.add_argument(
        "--since",
        type=time_bound,
        metavar="TIME",
        help="from this time on: 2026-11-30, '2026-11-30 17:00' (local), "
        "2026-11-30T17:00Z, 90s, 2h, 7d, today, yesterday, @EPOCH",
    )
    parser.add_argument("--until", type=time_bound, metavar="TIME", help="before this time")


def add_filters(parser: argparse.ArgumentParser) -> None:
    """The filters of ``LogStore.logs()`` as options (``tail``, ``query``, ``export``)."""
    add_time_range(parser)
    parser.add_argument("--level", type=level, help="this level only (a name or number)")
    parser.add_argument("--min-level", type=level, help="this level and above")
    parser.add_argument("--logger", help="this logger and its children")
    parser.add_argument("--contains", metavar="TEXT", help="text in the message (any case)")
    parser.add_argument("--thread", help="a thread name or id")
    parser.add_argument("--trace-id", help="an OpenTelemetry trace id (32 hex digits)")
    search = parser.add_mutually_exclusive_group()
    search.add_argument(
        "--search",
        metavar="WORDS",
        help="records holding all these words (needs the full-text index a handler "
        "made with full_text=True keeps)",
    )
    search.add_argument(
        "--match",
        metavar="QUERY",
        help="an FTS5 full-text query, e.g. 'timeout AND db*' (as --search: the full-text index)",
    )
    parser.add_argument(
        "--extra",
        action="append",
        type=extra,
        default=[],
        metavar="KEY=VALUE",
        help="extra data equal to VALUE (read as JSON if it parses; KEY may be a "
        "dotted path into nested objects); repeatable",
    )


def filters(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``LogStore.logs()`` that ``add_filters`` options give."""
    thread: int | str | None = args.thread
    if isinstance(thread, str) and thread.lstrip("-").isdigit():
        thread = int(thread)
    return {
        "since": args.since, "until": args.until, "level": args.level,
        "min_level": args.min_level, "logger": args.logger, "contains": args.contains,
        "thread": thread, "extra": dict(args.extra) or None,
        "trace_id": args.trace_id, "search": args.search, "match": args.match,
    }  # fmt: skip


def positive_int(text: str) -> int:
    """A whole number of at least 1, of any size (more than SQLite counts: ``INT64_MAX``)."""
    return whole_number(text, 1)


def row_count(text: str) -> int:
    """A number of rows, 0 or more; any larger than SQLite counts means "all"."""
    return whole_number(text, 0)


def bounded_int(largest: int) -> Callable[[str], int]:
    """An argument type: a whole number from 1 to ``largest``."""

    def bounded(text: str) -> int:
        return whole_number(text, 1, largest)

    return bounded


def whole_number(text: str, smallest: int, largest: int | None = None) -> int:
    """``text`` as a whole number from ``smallest`` to ``largest`` (None: any size).

    The error states exactly the range accepted, as a person would type its ends.
    Without ``largest``, a number beyond what SQLite counts is ``INT64_MAX`` ("all").

    Raises:
        argparse.ArgumentTypeError: not a whole number, or outside the range.
    """
    digits = text.strip().removeprefix("+")
    value: int | None = None
    if digits.lstrip("-").isdigit() and digits.isascii():
        value = int(digits) if len(digits) <= 20 else (INT64_MAX + 1) * (-1 if "-" in digits else 1)
    if value is not None and value >= smallest and (largest is None or value <= largest):
        return min(value, INT64_MAX)
    if largest is not None:
        what = f"a whole number from {smallest} to {largest}"
    elif smallest == 0:
        what = "a whole number, 0 or more"
    else:
        what = f"a whole number, {smallest} or more"
    msg = f"expected {what}, not {text!r}"
    raise argparse.ArgumentTypeError(msg)


def time_bound(text: str) -> str:
    """A ``--since``/``--until`` value, checked now with the parser LogStore uses.

    The text itself is passed on, so that a relative time counts from the query.
    """
    try:
        parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def empty_time_range(args: argparse.Namespace) -> str:
    """Why ``--since``/``--until`` select no time at all ("" if they do not).

    ``--until`` at or before ``--since`` is a mistake (the bounds swapped), not a
    question whose answer is "nothing": ``git log`` and ``journalctl`` refuse it too.
    A command whose period ends now when only ``--since`` is given (its parser's
    default ``ends_now=True``: ``report``) is held to that end: ``--since`` in the
    future leaves it no time either.
    """
    since, until = getattr(args, "since", None), getattr(args, "until", None)
    if since is None or (until is None and not getattr(args, "ends_now", False)):
        return ""
    now = getattr(args, "now", None) or time.time()  # the command's one "now"
    start = parse_epoch(since, now=now)
    end = now if until is None else parse_epoch(until, now=now)
    if start is None or end is None or start < end:
        return ""
    bound = "now" if until is None else CommandLineStore._named("until", until)
    since_named = CommandLineStore._named("since", since)
    return no_time_between(since_named, start, bound, end, utc=bool(getattr(args, "utc", False)))


def duration(text: str) -> float:
    """A length of time in seconds (``demo --duration``), read as ``parse_age`` reads ages."""
    try:
        return parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def level(text: str) -> int | str:
    """A level number, or a name.

    The store resolves names from the database itself (custom levels too), so whether
    a name is known is only known once the database is open.
    """
    if text.lstrip("-").isdigit():
        return int(text)
    if not text.strip():
        msg = "expected a level name or number"
        raise argparse.ArgumentTypeError(msg)
    return text


def extra(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``, the value read as JSON when it parses."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        msg = f"expected KEY=VALUE, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw
