"""Stand-ins for the parts of a record that cannot be rendered at emit time.

``emit`` merges the message and renders exception and stack text in the calling thread.
When that raises (``"%d"`` given a string, an argument whose ``__str__`` raises, a
formatter whose ``formatException`` raises, a traceback that cannot be walked, a
RecursionError from a deeply nested argument), the record is stored all the same: each
part that failed is replaced by a stand-in that says what it was and why it failed.

- a message that cannot be merged: ``[unmerged] <template> | args: <repr(args)> |
  <error>`` (the ``template`` column keeps the template, as for every record with args);
- exception text the handler's formatter cannot render: ``[formatException failed:
  <error>]`` and the standard rendering; if that fails too, ``[traceback unavailable:
  <error>] <exception type>: <exception text>``; the same for stack text.
"""

from __future__ import annotations

import copy
import logging
import reprlib
from typing import Any

from ._bridges import plain_record
from ._json import safe_repr

__all__ = ["UNMERGED", "describe", "salvage", "unmerged_message"]

#: How a message that could not be merged begins.
UNMERGED = "[unmerged]"

_DEFAULT_FORMATTER = logging.Formatter()


class _BoundedRepr(reprlib.Repr):
    """``repr()`` that gives up on nesting past ``maxlevel`` instead of recursing."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 12
        self.maxtuple = self.maxlist = self.maxarray = self.maxdeque = 1000
        self.maxdict = self.maxset = self.maxfrozenset = 1000
        self.maxstring = self.maxlong = self.maxother = 100_000

    def repr_instance(self, x: Any, level: int) -> str:
        return safe_repr(x)


_REPR = _BoundedRepr()


def bounded_repr(value: Any) -> str:
    """``repr(value)``; nested past the recursion limit, or raising, a bounded stand-in."""
    try:
        return repr(value)
    except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
        raise
    except BaseException:
        try:
            return _REPR.repr(value)
        except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
            raise
        except BaseException:
            return object.__repr__(value)


def _text(value: Any) -> str:
    try:
        return str(value)
    except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
        raise
    except BaseException:
        return safe_repr(value)


def describe(exc: BaseException) -> str:
    """``Type: text`` of an exception, as the last line of a traceback shows it."""
    try:
        text = str(exc)
    except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
        raise
    except BaseException:
        text = "<exception str() failed>"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def unmerged_message(msg: Any, args: Any, error: BaseException) -> str:
    """The stand-in message of a record whose ``msg % args`` raised ``error``."""
    template = msg if isinstance(msg, str) else _text(msg)
    if args:
        return f"{UNMERGED} {template} | args: {bounded_repr(args)} | {describe(error)}"
    return f"{UNMERGED} {template} | {describe(error)}"


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
        raise
    except BaseException as exc:
        return unmerged_message(record.msg, record.args, exc)


def _exception_line(exc_info: Any) -> str:
    """What the last line of a traceback would say about ``exc_info``."""
    value = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) == 3 else exc_info
    if isinstance(value, BaseException):
        return describe(value)
    return bounded_repr(exc_info)


def _exception_text(formatter: logging.Formatter, exc_info: Any) -> str:
    try:
        return formatter.formatException(exc_info)
    except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
        raise
    except BaseException as exc:
        failure = exc
    if formatter is not _DEFAULT_FORMATTER:
        try:
            text = _DEFAULT_FORMATTER.formatException(exc_info)
            return f"[formatException failed: {describe(failure)}]\n{text}"
        except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
            raise
        except BaseException as exc:
            failure = exc
    return f"[traceback unavailable: {describe(failure)}] {_exception_line(exc_info)}"


def _stack_text(formatter: logging.Formatter, stack_info: Any) -> str:
    try:
        return formatter.formatStack(stack_info)
    except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
        raise
    except BaseException as exc:
        failure = exc
    if formatter is not _DEFAULT_FORMATTER:
        try:
            text = _DEFAULT_FORMATTER.formatStack(stack_info)
            return f"[formatStack failed: {describe(failure)}]\n{text}"
        except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
            raise
        except BaseException as exc:
            failure = exc
    return f"[stack unavailable: {describe(failure)}] {_text(stack_info)}"


def _no_exception(exc_info: Any) -> bool:
    """Whether ``exc_info`` is logging's (None, None, None): there is no exception."""
    return isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[1] is None


def salvage(record: logging.LogRecord, formatter: logging.Formatter | None) -> tuple[Any, ...]:
    """The queued item of a record emit could not snapshot: stand-ins where parts fail.

    Same shape as what ``emit`` queues: (record, message, exception text, stack text).
    """
    formatter = formatter or _DEFAULT_FORMATTER
    try:
        record = plain_record(record)
    except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
        raise
    except BaseException:  # else stored as it came
        pass
    message = _message(record)
    exc_info, exc_text, stack_info = record.exc_info, record.exc_text, record.stack_info
    if _no_exception(exc_info):  # exc_info=True outside an except block: no traceback
        exc_text = None
    elif exc_info and not exc_text:
        exc_text = _exception_text(formatter, exc_info)
    stack_text = _stack_text(formatter, stack_info) if stack_info else None
    if exc_info:
        try:  # don't keep the traceback's frames (and their locals) alive in the queue
            record = copy.copy(record)
            record.exc_info = None
        except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
            raise
        except BaseException:
            pass
    return (record, message, exc_text or None, stack_text)
