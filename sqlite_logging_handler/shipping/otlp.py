"""OTLPDestination: rows to an OpenTelemetry Collector over OTLP/HTTP (protobuf, gzip).

Follows the OTLP/HTTP specification: ``POST <endpoint>/v1/logs`` and ``/v1/metrics``
with ``Content-Type: application/x-protobuf``; 200 is an acknowledgement (its
``partial_success`` counts what the collector dropped anyway); 429, 502, 503 and 504
are retried, honouring ``Retry-After``; 400 refuses the data; any other status is a
permanent failure. One keep-alive connection (the standard library's ``http.client``).
Needs the ``[otlp]`` extra (``opentelemetry-proto``).
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import ssl
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)

from .. import __version__
from ._backoff import parse_retry_after
from ._otlp_logs import LogEncoder
from ._otlp_metrics import MetricEncoder
from .destination import Delivery, SourceInfo, parse_key_values, public_url
from .errors import DestinationRefusedError, DestinationUnavailableError, RowsRejectedError
from .source import Row

__all__ = ["DEFAULT_MAX_REQUEST_BYTES", "OTLPDestination"]

#: Largest request body sent (bytes, before compression): the gRPC default message limit
#: (4 MiB) that a collector forwarding over OTLP/gRPC is held to, well under its HTTP
#: receiver's default 20 MiB. A larger batch is split in two until it fits.
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024
#: gzip level: 1 shrinks log batches about 13x (level 6: 15x) for 40 % of level 6's CPU.
GZIP_LEVEL = 1
RETRYABLE = frozenset({429, 502, 503, 504})
_PATHS = {"logs": "v1/logs", "metrics": "v1/metrics"}
_RESPONSES: dict[str, Any] = {
    "logs": (ExportLogsServiceResponse, "rejected_log_records"),
    "metrics": (ExportMetricsServiceResponse, "rejected_data_points"),
}
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class OTLPDestination:
    """An OpenTelemetry Collector (or any OTLP/HTTP receiver) at ``endpoint``.

    Args:
        endpoint: the base URL, e.g. ``http://collector:4318`` (``/v1/logs`` and
            ``/v1/metrics`` are appended, as for ``OTEL_EXPORTER_OTLP_ENDPOINT``).
        headers: extra request headers (e.g. authentication); default from
            ``$OTEL_EXPORTER_OTLP_HEADERS``.
        timeout: seconds to wait for a response before retrying.
        compression: ``"gzip"`` or ``"none"``.
        max_request_bytes: largest protobuf body per request (bytes).

    Raises:
        ValueError: an endpoint that is not an http(s) URL, or a bad option.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        compression: str = "gzip",
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            msg = f"an OTLP endpoint is an http(s) URL (http://collector:4318), not {endpoint!r}"
            raise ValueError(msg)
        if compression not in ("gzip", "none"):
            msg = f"compression must be 'gzip' or 'none', not {compression!r}"
            raise ValueError(msg)
        self.endpoint = endpoint
        self.key = f"otlp {public_url(endpoint)}"
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        base = parts.path.rstrip("/")
        self._paths = {table: f"{base}/{path}" for table, path in _PATHS.items()}
        env_headers = parse_key_values(os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", ""))
        self._headers = {
            "Content-Type": "application/x-protobuf",
            "User-Agent": f"sqlite-logging-handler/{__version__}",
            **(env_headers if headers is None else dict(headers)),
        }
        if compression == "gzip":
            self._headers["Content-Encoding"] = "gzip"
        self._gzip = compression == "gzip"
        self.timeout = timeout
        self.max_request_bytes = max_request_bytes
        #: Rows per request: well below collectors' batch limits (rotel: 8192).
        self.batch_size = 1000
        self._conn: http.client.HTTPConnection | None = None
        self._encoders: dict[str, Any] = {}

    def open(self, source: SourceInfo) -> None:
        """Build the encoders for ``source``'s resource (the connection opens on first use)."""
        self._encoders = {"logs": LogEncoder(source), "metrics": MetricEncoder(source)}

    def send(self, table: str, rows: Sequence[Row]) -> Delivery:
        """Send ``rows`` of ``table`` in as many requests as their size needs."""
        body = self._encoders[table].encode(rows).SerializeToString()
        if len(body) <= self.max_request_bytes:
            return self._post(table, body)
        if len(rows) == 1:
            msg = (
                f"{table} row {rows[0][0]} encodes to {len(body):,} bytes, more than the "
                f"{self.max_request_bytes:,} a request may carry"
            )
            raise RowsRejectedError(msg)
        middle = len(rows) // 2
        first, second = self.send(table, rows[:middle]), self.send(table, rows[middle:])
        message = "; ".join(m for m in (first.message, second.message) if m) or None
        return Delivery(first.rejected + second.rejected, message)

    def close(self) -> None:
        """Close the connection. Idempotent."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _post(self, table: str, body: bytes) -> Delivery:
        data = gzip.compress(body, GZIP_LEVEL) if self._gzip else body
        path = self._paths[table]
        retried = False
        while True:
            may_retry = not retried and self._conn is not None
            try:
                response, payload = self._request(path, data)
            except _STALE as exc:
                if may_retry:  # the server closed an idle keep-alive connection
                    retried = True
                    continue
                msg = f"cannot reach the collector at {self._url(path)}: {exc}"
                raise DestinationUnavailableError(msg) from exc
            return self._outcome(table, path, response, payload)

    def _request(self, path: str, data: bytes) -> tuple[http.client.HTTPResponse, bytes]:
        try:
            conn = self._connection()
            conn.request("POST", path, data, self._headers)
            response = conn.getresponse()
            payload = response.read()
        except _STALE:
            self.close()
            raise
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            msg = f"cannot reach the collector at {self._url(path)}: {exc}"
            raise DestinationUnavailableError(msg) from exc
        if response.will_close:
            self.close()
        return response, payload

    def _outcome(
        self, table: str, path: str, response: http.client.HTTPResponse, payload: bytes
    ) -> Delivery:
        if response.getheader("Content-Encoding", "").lower() == "gzip":
            payload = _gunzip(payload)
        status = response.status
        if 200 <= status < 300:
            return _partial_success(table, payload)
        reason = _error_message(payload, response.getheader("Content-Type", ""))
        msg = f"the collector at {self._url(path)} answered {status} {response.reason}"
        msg += f": {reason}" if reason else ""
        if status in RETRYABLE:
            raise DestinationUnavailableError(
                msg, parse_retry_after(response.getheader("Retry-After"))
            )
        if status in (400, 413):  # the data, or its size: isolate the rows at fault
            raise RowsRejectedError(msg)
        raise DestinationRefusedError(msg)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(
                    self._host,
                    self._port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                self._conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self.timeout
                )
        return self._conn

    def _url(self, path: str) -> str:
        """The URL of ``path`` on this endpoint, without credentials (for messages)."""
        parts = urlsplit(public_url(self.endpoint))
        return f"{parts.scheme}://{parts.netloc}{path}"


def _partial_success(table: str, payload: bytes) -> Delivery:
    """What a 200 response says the collector dropped (OTLP ``partial_success``)."""
    response_type, field = _RESPONSES[table]
    if not payload:
        return Delivery()
    try:
        response = response_type.FromString(payload)
    except Exception:  # not protobuf (a proxy's page): an acknowledgement all the same
        return Delivery()
    partial = response.partial_success
    return Delivery(int(getattr(partial, field)), partial.error_message or None)


def _error_message(payload: bytes, content_type: str) -> str:
    """The server's reason: a ``google.rpc.Status`` message, JSON ``message``, or text."""
    if not payload:
        return ""
    if "protobuf" in content_type:
        message = _status_message(payload)
        if message is not None:
            return message
    if "json" in content_type:
        try:
            return str(json.loads(payload).get("message", ""))[:500]
        except (ValueError, AttributeError):
            pass
    return payload.decode("utf-8", "replace").strip()[:500]


def _status_message(payload: bytes) -> str | None:
    """Field 2 (``message``) of a serialised ``google.rpc.Status``, if it parses."""
    index = 0
    try:
        while index < len(payload):
            key, index = _varint(payload, index)
            field, wire = key >> 3, key & 7
            if wire == 0:
                _, index = _varint(payload, index)
            elif wire == 2:
                length, index = _varint(payload, index)
                if field == 2:
                    return payload[index : index + length].decode("utf-8", "replace")
                index += length
            else:
                return None
    except IndexError:
        return None
    return None


def _varint(data: bytes, index: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[index]
        index += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index
        shift += 7


def _gunzip(payload: bytes) -> bytes:
    try:
        return gzip.decompress(payload)
    except (OSError, EOFError):
        return payload
