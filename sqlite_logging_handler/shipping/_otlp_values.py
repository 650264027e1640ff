"""What a row holds, in OpenTelemetry's data model: typed values, severities, exceptions.

Messages of ``opentelemetry-proto`` are filled in place (``add()`` and field
assignment), which is about three times faster than building them with keyword
arguments (measured: docs/performance.md).
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from .._json import without_surrogates
from .._text import has_surrogate_escape

__all__ = [
    "INVALID",
    "SEVERITIES",
    "add_attribute",
    "decode_json",
    "epoch_nanos",
    "exception_parts",
    "set_resource",
    "set_value",
    "severity_number",
]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
#: Nesting deeper than this is sent as JSON text (a kvlist of kvlists of ...).
MAX_DEPTH = 16


def set_value(target: AnyValue, value: Any, depth: int = 0) -> None:
    """Store ``value`` in ``target`` with its type.

    Strings, ints, floats, bools and bytes as such, dicts as kvlists, lists as arrays,
    None as an empty value; integers beyond 64 bits, nesting deeper than ``MAX_DEPTH``
    and other objects as text.
    """
    kind = type(value)
    if kind is str:
        target.string_value = value
    elif kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif kind is float:
        target.double_value = value
    elif kind is bool:
        target.bool_value = value
    elif value is None:
        return
    elif kind is dict or kind is list:
        if depth >= MAX_DEPTH:
            target.string_value = json.dumps(value)
        elif kind is dict:
            kvlist = target.kvlist_value
            kvlist.SetInParent()  # an empty dict is still a map, not an empty value
            for key, item in value.items():
                entry = kvlist.values.add()
                entry.key = str(key)
                set_value(entry.value, item, depth + 1)
        else:
            array = target.array_value
            array.SetInParent()
            for item in value:
                set_value(array.values.add(), item, depth + 1)
    elif kind is bytes:
        target.bytes_value = value
    else:
        target.string_value = str(value)


# json.loads() is three Python calls and two regular expressions around this C scanner;
# the JSON the handler stores is compact, so the scanner alone reads it (a third faster).
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def decode_json(text: Any) -> Any:
    r"""The value of a JSON text, as ``json.loads`` gives it; ``INVALID`` if it is not JSON.

    A lone surrogate in its strings is given as the text ``\udXXX`` (``_text``).
    """
    try:
        value, end = _SCAN(text, 0)
        if end != len(text):
            value = json.loads(text)  # whitespace around it, or not JSON at all
    except (StopIteration, TypeError, ValueError, RecursionError):
        try:
            value = json.loads(text)
        except (TypeError, ValueError, RecursionError):
            return INVALID
    # JSON from other tools may escape lone surrogates, which protobuf cannot encode.
    return without_surrogates(value) if has_surrogate_escape(text) else value


#: What ``decode_json`` returns for text that is not JSON.
INVALID = object()


def add_attribute(attributes: Any, key: str, value: Any) -> None:
    """Append ``key`` = ``value`` (typed) to a repeated ``KeyValue`` field, unless None."""
    if value is not None:
        entry: KeyValue = attributes.add()
        entry.key = key
        set_value(entry.value, value)


def set_resource(resource: Resource, attributes: Mapping[str, Any], pid: int | None) -> None:
    """Fill ``resource`` with ``attributes`` and ``process.pid``."""
    for key, value in attributes.items():
        add_attribute(resource.attributes, key, value)
    add_attribute(resource.attributes, "process.pid", pid)


# Python levels to OpenTelemetry severity numbers, as opentelemetry-sdk's logging
# handler maps them (std_to_otel): 10 DEBUG=5, 20 INFO=9, 30 WARN=13, 40 ERROR=17,
# 50 FATAL=21; the levels just above each take its 2nd, 3rd and 4th step.
SEVERITIES: list[int] = (
    [0] * 10
    + [base + min(step, 3) for base in (5, 9, 13, 17) for step in range(10)]
    + [21, 22, 23, 24]
)


def severity_number(levelno: int | None) -> int:
    """The OpenTelemetry ``SeverityNumber`` of a Python level number (0: unspecified)."""
    if levelno is None or levelno < 10:
        return 0
    return SEVERITIES[levelno] if levelno < len(SEVERITIES) else 24


def epoch_nanos(created: float | None, timestamp: str | None) -> int:
    """Nanoseconds since the epoch from ``created``, else from the stored UTC text."""
    if created is not None:
        return int(created * 1e9)
    if timestamp:
        try:
            moment = datetime.fromisoformat(timestamp)
        except ValueError:
            return 0
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1e9)
    return 0


def exception_parts(text: str) -> tuple[str | None, str | None]:
    """``(exception.type, exception.message)`` from a rendered Python traceback.

    The exception line is the first unindented line after the last frame (``  File``
    line), as ``traceback.format_exception`` writes it: ``module.Type: message``, the
    message possibly running over further lines. Without frames, the first line.
    """
    lines = text.rstrip("\n").splitlines()
    start = 0
    for index, line in enumerate(lines):
        if line.startswith('  File "'):
            start = index + 1
    while start < len(lines) and lines[start][:1] in (" ", "\t"):
        start += 1
    if start >= len(lines):
        return None, None
    kind, sep, message = lines[start].partition(": ")
    rest = "\n".join(lines[start + 1 :])
    if not sep:
        return kind.strip() or None, rest or None
    return kind.strip(), f"{message}\n{rest}" if rest else message
