"""What can go wrong while shipping, sorted by what the shipper does about it.

- ``DestinationUnavailableError``: try again later (connection errors, HTTP 429/502/503/504,
  a database restarting); the rows stay behind the cursor.
- ``RowsRejectedError``: the destination refused these rows as data (HTTP 400, a value
  PostgreSQL cannot store); the shipper isolates the rows at fault and skips or stops.
- ``DestinationRefusedError``: the destination refuses to work at all (a wrong URL, a denied
  login, HTTP 404 or 500); retrying cannot help and skipping would drop everything, so
  the shipper stops with the destination's message.
"""

from __future__ import annotations

from ..exceptions import SQLiteLoggingError

__all__ = [
    "DestinationRefusedError",
    "DestinationUnavailableError",
    "RowsRejectedError",
    "ShippingError",
    "ShippingStoppedError",
]


class ShippingError(SQLiteLoggingError):
    """Base class of the shipper's errors."""


class DestinationUnavailableError(ShippingError):
    """The destination cannot take rows now; worth retrying.

    Args:
        message: what happened, with the destination's own words.
        retry_after: seconds the destination asked to wait (``Retry-After``), if any.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RowsRejectedError(ShippingError):
    """The destination refused the rows it was sent, as data; retrying them cannot help."""


class DestinationRefusedError(ShippingError):
    """The destination refuses every request (configuration, permissions, server fault)."""


class ShippingStoppedError(ShippingError):
    """The shipper stopped: a permanent refusal, or ``on_rejected="stop"`` met a rejection.

    The cursor stays before the first row not acknowledged, so a later run resumes there.
    """
