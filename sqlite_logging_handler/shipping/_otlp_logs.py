"""Log rows as an OTLP ``ExportLogsServiceRequest``.

One ``ResourceLogs`` per process that logged (the resource plus ``process.pid``), one
``ScopeLogs`` per logger (the logger name is the instrumentation scope, as
OpenTelemetry's logging bridge names it). Each row becomes a ``LogRecord`` with the
attribute names of OpenTelemetry's semantic conventions (code, thread, exception) and
``log.record.uid`` = ``<database instance id>:<row id>``, stable across re-sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from .. import schema
from ._otlp_values import (
    SEVERITIES,
    add_attribute,
    decode_json,
    epoch_nanos,
    exception_parts,
    set_resource,
    set_value,
    severity_number,
)
from .destination import SourceInfo
from .source import Row

__all__ = ["RESERVED_ATTRIBUTES", "LogEncoder"]

_C = {name: index for index, name in enumerate(schema.LOG_COLUMNS)}
_ID, _TIMESTAMP, _LEVEL, _THREAD_ID = _C["id"], _C["timestamp"], _C["level"], _C["thread_id"]
_LOGGER, _MESSAGE, _EXTRA, _LEVELNO = _C["module"], _C["message"], _C["extra_data"], _C["levelno"]
_CREATED, _PATH, _LINENO, _FUNC = _C["created"], _C["pathname"], _C["lineno"], _C["func_name"]
_PROCESS, _THREAD_NAME, _EXC, _STACK = (
    _C["process"],
    _C["thread_name"],
    _C["exc_text"],
    _C["stack_info"],
)
_TRACE, _SPAN = _C["trace_id"], _C["span_id"]

#: Attributes the encoder sets from the row itself; an extra of the same name is not
#: sent (attribute keys must be unique, and the row's own facts win).
RESERVED_ATTRIBUTES = frozenset(
    {
        "code.file.path", "code.function.name", "code.line.number", "code.stacktrace",
        "thread.id", "thread.name", "exception.type", "exception.message",
        "exception.stacktrace", "log.record.uid",
    }
)  # fmt: skip


#: Call sites x threads whose common attributes are kept built.
_MAX_CACHED = 4096
#: The code location and thread attributes (semantic conventions), from their columns.
_COMMON = (
    ("code.file.path", _PATH),
    ("code.function.name", _FUNC),
    ("code.line.number", _LINENO),
    ("thread.id", _THREAD_ID),
    ("thread.name", _THREAD_NAME),
)


class LogEncoder:
    """Turns ``logs`` rows into OTLP requests for one source database."""

    def __init__(self, source: SourceInfo) -> None:
        self._resource = dict(source.resource)
        self._uid = f"{source.instance_id}:"
        # The code location and thread attributes, built once per call site and thread.
        self._common: dict[tuple[Any, ...], list[KeyValue]] = {}

    def encode(self, rows: Sequence[Row]) -> ExportLogsServiceRequest:
        """One request holding every row, grouped by process and logger, in row order."""
        request = ExportLogsServiceRequest()
        resources: dict[Any, Any] = {}
        scopes: dict[tuple[Any, Any], Any] = {}
        record = self._record
        for row in rows:
            key = (row[_PROCESS], row[_LOGGER])
            records = scopes.get(key)
            if records is None:
                records = scopes[key] = self._scope(request, resources, *key)
            record(records.add(), row)
        return request

    def _scope(self, request: Any, resources: dict[Any, Any], pid: Any, logger: Any) -> Any:
        resource_logs = resources.get(pid)
        if resource_logs is None:
            resource_logs = resources[pid] = request.resource_logs.add()
            set_resource(resource_logs.resource, self._resource, pid)
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.name = str(logger or "")
        return scope_logs.log_records

    def _common_attributes(self, values: tuple[Any, ...]) -> list[KeyValue]:
        if len(self._common) >= _MAX_CACHED:
            self._common.clear()
        message = LogRecord()
        for (key, _), value in zip(_COMMON, values, strict=True):
            add_attribute(message.attributes, key, value)
        self._common[values] = common = list(message.attributes)
        return common

    def _record(self, record: Any, row: Row) -> None:
        # The hottest code of OTLP shipping: fields are set in place, the common types
        # of the common attributes inline (see docs/performance.md).
        created = row[_CREATED]
        nanos = (
            int(created * 1e9) if type(created) is float else epoch_nanos(created, row[_TIMESTAMP])
        )
        record.time_unix_nano = nanos
        record.observed_time_unix_nano = nanos  # when the handler took it
        levelno = row[_LEVELNO]
        record.severity_number = (
            SEVERITIES[levelno]
            if type(levelno) is int and 0 <= levelno < len(SEVERITIES)
            else severity_number(levelno)
        )
        level, message = row[_LEVEL], row[_MESSAGE]
        record.severity_text = level if type(level) is str else str(level or "")
        if type(message) is str:
            record.body.string_value = message
        else:
            set_value(record.body, message)
        attributes = record.attributes
        add = attributes.add
        if row[_EXTRA] is not None:
            _add_extras(attributes, row[_EXTRA])
        key = (row[_PATH], row[_FUNC], row[_LINENO], row[_THREAD_ID], row[_THREAD_NAME])
        common = self._common.get(key)
        if common is None:
            common = self._common_attributes(key)
        attributes.extend(common)  # copied in C: twice as fast as setting them one by one
        if row[_EXC]:
            exc_type, text = exception_parts(str(row[_EXC]))
            add_attribute(attributes, "exception.type", exc_type)
            add_attribute(attributes, "exception.message", text)
            add_attribute(attributes, "exception.stacktrace", row[_EXC])
        if row[_STACK] is not None:
            add_attribute(attributes, "code.stacktrace", row[_STACK])
        entry = add()
        entry.key = "log.record.uid"
        entry.value.string_value = f"{self._uid}{row[_ID]}"
        if row[_TRACE]:
            _set_ids(record, row[_TRACE], row[_SPAN])


def _add_extras(attributes: Any, text: Any) -> None:
    """The record's extras as typed attributes (non-JSON text as ``extra_data``)."""
    extras = decode_json(text)
    if type(extras) is not dict:
        add_attribute(attributes, "extra_data", text)
        return
    add = attributes.add
    for key, value in extras.items():
        if key not in RESERVED_ATTRIBUTES:
            entry = add()
            entry.key = key
            if type(value) is str:
                entry.value.string_value = value
            else:
                set_value(entry.value, value)


def _set_ids(record: Any, trace_id: Any, span_id: Any) -> None:
    """Trace and span ids from their stored hex text; text that is not an id is left out."""
    try:
        trace = bytes.fromhex(trace_id)
        span = bytes.fromhex(span_id) if span_id else b""
    except (TypeError, ValueError):
        return
    if len(trace) == 16 and len(span) in (0, 8):
        record.trace_id = trace
        record.span_id = span
