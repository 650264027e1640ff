"""Shipping a log database onward: to an OpenTelemetry Collector (OTLP) or PostgreSQL.

``Shipper`` follows the database as the application writes it and sends every committed
row at least once, resuming after a crash from a cursor kept in the database itself.
The destinations need optional extras: ``[otlp]`` (``opentelemetry-proto``) and
``[postgres]`` (``psycopg``); they are imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .cursors import Cursor, read_cursors, shipping_status
from .destination import Delivery, Destination, SourceInfo, destination_for
from .errors import (
    DestinationRefusedError,
    DestinationUnavailableError,
    RowsRejectedError,
    ShippingError,
    ShippingStoppedError,
)
from .shipper import Progress, Shipper

if TYPE_CHECKING:
    from .otlp import OTLPDestination
    from .postgres import PostgresDestination

__all__ = [
    "Cursor",
    "Delivery",
    "Destination",
    "DestinationRefusedError",
    "DestinationUnavailableError",
    "OTLPDestination",
    "PostgresDestination",
    "Progress",
    "RowsRejectedError",
    "Shipper",
    "ShippingError",
    "ShippingStoppedError",
    "SourceInfo",
    "destination_for",
    "read_cursors",
    "shipping_status",
]


def __getattr__(name: str) -> Any:
    """The destination classes, imported on first use (they need optional extras)."""
    if name == "OTLPDestination":
        from .otlp import OTLPDestination

        return OTLPDestination
    if name == "PostgresDestination":
        from .postgres import PostgresDestination

        return PostgresDestination
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
