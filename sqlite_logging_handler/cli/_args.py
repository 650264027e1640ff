"""What the subcommands share: the database they work on, argument types, the filters.

An argument type raises ``argparse.ArgumentTypeError``: a bad value exits 2 with a
usage message, as argparse does for its own checks.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any, TextIO

from .._binds import INT64_MAX
from .._times import parse_age, parse_time

__all__ = [
    "Command",
    "Register",
    "add_filters",
    "age",
    "bounded_int",
    "database",
    "extra",
    "filters",
    "level",
    "positive_float",
    "positive_int",
    "row_count",
    "time_bound",
]

#: A subcommand: runs with the parsed arguments, writes to ``out``, returns the exit code.
Command = Callable[[argparse.Namespace, TextIO], int]
#: Adds a subcommand: ``register(name, run, help)`` returns its parser, for its arguments.
Register = Callable[[str, Command, str], argparse.ArgumentParser]


def database(args: argparse.Namespace) -> str:
    """The database a subcommand works on: --db, else $SQLITE_LOGS_DB, else logs.db."""
    return str(args.db or os.environ.get("SQLITE_LOGS_DB") or "logs.db")


def add_filters(parser: argparse.ArgumentParser) -> None:
    """The filters of ``LogStore.logs()`` as options (``query`` and ``export``)."""
    parser.add_argument("--since", type=time_bound, help="e.g. 90s, 15m, 1h, 7d, or an epoch")
    parser.add_argument("--until", type=time_bound, help="as --since")
    parser.add_argument("--level", type=level, help="this level only")
    parser.add_argument("--min-level", type=level, help="this level and above")
    parser.add_argument("--logger", help="this logger and its children")
    parser.add_argument("--contains", help="text in the message (any case)")
    parser.add_argument("--thread", help="a thread name or id")
    parser.add_argument("--trace-id", help="an OpenTelemetry trace id (32 hex digits)")
    parser.add_argument(
        "--search", help="full-text query, e.g. 'timeout AND db' (needs full_text=True)"
    )
    parser.add_argument(
        "--extra",
        action="append",
        type=extra,
        default=[],
        metavar="KEY=VALUE",
        help="extra data equal to VALUE (read as JSON if it parses); repeatable",
    )


def filters(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``LogStore.logs()`` that ``add_filters`` options give."""
    thread: int | str | None = args.thread
    if isinstance(thread, str) and thread.isdigit():
        thread = int(thread)
    return {
        "since": args.since, "until": args.until, "level": args.level,
        "min_level": args.min_level, "logger": args.logger, "contains": args.contains,
        "thread": thread, "extra": dict(args.extra) or None,
        "trace_id": args.trace_id, "search": args.search,
    }  # fmt: skip


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    return int(_positive(text, int))


def row_count(text: str) -> int:
    """A number of rows, at least 1; any larger than SQLite counts means "all"."""
    return min(positive_int(text), INT64_MAX)


def bounded_int(largest: int) -> Callable[[str], int]:
    """An argument type: a whole number from 1 to ``largest``."""

    def bounded(text: str) -> int:
        value = positive_int(text)
        if value > largest:
            msg = f"expected a whole number from 1 to {largest:,}, not {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return bounded


def positive_float(text: str) -> float:
    """A positive finite number."""
    return _positive(text, float)


def _positive(text: str, kind: type[int] | type[float]) -> float:
    """``text`` read as a positive ``kind``, or an argparse error naming what was expected."""
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if not 0 < value < float("inf"):
        what = "a whole number of at least 1" if kind is int else "a positive number"
        msg = f"expected {what}, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def time_bound(text: str) -> float | str:
    """A ``--since``/``--until`` value, checked now with the parser LogStore uses."""
    value: float | str = float(text) if _is_number(text) else text
    try:
        parse_time(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def age(text: str) -> float:
    """An age in seconds (``--older-than``)."""
    try:
        return parse_age(float(text) if _is_number(text) else text)
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


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
