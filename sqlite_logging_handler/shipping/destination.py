"""What a destination is to the shipper, and what it is told about the source.

A destination takes the rows of one table at a time and returns once they are safely
acknowledged, or raises one of ``errors``' exceptions. It is chosen from a URL:
``http(s)://`` is an OpenTelemetry Collector (OTLP/HTTP), ``postgresql://`` (or
``postgres://``) a PostgreSQL database. Each lives in a module of its own and imports
its optional dependency only when used.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from ..exceptions import SQLiteLoggingError
from .source import Row

__all__ = [
    "Delivery",
    "Destination",
    "SourceInfo",
    "destination_for",
    "public_url",
    "resource_attributes",
]

#: The value OpenTelemetry SDKs use when no service name is configured.
UNKNOWN_SERVICE = "unknown_service"


@dataclass(frozen=True)
class SourceInfo:
    """The database being shipped, and the resource its records describe.

    ``resource`` holds OpenTelemetry resource attributes (``service.name``,
    ``host.name``, ``service.instance.id`` and the user's own); ``process.pid`` is
    added per row, from the process that logged it.
    """

    database: str
    instance_id: str
    resource: Mapping[str, str] = field(default_factory=dict)

    @property
    def service_name(self) -> str:
        """The ``service.name`` resource attribute."""
        return self.resource.get("service.name", UNKNOWN_SERVICE)

    @property
    def host_name(self) -> str | None:
        """The ``host.name`` resource attribute."""
        return self.resource.get("host.name")


class Delivery(NamedTuple):
    """What a destination says about rows it acknowledged."""

    rejected: int = 0  # rows it accepted the request for but dropped (OTLP partial success)
    message: str | None = None  # why, in its words
    duplicates: int = 0  # rows it already had (a re-send after a crash)


class Destination(Protocol):
    """Where rows go. ``send`` returns once the rows are acknowledged, or raises.

    A destination may also have a ``batch_size`` attribute: the rows per request it
    works best with (the shipper's default).
    """

    @property
    def key(self) -> str:
        """The name its cursor is stored under (a URL without credentials)."""

    def open(self, source: SourceInfo) -> None:
        """Connect and prepare (create tables, build the resource); called once."""

    def send(self, table: str, rows: Sequence[Row]) -> Delivery:
        """Deliver rows of ``table`` ("logs" or "metrics"), in ``schema`` column order.

        Raises:
            DestinationUnavailableError: try again later.
            RowsRejectedError: these rows are refused as data.
            DestinationRefusedError: nothing will be accepted.
        """

    def close(self) -> None:
        """Release connections. Idempotent."""


def destination_for(url: str) -> Destination:
    """The destination a URL names: ``http(s)://`` OTLP/HTTP, ``postgresql://`` PostgreSQL.

    Raises:
        ValueError: another scheme.
        SQLiteLoggingError: the optional dependency of that destination is missing.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        try:
            from .otlp import OTLPDestination
        except ImportError as exc:
            raise _missing("otlp", exc) from exc
        return OTLPDestination(url)
    if scheme in ("postgresql", "postgres"):
        try:
            from .postgres import PostgresDestination
        except ImportError as exc:
            raise _missing("postgres", exc) from exc
        return PostgresDestination(url)
    msg = f"cannot ship to {url!r}: use an http(s):// collector URL or a postgresql:// URL"
    raise ValueError(msg)


def _missing(extra: str, exc: ImportError) -> SQLiteLoggingError:
    msg = (
        f"shipping to {extra} needs the [{extra}] extra ({exc.name or exc} is missing): "
        f"pip install 'sqlite-logging-handler[{extra}]'"
    )
    return SQLiteLoggingError(msg)


def public_url(url: str) -> str:
    """``url`` without its password (and without a query, which may hold one)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 address
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))


def resource_attributes(
    instance_id: str,
    service_name: str | None = None,
    resource: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The resource of shipped records, as OpenTelemetry SDKs build one.

    From lowest to highest precedence: ``host.name`` (this host) and
    ``service.instance.id`` (the database's instance id); ``OTEL_RESOURCE_ATTRIBUTES``;
    ``OTEL_SERVICE_NAME``; ``resource``; ``service_name``. ``service.name`` defaults to
    ``unknown_service`` (OpenTelemetry's resource semantic conventions).
    """
    env = os.environ if environ is None else environ
    attributes = {"host.name": socket.gethostname(), "service.instance.id": instance_id}
    attributes.update(parse_key_values(env.get("OTEL_RESOURCE_ATTRIBUTES", "")))
    if env.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = env["OTEL_SERVICE_NAME"]
    attributes.update(resource or {})
    if service_name:
        attributes["service.name"] = service_name
    attributes.setdefault("service.name", UNKNOWN_SERVICE)
    return attributes


def parse_key_values(text: str) -> dict[str, str]:
    """``key=value,key2=value2`` (percent-encoded, as ``OTEL_RESOURCE_ATTRIBUTES``) as a dict."""
    pairs = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            pairs[unquote(key.strip())] = unquote(value.strip())
    return pairs
