"""Metric rows as an OTLP ``ExportMetricsServiceRequest``.

Grouped as the logs are (resource per process, scope per logger), then one ``Metric`` per
name, kind and unit, with one data point per row (nothing is aggregated away):

- ``counter`` (``increment``): a ``Sum``, delta temporality, monotonic unless a row
  is negative;
- ``timer`` and ``histogram`` (``record``): a ``Histogram`` point of one observation
  (count 1, sum, min, max, the SDK's default bucket bounds), delta temporality;
- ``gauge``, and rows of unknown kind: a ``Gauge``.

Tags are the point's attributes (typed). The row's stable id rides in the point's one
exemplar (``filtered_attributes`` ``log.record.uid``), where it identifies the
measurement without becoming part of the time series' identity.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from .. import schema
from ._otlp_values import add_attribute, decode_json, epoch_nanos, set_resource, set_value
from .destination import SourceInfo
from .source import Row

__all__ = ["DEFAULT_BOUNDS", "MetricEncoder"]

_C = {name: index for index, name in enumerate(schema.METRIC_COLUMNS)}
_ID, _TIMESTAMP, _NAME, _VALUE, _UNIT = (
    _C["id"],
    _C["timestamp"],
    _C["metric_name"],
    _C["value"],
    _C["unit"],
)
_TAGS, _CREATED, _LOGGER, _PROCESS, _KIND = (
    _C["tags"],
    _C["created"],
    _C["logger"],
    _C["process"],
    _C["kind"],
)

#: The explicit bucket boundaries OpenTelemetry SDKs use by default for histograms
#: (metrics SDK specification, "Explicit Bucket Histogram Aggregation").
DEFAULT_BOUNDS = (
    0.0,
    5.0,
    10.0,
    25.0,
    50.0,
    75.0,
    100.0,
    250.0,
    500.0,
    750.0,
    1000.0,
    2500.0,
    5000.0,
    7500.0,
    10000.0,
)
_DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
_HISTOGRAMS = ("timer", "histogram")


class MetricEncoder:
    """Turns ``metrics`` rows into OTLP requests for one source database."""

    def __init__(self, source: SourceInfo) -> None:
        self._resource = dict(source.resource)
        self._uid = f"{source.instance_id}:"

    def encode(self, rows: Sequence[Row]) -> ExportMetricsServiceRequest:
        """One request holding every row, grouped by process, logger and metric."""
        groups: dict[tuple[Any, Any], dict[tuple[Any, Any, Any], list[Row]]] = {}
        for row in rows:
            metric = (row[_NAME], row[_KIND], row[_UNIT])
            groups.setdefault((row[_PROCESS], row[_LOGGER]), {}).setdefault(metric, []).append(row)
        request = ExportMetricsServiceRequest()
        resources: dict[Any, Any] = {}
        for (pid, logger), metrics in groups.items():
            resource_metrics = resources.get(pid)
            if resource_metrics is None:
                resource_metrics = resources[pid] = request.resource_metrics.add()
                set_resource(resource_metrics.resource, self._resource, pid)
            scope_metrics = resource_metrics.scope_metrics.add()
            scope_metrics.scope.name = str(logger or "")
            for (name, kind, unit), points in metrics.items():
                metric = scope_metrics.metrics.add()
                metric.name = str(name)
                metric.unit = str(unit or "")
                self._points(metric, kind, points)
        return request

    def _points(self, metric: Any, kind: Any, rows: list[Row]) -> None:
        if kind in _HISTOGRAMS:
            histogram = metric.histogram
            histogram.aggregation_temporality = _DELTA
            for row in rows:
                self._histogram_point(histogram.data_points.add(), row)
            return
        if kind == "counter":
            data = metric.sum
            data.aggregation_temporality = _DELTA
            data.is_monotonic = all(row[_VALUE] >= 0 for row in rows)
        else:
            data = metric.gauge
        for row in rows:
            point = data.data_points.add()
            nanos = self._common(point, row)
            point.as_double = row[_VALUE]
            if kind == "counter":
                point.start_time_unix_nano = nanos

    def _histogram_point(self, point: Any, row: Row) -> None:
        nanos = self._common(point, row)
        value = float(row[_VALUE])
        point.start_time_unix_nano = nanos
        point.count = 1
        point.sum = value
        point.min = value
        point.max = value
        point.explicit_bounds.extend(DEFAULT_BOUNDS)
        counts = [0] * (len(DEFAULT_BOUNDS) + 1)
        counts[bisect.bisect_left(DEFAULT_BOUNDS, value)] = 1  # buckets are (lower, upper]
        point.bucket_counts.extend(counts)

    def _common(self, point: Any, row: Row) -> int:
        """Time, tags and the exemplar carrying the row's uid; returns the time."""
        nanos = epoch_nanos(row[_CREATED], row[_TIMESTAMP])
        point.time_unix_nano = nanos
        if row[_TAGS] is not None:
            _add_tags(point.attributes, row[_TAGS])
        exemplar = point.exemplars.add()
        exemplar.time_unix_nano = nanos
        exemplar.as_double = float(row[_VALUE])
        add_attribute(exemplar.filtered_attributes, "log.record.uid", f"{self._uid}{row[_ID]}")
        return nanos


def _add_tags(attributes: Any, text: Any) -> None:
    tags = decode_json(text)
    if type(tags) is not dict:
        add_attribute(attributes, "tags", text)
        return
    for key, value in tags.items():
        entry = attributes.add()
        entry.key = key
        set_value(entry.value, value)
