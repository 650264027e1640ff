"""Exponential backoff with jitter, and the HTTP ``Retry-After`` header.

The schedule follows the OpenTelemetry Collector's ``retry_on_failure`` defaults in
spirit (exponential, randomised by +-50 %, capped), and the OTLP/HTTP specification's
rule that a server's ``Retry-After`` is honoured.
"""

from __future__ import annotations

import email.utils
import random
import time

__all__ = ["Backoff", "parse_retry_after"]

#: The longest a server may make us wait in one go (seconds): a bad header should not
#: park the shipper for a day.
MAX_RETRY_AFTER = 3600.0


class Backoff:
    """Delays between retries, growing exponentially, randomised.

    ``initial`` seconds, times ``multiplier`` each attempt, up to ``maximum``, each
    randomised by +-``jitter`` (a fraction) so that many shippers retrying after one
    outage do not arrive together.
    """

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        multiplier: float = 2.0,
        jitter: float = 0.5,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
        self.attempts = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        """Seconds to wait before the next attempt; at least ``retry_after`` if given."""
        base = min(self.maximum, self.initial * self.multiplier**self.attempts)
        self.attempts += 1
        delay = base * random.uniform(1 - self.jitter, 1 + self.jitter)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return delay

    def reset(self) -> None:
        """Start again from ``initial`` (after a success)."""
        self.attempts = 0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date.

    Returns None when the header is absent or unreadable (RFC 9110, section 10.2.3).
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))
