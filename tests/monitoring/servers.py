"""Loopback HTTP servers for the monitoring tests: metrics endpoints (a node's Seldon
wrapper, any prometheus_client registry) and an Alertmanager webhook receiver. Each runs
in a thread and stops on ``close()``."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from seldon_core.metrics import SeldonMetrics


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


class MetricsEndpoint(_Server):
    """Serves ``render()`` (Prometheus text) at ``path``, as a metrics port does."""

    def __init__(self, render: Callable[[], tuple[str, str]], path: str = "/prometheus") -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != path:
                    self.send_error(404)
                    return
                text, content_type = render()
                body = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)


def registry_text(registry: CollectorRegistry) -> Callable[[], tuple[str, str]]:
    """A ``render`` for :class:`MetricsEndpoint` from a prometheus_client registry."""
    return lambda: (generate_latest(registry).decode(), CONTENT_TYPE_LATEST)


# executor/api/metric/constants.go (Seldon Core v1.17.1): DefBuckets and label names.
EXECUTOR_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
SERVER_LABELS = ("deployment_name", "predictor_name", "predictor_version", "service")
CLIENT_LABELS = (*SERVER_LABELS, "model_name", "model_image", "model_version", "method", "code")
NODES = ("transformer", "drift-detector", "classifier")


class ExecutorMetrics(MetricsEndpoint):
    """The histograms Seldon's executor serves at ``/prometheus`` (same names, labels and
    buckets), recorded by prometheus_client for one deployment."""

    def __init__(self, deployment: str) -> None:
        self.deployment = deployment
        self.registry = CollectorRegistry()
        self.server = Histogram(
            "seldon_api_executor_server_requests_seconds", "executor server requests",
            (*SERVER_LABELS, "method", "code"), buckets=EXECUTOR_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.client = Histogram(
            "seldon_api_executor_client_requests_seconds", "executor client requests",
            CLIENT_LABELS, buckets=EXECUTOR_BUCKETS, registry=self.registry,
        )  # fmt: skip
        super().__init__(registry_text(self.registry))

    def rest(self, predictor: str, seconds: float, code: int = 200) -> None:
        """One REST prediction answered with ``code``, each node called once."""
        where = (self.deployment, predictor, "", "predictions")
        self.server.labels(*where, "post", str(code)).observe(seconds)
        for node in NODES:
            self.client.labels(*where, node, "seldon-graph", "0.1.0", "post", "200").observe(
                seconds / len(NODES)
            )

    def grpc(self, predictor: str, seconds: float, code: str = "OK") -> None:
        """One gRPC Predict answered with the gRPC ``code``."""
        where = (self.deployment, predictor, "", "/seldon.protos.Seldon/Predict")
        self.server.labels(*where, "unary", code).observe(seconds)


class SeldonNodeMetrics(MetricsEndpoint):
    """What a node's Python wrapper serves at ``/prometheus``: its custom metrics kept
    and exposed by seldon-core 1.17.1's own :class:`SeldonMetrics` (same names, labels,
    ``worker_id``), for one deployment, predictor and node."""

    def __init__(self, deployment: str, predictor: str, node: str = "drift-detector") -> None:
        labels = {"deployment_name": deployment, "predictor_name": predictor, "model_name": node}
        self.metrics = SeldonMetrics(extra_default_labels=labels)
        super().__init__(self.metrics.generate_metrics)

    def set_drift(self, is_drift: bool, p_val: float) -> None:
        """The gauges a drift node reports after testing a window (method inputtransform)."""
        self.metrics.update(
            [
                {"type": "GAUGE", "key": "seldon_metric_drift_is_drift", "value": float(is_drift)},
                {"type": "GAUGE", "key": "seldon_metric_drift_p_val", "value": p_val},
                {"type": "GAUGE", "key": "seldon_metric_drift_threshold", "value": 0.05},
            ],
            "inputtransform",
        )

    def close(self) -> None:
        super().close()
        self.metrics._manager.shutdown()  # the wrapper's shared-memory process


@dataclass(frozen=True)
class Notification:
    received: float  # time.monotonic() on arrival
    body: dict[str, Any]


class WebhookReceiver(_Server):
    """Collects Alertmanager's webhook POSTs (JSON) with their arrival time."""

    def __init__(self) -> None:
        self.notifications: queue.Queue[Notification] = queue.Queue()
        inbox = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                inbox.put(Notification(time.monotonic(), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return f"http://{self.hostport}/alerts"

    def wait_for(self, alertname: str, status: str, timeout: float) -> Notification:
        """The first notification for ``alertname`` with group ``status`` (firing/resolved)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                note = self.notifications.get(timeout=left)
            except queue.Empty:
                break
            if note.body.get("status") == status and any(
                alert["labels"].get("alertname") == alertname for alert in note.body["alerts"]
            ):
                return note
        raise TimeoutError(f"no {status} notification for {alertname} within {timeout:.0f}s")
