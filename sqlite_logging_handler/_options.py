"""The handler's constructor arguments, checked before anything is opened or registered.

A bad argument must raise one clear exception and leave nothing behind: no file, no
thread, no entry in logging's handler list (which ``logging.shutdown()`` walks at exit).
So every check that can refuse an argument runs here, before the handler registers.
"""

from __future__ import annotations

import logging
import math
import os

from . import schema

__all__ = ["check_level", "check_options", "check_writer", "resolve"]

_OVERFLOW_MODES = ("block", "drop")
_WRITERS = ("thread", "process")


def check_level(level: object) -> None:
    """Refuse what ``logging.Handler(level)`` would refuse, with logging's messages."""
    if isinstance(level, int):
        return
    if not isinstance(level, str):
        msg = f"Level not an integer or a valid string: {level!r}"
        raise TypeError(msg)
    if level not in logging.getLevelNamesMapping():
        msg = f"Unknown level: {level!r}"
        raise ValueError(msg)


def check_options(
    batch_size: object,
    flush_interval: object,
    queue_size: object,
    overflow: object,
    max_rows: object,
    full_text: object,
) -> None:
    """Refuse bad constructor arguments with a message naming the argument."""
    for name, value in (("batch_size", batch_size), ("queue_size", queue_size)):
        if not isinstance(value, int) or isinstance(value, bool):
            msg = f"{name} must be an int, not {type(value).__name__}"
            raise TypeError(msg)
        if value < 1:
            msg = f"{name} must be at least 1, not {value}"
            raise ValueError(msg)
    if not isinstance(flush_interval, int | float) or isinstance(flush_interval, bool):
        msg = f"flush_interval must be a number of seconds, not {type(flush_interval).__name__}"
        raise TypeError(msg)
    if not (0 < flush_interval < math.inf):
        msg = f"flush_interval must be a positive number of seconds, not {flush_interval}"
        raise ValueError(msg)
    if overflow not in _OVERFLOW_MODES:
        msg = f"overflow must be 'block' or 'drop', not {overflow!r}"
        raise ValueError(msg)
    if max_rows is not None and (
        not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 0
    ):
        msg = f"max_rows must be a whole number of rows, not {max_rows!r}"
        raise ValueError(msg)
    if not isinstance(full_text, bool):
        msg = f"full_text must be True or False, not {full_text!r}"
        raise TypeError(msg)


def check_writer(writer: object) -> None:
    """Refuse a ``writer`` other than ``"thread"`` or ``"process"``."""
    if writer not in _WRITERS:
        msg = f"writer must be 'thread' or 'process', not {writer!r}"
        raise ValueError(msg)


def resolve(database: object) -> tuple[str, str]:
    """The database's display name and its URI (a fresh memdb one for ``:memory:``)."""
    if not isinstance(database, str | os.PathLike):
        msg = f"database must be a path, not {type(database).__name__}"
        raise TypeError(msg)
    path = os.fspath(database)
    if isinstance(path, bytes):
        msg = "database must be a str path, not bytes"
        raise TypeError(msg)
    if path == ":memory:":
        return path, schema.memory_uri()
    if path.startswith("file:"):
        return path, path
    absolute = os.path.abspath(path)
    return absolute, schema.database_uri(absolute)
