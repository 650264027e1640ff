"""LogRecord to row tuple conversion: pure functions, no sqlite3, no threads, no I/O.

Rows are tuples in ``schema.LOG_INSERT_COLUMNS`` / ``schema.METRIC_INSERT_COLUMNS``
order. The handler's listener thread calls these; the calling thread only snapshots
what cannot wait (the merged message, the rendered traceback).

The conversion is split at one seam, so that a writer process can finish it:
``log_entry``/``metric_entry`` take what only the application's process has (the
record's attributes, its extras), leaving extras whose values are all plain (str,
int, float, bool, None) as a dict; ``finish_row`` encodes such a dict as JSON, on the
writer's side. ``log_row``/``metric_row`` do both at once, and
``finish_row(log_entry(...)) == log_row(...)`` by construction: the same encoder
runs on the same values.
"""

from __future__ import annotations

import functools
import json
import json.encoder
import logging
import math
import operator
import re
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeAlias

from ._json import json_without_surrogates, safe_repr, to_json
from .schema import LOG_RECORD_ATTRIBUTES

__all__ = [
    "EXTRA_ATTR",
    "LOG_EXTRA_INDEX",
    "METRIC_ATTR",
    "METRIC_TAGS_INDEX",
    "PLAIN_RECORD_SIZE",
    "MetricPayload",
    "Row",
    "VerbatimExtra",
    "exception_text",
    "extras_json",
    "finish_row",
    "is_metric",
    "level_number",
    "log_entry",
    "log_row",
    "metric_entry",
    "metric_row",
    "sanitize_row",
    "tags_json",
]

Row: TypeAlias = tuple[Any, ...]

#: The record attribute MetricsAdapter sets, holding a ``MetricPayload``.
METRIC_ATTR = "sqlite_metric"
#: The record attribute MultiThreadedLogger sets, holding a ``VerbatimExtra``: merged
#: into ``extra_data`` as it is, for keys ``extra=`` refuses (``filename``, ``lineno``).
EXTRA_ATTR = "sqlite_extra"


class MetricPayload(NamedTuple):
    """What makes a record a metric.

    Its own type, so that a user's ``extra=`` key of the same name is stored as an
    ordinary extra, never mistaken for a metric.
    """

    name: str
    value: float
    unit: str | None
    tags: Mapping[str, Any] | None
    kind: str | None = None  # one of schema.METRIC_KINDS


class VerbatimExtra(dict[str, Any]):
    """Extra data stored as it is (see ``EXTRA_ATTR``)."""


# Attributes every LogRecord has, plus those formatters add: never "extra" data.
_PLAIN_RECORD = logging.LogRecord("", logging.INFO, "", 0, "", None, None)
_STANDARD_ATTRS = frozenset(_PLAIN_RECORD.__dict__) | {"message", "asctime", "taskName"}
#: How many attributes a plain record has: one with more carries extras.
PLAIN_RECORD_SIZE = len(_PLAIN_RECORD.__dict__)
#: A plain record's attribute names, in the order ``LogRecord.__init__`` sets them.
#: A record whose first attributes are these carries its extras after them.
_PLAIN_KEYS = tuple(_PLAIN_RECORD.__dict__)

# OpenTelemetry's logging instrumentation sets these (``"0"`` outside a span); they
# are stored in ``trace_id``/``span_id``, not in ``extra_data``.
# Only what the instrumentation writes is theirs (lowercase hex of the id's length,
# or "0" outside a span): any other value under those names is an ordinary extra.
_TRACE_ATTR, _SPAN_ATTR = "otelTraceID", "otelSpanID"
_ID_TEXT = {_TRACE_ATTR: re.compile(r"0|[0-9a-f]{32}"), _SPAN_ATTR: re.compile(r"0|[0-9a-f]{16}")}
_NO_TRACE = (None, None)
# Names an extra can have that ``_extras`` must look at more closely (see there).
_SPECIAL_EXTRAS = frozenset({_TRACE_ATTR, _SPAN_ATTR, METRIC_ATTR, EXTRA_ATTR})

# Values of types JSON lacks go through to_json (ISO 8601 for dates, str() for UUIDs,
# ...; see _json). The C encoder calls it only for those: plain values pay nothing.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, default=to_json, separators=(",", ":")
)
# JSONEncoder.encode builds a C encoder on every call (half its cost for a small
# dict); build it once. It keeps cycle markers in _MARKERS, which a failed encode may
# leave behind, so _encode clears them. Only the listener thread encodes.
_MARKERS: dict[int, Any] = {}
_C_ENCODER = (
    None
    if json.encoder.c_make_encoder is None  # type: ignore[attr-defined]
    else json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        _MARKERS,
        to_json,
        json.encoder.c_encode_basestring,  # type: ignore[attr-defined]
        None,
        ":",
        ",",
        False,
        False,
        False,
    )
)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# One C call collects the record's attributes in schema.LOG_INSERT_COLUMNS order.
_RECORD_ATTRIBUTES = operator.attrgetter(*LOG_RECORD_ATTRIBUTES)


def log_row(
    record: logging.LogRecord,
    message: str,
    exc_text: str | None,
    stack_text: str | None,
    trace: tuple[str, str] | None = None,
    *,
    plain_as_dict: bool = False,
) -> Row:
    """The ``logs`` row for ``record``, given what was snapshotted at emit time.

    ``trace`` is the (trace id, span id) of the span active at emit time, if any; the
    ids OpenTelemetry's logging instrumentation put on the record take precedence.
    With ``plain_as_dict`` (``log_entry``), extras whose values are all plain stay a
    dict, for ``finish_row`` to encode on the writer's side; others are encoded now,
    where the objects live.
    """
    attrs = record.__dict__
    msg = record.msg
    extra: str | dict[str, Any] | None = None
    if len(attrs) == PLAIN_RECORD_SIZE:
        trace_id, span_id = trace or _NO_TRACE
    else:
        extras = _extras(attrs)
        if extras:
            plain = plain_as_dict and _PLAIN_TYPES.issuperset(map(type, extras.values()))
            extra = extras if plain else _encode(extras)
        # Most records carry no OpenTelemetry ids: one lookup instead of a call.
        ids = _record_trace(attrs) if _TRACE_ATTR in attrs else None
        trace_id, span_id = ids or trace or _NO_TRACE
    return (
        *_RECORD_ATTRIBUTES(record),
        message,
        extra,
        attrs.get("taskName"),
        exc_text,
        stack_text,
        msg if record.args and isinstance(msg, str) else None,
        trace_id,
        span_id,
    )


def _record_trace(attrs: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """The ids OpenTelemetry's logging instrumentation set on a record, if in a span."""
    trace_id = _id_text(_TRACE_ATTR, attrs.get(_TRACE_ATTR))
    if trace_id is None:
        return None
    return trace_id, _id_text(_SPAN_ATTR, attrs.get(_SPAN_ATTR))


def _id_text(name: str, value: object) -> str | None:
    """``value`` if it is an id as the instrumentation writes it, and not "0" (no span)."""
    if isinstance(value, str) and value != "0" and _is_id_text(name, value):
        return value
    return None


def _is_id_text(name: str, value: object) -> bool:
    """Whether ``value`` is what the instrumentation writes under ``name``."""
    return isinstance(value, str) and _ID_TEXT[name].fullmatch(value) is not None


def is_metric(record: logging.LogRecord) -> bool:
    """Whether ``record`` was made by MetricsAdapter and belongs in ``metrics``."""
    return type(record.__dict__.get(METRIC_ATTR)) is MetricPayload


def metric_row(record: logging.LogRecord, *, plain_as_dict: bool = False) -> Row:
    """The ``metrics`` row for a record carrying ``METRIC_ATTR``.

    With ``plain_as_dict`` (``metric_entry``), tags whose values are all plain stay a
    dict, for ``finish_row`` to encode.
    """
    name, value, unit, tags, kind = record.__dict__[METRIC_ATTR]
    created = record.created
    if not tags:
        tag_values: str | dict[str, Any] | None = None
    else:
        tag_values = dict(tags)
        if not (plain_as_dict and _PLAIN_TYPES.issuperset(map(type, tag_values.values()))):
            tag_values = _encode(tag_values)
    return (
        created,
        name,
        value,
        unit,
        tag_values,
        created,
        record.name,
        record.thread,
        record.process,
        kind,
    )


def extras_json(attrs: Mapping[str, Any]) -> str | None:
    """JSON of a record's non-standard attributes (its ``extra=``), or None if none.

    Values of common types JSON lacks are encoded as ``_json`` says (ISO 8601 for
    dates and times, ``str()`` for UUIDs, ...); anything else JSON cannot encode
    (objects, NaN, cycles, odd keys) is stored as its ``repr()``, so the record is
    never lost for its extras.
    """
    extras = _extras(attrs)
    return _encode(extras) if extras else None


def _extras(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """A record's non-standard attributes, as they are stored in ``extra_data``."""
    keys = tuple(attrs)
    if keys[:PLAIN_RECORD_SIZE] == _PLAIN_KEYS:
        # The usual record: LogRecord's own attributes first, in their order, then
        # the extras (and maybe a formatter's "message"): only the tail is looked at.
        # The same keys, in the same order, as the general case below.
        extras = {key: attrs[key] for key in keys[PLAIN_RECORD_SIZE:] if key not in _STANDARD_ATTRS}
    else:
        extras = {key: value for key, value in attrs.items() if key not in _STANDARD_ATTRS}
    if _SPECIAL_EXTRAS.isdisjoint(extras):
        return extras
    for name in (_TRACE_ATTR, _SPAN_ATTR):  # stored in trace_id / span_id instead
        if name in extras and _is_id_text(name, extras[name]):
            del extras[name]
    if type(extras.get(METRIC_ATTR)) is MetricPayload:
        del extras[METRIC_ATTR]
    if type(extras.get(EXTRA_ATTR)) is VerbatimExtra:
        extras.update(extras.pop(EXTRA_ATTR))
    return extras


def tags_json(tags: Mapping[str, Any] | None) -> str | None:
    """JSON of a metric's tags, or None when there are none."""
    return _encode(dict(tags)) if tags else None


#: ``log_row``/``metric_row`` leaving plain extras (tags) as a dict: what a writer
#: process is sent (``_wire``); ``finish_row`` turns them into the rows.
log_entry = functools.partial(log_row, plain_as_dict=True)
metric_entry = functools.partial(metric_row, plain_as_dict=True)

#: Types whose values survive any trip (pickle, another process) unchanged and are
#: encoded the same everywhere: extras made only of these are encoded by the writer.
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
#: Where the extras (``extra_data`` / ``tags``) sit in a log / metric row.
LOG_EXTRA_INDEX = 15
METRIC_TAGS_INDEX = 4


def finish_row(entry: Row, extras_index: int) -> Row:
    """The row of a ``log_entry`` / ``metric_entry``: its extras dict encoded as JSON.

    ``extras_index`` is ``LOG_EXTRA_INDEX`` or ``METRIC_TAGS_INDEX``.
    """
    extras = entry[extras_index]
    if type(extras) is not dict:
        return entry
    return (*entry[:extras_index], _encode(extras), *entry[extras_index + 1 :])


def _encode(obj: dict[str, Any]) -> str:
    """Compact JSON of ``obj``: valid UTF-8 whatever its text holds (see ``_json``)."""
    try:
        text = "".join(_C_ENCODER(obj, 0)) if _C_ENCODER is not None else _ENCODER.encode(obj)
    except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
        raise
    except BaseException:  # a cycle, a NaN, a key JSON cannot take, a str() that raises
        _MARKERS.clear()
        # A cycle, a NaN or a key JSON cannot take: degrade value by value.
        text = _ENCODER.encode({str(k): _jsonable(v) for k, v in obj.items()})
    return text if text.isascii() else json_without_surrogates(text)


def _jsonable(value: Any) -> Any:
    try:
        _ENCODER.encode(value)
    except KeyboardInterrupt:  # the user's Ctrl-C: never a rendering failure
        raise
    except BaseException:
        return safe_repr(value)
    return value


def sanitize_row(row: Row) -> Row:
    """A copy of ``row`` that sqlite3 can bind, losing nothing it does not have to.

    Text SQLite cannot take as UTF-8 (lone surrogates) gets the standard
    ``backslashreplace`` escape; integers outside SQLite's 64-bit range and floats that
    are not finite are stored as text; other objects as their ``repr()``.
    """
    return tuple(_sanitize_value(value) for value in row)


def _sanitize_value(value: Any) -> Any:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _INT64_MAX else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return _sanitize_value(safe_repr(value))


#: What ``Formatter.formatException`` renders for an ``exc_info`` without an exception
#: (``logger.exception()`` or ``exc_info=True`` outside an ``except`` block).
_NO_EXCEPTION_TEXT = logging.Formatter().formatException((None, None, None))


def exception_text(record: logging.LogRecord, formatter: logging.Formatter) -> str | None:
    """The traceback text of ``record``'s exception, or None if it carries none.

    ``logger.exception()`` outside an ``except`` block gives ``exc_info`` = (None, None,
    None), which logging renders as "NoneType: None"; that is no exception, so no text
    (also when another handler's formatter, or a SocketHandler, rendered it already).
    """
    exc_info = record.exc_info
    if exc_info and exc_info[1] is None:
        return None
    text = record.exc_text
    if exc_info and not text:
        text = formatter.formatException(exc_info)
    if not text or text == _NO_EXCEPTION_TEXT:
        return None
    return text


def level_number(level: int | str) -> int:
    """A level given as a number or a name (``"ERROR"``) as its number."""
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    if isinstance(level, str):
        number = logging.getLevelName(level.upper())
        if isinstance(number, int):
            return number
    msg = f"unknown logging level {level!r}"
    raise ValueError(msg)
