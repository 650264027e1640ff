"""MetricsAdapter: application metrics recorded through logging.

A metric is an ordinary log record that carries ``(name, value, unit, tags)`` in one
attribute. It travels through the logger like any record (levels, filters and other
handlers apply; a console handler shows ``metric db_query=12.3 ms``), and
``SQLiteHandler`` stores it in the ``metrics`` table instead of ``logs``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

from ._records import METRIC_ATTR, MetricPayload, level_number
from ._unrecorded import goes_nowhere, not_recorded

__all__ = ["MetricsAdapter", "Timer"]

_TIMER_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


class MetricsAdapter(logging.LoggerAdapter[logging.Logger]):
    """Records timings, counters and gauges through ``logger``.

    Args:
        logger: the logger the metric records go through.
        extra: default tags of every metric (per-call ``tags`` override them key by
            key); also merged into the ``extra`` of ordinary log calls, as for any
            ``LoggerAdapter``.
        level: the level of metric records (default INFO), a number or a name.

    Raises:
        ValueError: ``level`` is not a known level.
    """

    def __init__(
        self,
        logger: logging.Logger,
        extra: Mapping[str, object] | None = None,
        *,
        level: int | str = logging.INFO,
    ) -> None:
        super().__init__(logger, dict(extra or {}))
        self.level: int = level_number(level)
        self._reaches_a_handler = False

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        """Merge the adapter's ``extra`` under the call's own (the stdlib replaces it)."""
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs

    def record(
        self,
        name: str,
        value: float,
        unit: str | None = None,
        *,
        tags: Mapping[str, object] | None = None,
    ) -> None:
        """Record ``value`` for the metric ``name``: a measurement, stored as kind ``histogram``.

        Like OpenTelemetry's ``Histogram.record``: each value is one observation of a
        distribution (a response time, a payload size); shipped as a histogram.

        Raises:
            TypeError: ``value`` is not a real number (a string, None, a bool), or
                ``name``/``unit`` is not a string.
            ValueError: ``value`` is NaN or infinite, or ``name`` is empty.
        """
        self._emit(name, value, unit, tags, kind="histogram")

    def increment(
        self, name: str, value: float = 1, *, tags: Mapping[str, object] | None = None
    ) -> None:
        """Count ``value`` occurrences of ``name`` (unit ``count``, kind ``counter``).

        Each row is a delta; shipped as a monotonic sum.
        """
        self._emit(name, value, "count", tags, kind="counter")

    def gauge(
        self,
        name: str,
        value: float,
        unit: str | None = None,
        *,
        tags: Mapping[str, object] | None = None,
    ) -> None:
        """Record the current level of ``name`` (a queue depth, memory in use); kind ``gauge``."""
        self._emit(name, value, unit, tags, kind="gauge")

    def timer(
        self, name: str, *, unit: str = "ms", tags: Mapping[str, object] | None = None
    ) -> Timer:
        """Time a block (``with``) or every call of a function (``@``), on a monotonic clock.

        The elapsed time is recorded in ``unit`` (``ms`` by default; ``s``, ``us`` and
        ``ns`` also work) when the block ends, also when it raises: then with the tag
        ``error`` set to the exception's type name, and the exception propagates.
        Stored as kind ``timer``; shipped as a histogram.
        """
        if unit not in _TIMER_UNITS:
            msg = f"timer unit must be one of {sorted(_TIMER_UNITS)}, not {unit!r}"
            raise ValueError(msg)
        _check_name(name)
        return Timer(self, name, unit, tags)

    def _emit(
        self,
        name: str,
        value: float,
        unit: object,
        tags: Mapping[str, object] | None,
        stacklevel: int = 3,
        kind: str = "histogram",
    ) -> None:
        _check_name(name)
        number = _check_value(value)
        if unit is not None and not isinstance(unit, str):
            msg = f"metric unit must be a string or None, not {type(unit).__name__}"
            raise TypeError(msg)
        unit = unit or None
        if not self.logger.isEnabledFor(self.level):
            if self.level >= logging.INFO:  # DEBUG metrics are verbosity: see _unrecorded
                not_recorded(self.logger, self.level, stacklevel + 1)
            return
        if not self._reaches_a_handler:
            if goes_nowhere(self.logger, self.level):
                if self.level >= logging.INFO:
                    not_recorded(self.logger, self.level, stacklevel + 1)
            else:
                self._reaches_a_handler = True  # checked until the first time it does
        merged = {**(self.extra or {}), **(tags or {})}
        payload = MetricPayload(name, number, unit, merged or None, kind)
        template = "metric %s=%g %s" if unit else "metric %s=%g"
        args = (name, number, unit) if unit else (name, number)
        self.logger.log(
            self.level, template, *args, extra={METRIC_ATTR: payload}, stacklevel=stacklevel
        )


class Timer(contextlib.ContextDecorator):
    """Times a ``with`` block or each call of a decorated function; see ``MetricsAdapter.timer``.

    ``elapsed`` holds the last time measured, in the timer's unit.
    """

    def __init__(
        self,
        adapter: MetricsAdapter,
        name: str,
        unit: str,
        tags: Mapping[str, object] | None,
    ) -> None:
        self._adapter = adapter
        self.name = name
        self.unit = unit
        self._tags = dict(tags or {})
        self._started = 0.0
        self._stacklevel = 3  # the record names the line of the ``with``
        self.elapsed: float | None = None

    def _recreate_cm(self) -> Timer:
        # Each decorated call gets its own timer, so concurrent calls don't share a start.
        timer = Timer(self._adapter, self.name, self.unit, self._tags)
        timer._stacklevel = 4  # one more frame: the decorator's wrapper
        return timer

    def __enter__(self) -> Timer:
        self._started = time.perf_counter()  # monotonic, high resolution
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.elapsed = (time.perf_counter() - self._started) * _TIMER_UNITS[self.unit]
        tags = self._tags if exc_type is None else {**self._tags, "error": exc_type.__name__}
        self._adapter._emit(
            self.name, self.elapsed, self.unit, tags, self._stacklevel, kind="timer"
        )


def _check_name(name: object) -> None:
    if not isinstance(name, str):
        msg = f"metric name must be a string, not {type(name).__name__}"
        raise TypeError(msg)
    if not name:
        msg = "metric name must not be empty"
        raise ValueError(msg)


def _check_value(value: object) -> float:
    """``value`` as a float, if it is a finite real number; else a clear exception."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f"metric value must be a real number, not {type(value).__name__} {value!r}"
        raise TypeError(msg)
    number = float(value)
    if not math.isfinite(number):
        msg = f"metric value must be finite, not {value!r}"
        raise ValueError(msg)
    return number
