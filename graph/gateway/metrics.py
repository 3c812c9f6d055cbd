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

Seldon Core 1.17.1's executor metrics (``executor/api/metric/``) live in a second registry,
:class:`ExecutorMetrics`, served at ``/prometheus``: ``seldon_api_executor_server_requests_
seconds`` (one per request the gateway answers, fed by the front ends) and ``seldon_api_
executor_client_requests_seconds`` (one per node hop, fed through
:meth:`NodeObserver.client_request`), each a histogram plus a ``_summary`` with quantiles.

Every metric name is a constant here; readers of the exposition (``graph.canary.health``)
use these constants, so a rename is one edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from graph.gateway.summary import QuantileSummary
from graph.spec import DeploymentSpec

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

# Seldon's executor (executor/api/metric/constants.go, server.go, client.go).
SERVER_SECONDS = "seldon_api_executor_server_requests_seconds"
CLIENT_SECONDS = "seldon_api_executor_client_requests_seconds"
SUMMARY_SUFFIX = "_summary"
SERVER_LABELS = ("deployment_name", "predictor_name", "predictor_version", "service", "method",
                 "code")  # fmt: skip
CLIENT_LABELS = ("deployment_name", "predictor_name", "predictor_version", "service",
                 "model_name", "model_image", "model_version", "method", "code")  # fmt: skip
EXECUTOR_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                    10.0)  # fmt: skip
EXECUTOR_QUANTILES = (0.5, 0.75, 0.9, 0.98, 0.99, 1.0)
# REST ``service`` label values of the server metric (metric/constants.go)
PREDICTIONS, FEEDBACK_SERVICE, STATUS, METADATA = "predictions", "feedback", "status", "metadata"


def image_and_version(image: str) -> tuple[str, str]:
    """``model_image`` and ``model_version`` as the executor splits a container image: on
    every ``:``, the version only when there are exactly two parts (``reg:5000/i:1`` gives
    ``reg`` and no version)."""
    parts = image.split(":")
    return parts[0], parts[1] if len(parts) == 2 else ""


def predictor_version(spec: DeploymentSpec | None, predictor: str) -> str:
    """The executor's ``predictor_version``: the predictor's ``annotations["version"]``."""
    for p in spec.predictors if spec is not None else ():
        if p.name == predictor:
            return p.annotations.get("version", "")
    return ""


class ExecutorMetrics:
    """The executor's server and client request metrics, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=r)
        self.server = Histogram(
            SERVER_SECONDS, "A histogram of latencies for executor server",
            SERVER_LABELS, buckets=EXECUTOR_BUCKETS, registry=r,
        )  # fmt: skip
        self.server_summary = QuantileSummary(
            SERVER_SECONDS + SUMMARY_SUFFIX, "A summary of latencies for executor server",
            SERVER_LABELS, EXECUTOR_QUANTILES, r,
        )  # fmt: skip
        self.client = Histogram(
            CLIENT_SECONDS, "A histogram of latencies for client calls from executor",
            CLIENT_LABELS, buckets=EXECUTOR_BUCKETS, registry=r,
        )  # fmt: skip
        self.client_summary = QuantileSummary(
            CLIENT_SECONDS + SUMMARY_SUFFIX, "A summary of latencies for client calls from "
            "executor", CLIENT_LABELS, EXECUTOR_QUANTILES, r,
        )  # fmt: skip

    def server_request(self, labels: tuple[str, ...], seconds: float) -> None:
        """One request answered; ``labels`` in ``SERVER_LABELS`` order."""
        self.server.labels(*labels).observe(seconds)
        self.server_summary.observe(labels, seconds)

    def client_request(self, labels: tuple[str, ...], seconds: float) -> None:
        """One node call answered; ``labels`` in ``CLIENT_LABELS`` order."""
        self.client.labels(*labels).observe(seconds)
        self.client_summary.observe(labels, seconds)

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))


class GatewayMetrics:
    """All of the gateway's metrics; one instance per gateway (its own registry)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._request_metrics(self.registry)
        self._node_metrics(self.registry)
        self._event_metrics(self.registry)
        self._drift_metrics(self.registry)
        self.executor = ExecutorMetrics()

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

    def server_request(
        self, spec: DeploymentSpec, predictor: str, service: str, method: str, code: str,
        seconds: float,
    ) -> None:  # fmt: skip
        """One request answered by the front end (the executor's server metric):
        ``service`` ``predictions``/``feedback``/``status``/``metadata`` and ``method``
        ``post``/``get`` over REST, the full gRPC method and ``unary`` over gRPC; ``code``
        the HTTP status or the gRPC code name (``OK``)."""
        version = predictor_version(spec, predictor)
        labels = (spec.name, predictor, version, service, method, code)
        self.executor.server_request(labels, seconds)

    def observer(self, deployment: str, spec: DeploymentSpec | None = None) -> NodeObserver:
        """The executor observer for one deployment's executors (``spec`` gives the
        executor metrics their predictor version and container images)."""
        return NodeObserver(self, deployment, spec)

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return bytes(generate_latest(self.registry))


class NodeObserver:
    """The executor's observer: ``node_call(predictor, node, method, seconds, error)`` for
    the project's node metrics, ``client_request(predictor, node, service, method, code,
    seconds)`` for the executor's client metric."""

    def __init__(
        self, metrics: GatewayMetrics, deployment: str, spec: DeploymentSpec | None = None
    ) -> None:
        self._metrics = metrics
        self._deployment = deployment
        self._spec = spec
        self._images: dict[tuple[str, str], tuple[str, str]] = {}
        for p in spec.predictors if spec is not None else ():
            for name, container in p.containers.items():
                self._images[p.name, name] = image_and_version(container.image)

    def client_request(
        self, predictor: str, node: str, service: str, method: str, code: str, seconds: float
    ) -> None:
        """One node call that got an answer, as the executor counts it: ``service`` the
        node path (``/predict``) over REST, the full gRPC method
        (``/seldon.protos.Model/Predict``) over gRPC; ``method`` ``post``/``get`` or
        ``unary``; ``code`` the node's HTTP status (``"200"``) or gRPC code name
        (``OK``). REST calls that got no HTTP answer (refused, timed out) are not
        reported; failed gRPC calls are."""
        image, version = self._images.get((predictor, node), ("", ""))
        labels = (self._deployment, predictor, predictor_version(self._spec, predictor),
                  service, node, image, version, method, code)  # fmt: skip
        self._metrics.executor.client_request(labels, seconds)

    def node_call(
        self, predictor: str, node: str, method: str, seconds: float, error: object = None
    ) -> None:
        labels = (self._deployment, predictor, node, method)
        self._metrics.node_calls.labels(*labels).inc()
        self._metrics.node_latency.labels(*labels).observe(seconds)
        if error:
            self._metrics.node_errors.labels(*labels).inc()
