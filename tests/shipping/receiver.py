"""A small OTLP/HTTP receiver for the tests: records what arrives, decoded with
opentelemetry-proto, and answers as told (an outage, a 400, a Retry-After).

It stands behind the real collector (rotel exports to it) to see what the collector
delivered, or in front of the shipper where a test needs a collector that misbehaves.
"""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def python_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as the Python value it holds (typed)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return {kv.key: python_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [python_value(v) for v in value.array_value.values]
    return getattr(value, kind)


def attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: python_value(kv.value) for kv in pairs}


@dataclass
class Answer:
    """A scripted response: status, headers, body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class OTLPReceiver:
    """Listens on 127.0.0.1; ``logs``/``points`` hold what was accepted, flattened.

    ``script`` answers the next requests in order (then requests are accepted);
    ``judge(path, request)`` may refuse a request by content; ``hold`` (an Event),
    when cleared, makes requests wait before being answered, and ``hold_after`` clears
    it once that many requests were answered.
    """

    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []
        self.points: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str], int, float]] = []  # + monotonic time
        self.script: list[Answer] = []
        self.judge: Callable[[str, Any], Answer | None] | None = None
        self.hold = threading.Event()
        self.hold.set()
        self.hold_after: int | None = None
        self.drop_held = False  # held requests then fail (503), never recorded
        self.held = threading.Event()  # set while a request waits on ``hold``
        self.changed = threading.Condition()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.hold.set()
        self._server.shutdown()
        self._server.server_close()

    def log_uids(self) -> Counter[str]:
        with self.changed:
            return Counter(r["attributes"]["log.record.uid"] for r in self.logs)

    def point_uids(self) -> Counter[str]:
        with self.changed:
            return Counter(p["uid"] for p in self.points)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    # -- the HTTP side ---------------------------------------------------------------------

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                answer = receiver._receive(self.path, dict(self.headers), body)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def _receive(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        with self.changed:
            if self.hold_after is not None and len(self.requests) >= self.hold_after:
                self.hold.clear()
        if not self.hold.is_set():
            self.held.set()
            self.hold.wait()
            if self.drop_held:
                return Answer(503)
        logs = path.endswith("/v1/logs")
        request = (ExportLogsServiceRequest if logs else ExportMetricsServiceRequest).FromString(
            body
        )
        with self.changed:
            answer = self.script.pop(0) if self.script else None
        if answer is None and self.judge is not None:
            answer = self.judge(path, request)
        if answer is None:
            response = ExportLogsServiceResponse() if logs else ExportMetricsServiceResponse()
            answer = Answer(
                200, {"Content-Type": "application/x-protobuf"}, response.SerializeToString()
            )
            with self.changed:
                (self._add_logs if logs else self._add_points)(request)
        with self.changed:
            self.requests.append((path, headers, answer.status, time.monotonic()))
            self.changed.notify_all()
        return answer

    def _add_logs(self, request: ExportLogsServiceRequest) -> None:
        for resource_logs in request.resource_logs:
            resource = attributes(resource_logs.resource.attributes)
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    self.logs.append({
                        "resource": resource,
                        "scope": scope_logs.scope.name,
                        "time": record.time_unix_nano,
                        "severity_number": record.severity_number,
                        "severity_text": record.severity_text,
                        "body": python_value(record.body),
                        "attributes": attributes(record.attributes),
                        "trace_id": record.trace_id.hex(),
                        "span_id": record.span_id.hex(),
                    })  # fmt: skip

    def _add_points(self, request: ExportMetricsServiceRequest) -> None:
        for resource_metrics in request.resource_metrics:
            resource = attributes(resource_metrics.resource.attributes)
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    self._add_metric(resource, scope_metrics.scope.name, metric)

    def _add_metric(self, resource: dict[str, Any], scope: str, metric: Any) -> None:
        data_kind = metric.WhichOneof("data")
        data = getattr(metric, data_kind)
        for point in data.data_points:
            (exemplar,) = point.exemplars
            entry = {
                "resource": resource,
                "scope": scope,
                "name": metric.name,
                "unit": metric.unit,
                "type": data_kind,
                "time": point.time_unix_nano,
                "attributes": attributes(point.attributes),
                "uid": attributes(exemplar.filtered_attributes)["log.record.uid"],
                "temporality": getattr(data, "aggregation_temporality", None),
                "monotonic": getattr(data, "is_monotonic", None),
            }
            if data_kind == "histogram":
                entry.update(
                    value=point.sum, count=point.count, min=point.min, max=point.max,
                    buckets=list(point.bucket_counts), bounds=list(point.explicit_bounds),
                )  # fmt: skip
            else:
                entry["value"] = point.as_double
            self.points.append(entry)
