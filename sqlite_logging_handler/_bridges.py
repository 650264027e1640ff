"""Records that other libraries hand to logging handlers, made plain; trace context.

structlog (``ProcessorFormatter.wrap_for_formatter``) sends its event dict as
``record.msg``; loguru's standard-handler sink sends a record whose ``extra`` attribute
holds everything ``bind()`` added. ``plain_record`` turns both into the shape every
other record has: the event text as the message, the other keys as top-level extras,
exception and stack text where the ``exc_text``/``stack_info`` columns expect them.
It runs in the calling thread, on records that carry extras only, and returns a copy:
a record is shared by every handler it goes to. Neither library is imported here.
"""

from __future__ import annotations

import copy
import logging
import sys
from collections.abc import Mapping
from types import FrameType, ModuleType, TracebackType
from typing import Any, TypeAlias

from ._records import EXTRA_ATTR, VerbatimExtra

__all__ = ["active_trace", "plain_record"]

_ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None]

# structlog: the extras wrap_for_formatter adds (the bound logger and its method name).
_STRUCTLOG_EXTRAS = ("_logger", "_name")

# loguru: the sink that makes a LogRecord out of loguru's own record, and the name of
# its local variable holding that record (loguru 0.7).
_LOGURU_SINK_MODULE = "loguru._simple_sinks"
_LOGURU_RAW_RECORD = "raw_record"
_LOGURU_FRAMES_UP = 4  # emit <- handle <- the sink's write, and one to spare


def plain_record(record: logging.LogRecord) -> logging.LogRecord:
    """``record`` as a plain record if structlog or loguru shaped it, else ``record``.

    A dict message is structlog's event dict only when structlog's
    ``ProcessorFormatter.wrap_for_formatter`` handed it over (it adds the extras
    ``_logger`` and ``_name``). Any other dict message, ``"event"`` key or not, with
    or without ``extra=``, is stored as logging shows it: ``str(dict)``.
    """
    msg = record.msg
    attrs = record.__dict__
    if type(msg) is dict and "event" in msg and all(name in attrs for name in _STRUCTLOG_EXTRAS):
        return _from_structlog(record, msg)
    if type(record.__dict__.get("extra")) is dict:
        raw = _loguru_record(sys._getframe(1))
        if raw is not None:
            return _from_loguru(record, raw)
    return record


def _from_structlog(record: logging.LogRecord, event_dict: dict[str, Any]) -> logging.LogRecord:
    """A record whose ``msg`` is structlog's event dict: event -> message, keys -> extras."""
    plain = copy.copy(record)
    for name in _STRUCTLOG_EXTRAS:
        plain.__dict__.pop(name, None)
    fields = dict(event_dict)  # a copy: the caller may reuse its dict
    event = fields.pop("event")
    plain.msg, plain.args = event if isinstance(event, str) else str(event), ()
    exc_info = _exc_info(fields.pop("exc_info", None))
    if exc_info is not None:
        plain.exc_info, plain.exc_text = exc_info, None
    if isinstance(fields.get("exception"), str):  # format_exc_info rendered it already
        plain.exc_text = fields.pop("exception")
    if isinstance(fields.get("stack"), str):  # StackInfoRenderer's text
        plain.stack_info = fields.pop("stack")
    plain.__dict__[EXTRA_ATTR] = VerbatimExtra(fields)
    return plain


def _exc_info(value: object) -> _ExcInfo | None:
    """What structlog's ``exc_info`` key means: True (the current exception) or one."""
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return value
    if value is True:
        current = sys.exc_info()
        return current if current[1] is not None else None
    return None


def _from_loguru(record: logging.LogRecord, raw: Mapping[str, Any]) -> logging.LogRecord:
    """A record from loguru's handler sink, with loguru's own record ``raw`` at hand.

    loguru formats the message with its own format (timestamp, level, location, the
    traceback) before handing it over, and puts a newline in ``exc_text`` so that
    formatters do not repeat the traceback. The bare message, the bound values (as
    top-level extras) and the true time, thread and process (which differ with
    ``enqueue=True``) are taken from ``raw``; the traceback goes to its own column.
    """
    plain = copy.copy(record)
    bound = plain.__dict__.pop("extra")
    if plain.exc_text is not None and not plain.exc_text.strip():
        plain.exc_text = None
    try:
        message, when = str(raw["message"]), float(raw["time"].timestamp())
        thread_id, thread_name = raw["thread"].id, raw["thread"].name
        process_id, process_name = raw["process"].id, raw["process"].name
    except (KeyError, AttributeError, TypeError, ValueError):
        pass  # another loguru version: keep what its sink put on the record
    else:
        plain.msg, plain.args = message, ()
        plain.created, plain.msecs = when, (when - int(when)) * 1000
        plain.thread, plain.threadName = thread_id, thread_name
        plain.process, plain.processName = process_id, process_name
    plain.__dict__[EXTRA_ATTR] = VerbatimExtra(bound)
    return plain


def _loguru_record(frame: FrameType | None) -> Mapping[str, Any] | None:
    """The record loguru made, found on its sink's frame a few calls up; or None.

    Only a record handed over by loguru's sink is reshaped: an ``extra=`` key named
    ``extra`` from anywhere else is stored as it is.
    """
    for _ in range(_LOGURU_FRAMES_UP):
        if frame is None:
            return None
        if frame.f_globals.get("__name__") == _LOGURU_SINK_MODULE:
            raw = frame.f_locals.get(_LOGURU_RAW_RECORD)
            return raw if isinstance(raw, Mapping) and "message" in raw else None
        frame = frame.f_back
    return None


def active_trace(trace: ModuleType) -> tuple[str, str] | None:
    """(trace id, span id) in hex of the span active in this thread, or None.

    ``trace`` is ``opentelemetry.trace``, passed in only once the application has
    imported it (without that there is no span to find).
    """
    try:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return format(context.trace_id, "032x"), format(context.span_id, "016x")
    except Exception:  # a broken or foreign tracer must not cost the record
        return None
