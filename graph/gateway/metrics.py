"""Prometheus metrics of the gateway, with fixed label names, in one private registry.

Per predictor (labels ``deployment, predictor, transport, method``): requests, errors
(plus ``code``) and a latency histogram of whole requests. Per node (labels
``deployment, predictor, node, method``): calls, errors and latency, fed by the executor
through :meth:`GatewayMetrics.observer` (its ``node_call`` hook). The runner's node
readiness and restarts, dropped shadow calls, the request logger's events (label
``outcome``: ``sent``, ``failed``, ``dropped``) and the manifest reloads (label ``outcome``:
``applied``, ``failed``) are counted too. Per predictor
(labels ``deployment, predictor``), the latest drift verdict tagged on its replies
(``drift.is_drift``, ``drift.p_value``, ``drift.window`` from the drift-detector node) is
kept in gauges, so the canary rollout can read each predictor's drift from the gateway.

Every metric name is a constant here; readers of the exposition (``graph.canary.health``)
use these constants, so a rename is one edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

# Metric names as exposed (counters with their ``_total``).
REQUESTS = "seldon_graph_requests_total"
REQUEST_ERRORS = "seldon_graph_request_errors_total"
REQUEST_SECONDS = "seldon_graph_request_seconds"  # histogram: _bucket, _count, _sum
NODE_CALLS = "seldon_graph_node_calls_total"
NODE_ERRORS = "seldon_graph_node_errors_total"
NODE_SECONDS = "seldon_graph_node_seconds"
NODE_READY = "seldon_graph_node_ready"
NODE_RESTARTS = "seldon_graph_node_restarts_total"
SHADOW_DROPPED = "seldon_graph_shadow_dropped_total"
LOGGER_EVENTS = "seldon_graph_request_logger_events_total"
RELOADS = "seldon_graph_manifest_reloads_total"
DRIFT_IS_DRIFT = "seldon_graph_drift_is_drift"
DRIFT_P_VALUE = "seldon_graph_drift_p_value"
DRIFT_WINDOW = "seldon_graph_drift_window"

PREDICTOR_LABELS = ("deployment", "predictor", "transport", "method")
NODE_LABELS = ("deployment", "predictor", "node", "method")
PROCESS_LABELS = ("deployment", "predictor", "node")
LOGGER_LABELS = ("deployment", "predictor", "outcome")  # outcome: LOGGER_OUTCOMES
LOGGER_OUTCOMES = ("sent", "failed", "dropped")
# Seconds; fine steps under 100 ms, where the gateway's own overhead shows.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
DRIFT_TAG = "drift.is_drift"


class GatewayMetrics:
    """All of the gateway's metrics; one instance per gateway (its own registry)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._request_metrics(self.registry)
        self._node_metrics(self.registry)
        self._event_metrics(self.registry)
        self._drift_metrics(self.registry)

    def _request_metrics(self, r: CollectorRegistry) -> None:
        self.requests = Counter(
            REQUESTS, "Requests answered, per predictor.", PREDICTOR_LABELS, registry=r
        )
        self.errors = Counter(
            REQUEST_ERRORS, "Requests answered with an error.",
            (*PREDICTOR_LABELS, "code"), registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            REQUEST_SECONDS, "Whole-request latency at the gateway.",
            PREDICTOR_LABELS, buckets=BUCKETS, registry=r,
        )  # fmt: skip

    def _node_metrics(self, r: CollectorRegistry) -> None:
        self.node_calls = Counter(
            NODE_CALLS, "Calls from the executor to a node.", NODE_LABELS, registry=r
        )
        self.node_errors = Counter(NODE_ERRORS, "Node calls that failed.", NODE_LABELS, registry=r)
        self.node_latency = Histogram(
            NODE_SECONDS, "Latency of one node call, seen by the executor.",
            NODE_LABELS, buckets=BUCKETS, registry=r,
        )  # fmt: skip
        self.node_ready = Gauge(
            NODE_READY, "1 when the node process answers its health check.",
            PROCESS_LABELS, registry=r,
        )  # fmt: skip
        self.node_restarts = Counter(
            NODE_RESTARTS, "Node processes restarted by the runner.", PROCESS_LABELS, registry=r
        )

    def _event_metrics(self, r: CollectorRegistry) -> None:
        self.shadow_dropped = Counter(
            SHADOW_DROPPED, "Mirrored requests dropped (limit reached).",
            ("deployment", "predictor"), registry=r,
        )  # fmt: skip
        self.logger_events = Counter(
            LOGGER_EVENTS, "Request-logger CloudEvents: sent, failed (the sink refused or was "
            "unreachable) or dropped (queue full).", LOGGER_LABELS, registry=r,
        )  # fmt: skip
        self.reloads = Counter(
            RELOADS, "Manifest re-reads for live weights: applied (weights changed) or failed "
            "(the file was kept out).", ("outcome",), registry=r,
        )  # fmt: skip

    def _drift_metrics(self, r: CollectorRegistry) -> None:
        labels = ("deployment", "predictor")
        self.drift = Gauge(
            DRIFT_IS_DRIFT, "Latest drift verdict on a reply (1 drift, 0 none).", labels, registry=r
        )
        self.drift_p = Gauge(
            DRIFT_P_VALUE, "p-value of the latest drift verdict on a reply.", labels, registry=r
        )
        self.drift_window = Gauge(
            DRIFT_WINDOW, "Windows the drift detector had tested (latest reply).",
            labels, registry=r,
        )  # fmt: skip

    def logger_event(self, deployment: str, predictor: str, outcome: str) -> None:
        """Count one request-logger event: ``sent``, ``failed`` or ``dropped``."""
        self.logger_events.labels(deployment, predictor, outcome).inc()

    def drift_tags(self, deployment: str, predictor: str, tags: Mapping[str, Any]) -> None:
        """Keep the ``drift.*`` tags of a reply (no-op when the graph has no detector)."""
        if DRIFT_TAG not in tags:
            return
        self.drift.labels(deployment, predictor).set(1.0 if tags[DRIFT_TAG] is True else 0.0)
        window, p_value = tags.get("drift.window"), tags.get("drift.p_value")
        if isinstance(window, int | float) and not isinstance(window, bool):
            self.drift_window.labels(deployment, predictor).set(float(window))
        if isinstance(p_value, int | float) and not isinstance(p_value, bool):
            self.drift_p.labels(deployment, predictor).set(float(p_value))

    def request(
        self,
        deployment: str,
        predictor: str,
        transport: str,
        method: str,
        seconds: float,
        code: int | str | None = None,
    ) -> None:
        """Record one answered request; ``code`` is the error's status, None on success."""
        labels = (deployment, predictor, transport, method)
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)
        if code is not None:
            self.errors.labels(*labels, str(code)).inc()

    def observer(self, deployment: str) -> NodeObserver:
        """The executor observer for one deployment's executors."""
        return NodeObserver(self, deployment)

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return bytes(generate_latest(self.registry))


class NodeObserver:
    """The executor's observer: ``node_call(predictor, node, method, seconds, error)``."""

    def __init__(self, metrics: GatewayMetrics, deployment: str) -> None:
        self._metrics = metrics
        self._deployment = deployment

    def node_call(
        self, predictor: str, node: str, method: str, seconds: float, error: object = None
    ) -> None:
        labels = (self._deployment, predictor, node, method)
        self._metrics.node_calls.labels(*labels).inc()
        self._metrics.node_latency.labels(*labels).observe(seconds)
        if error:
            self._metrics.node_errors.labels(*labels).inc()
