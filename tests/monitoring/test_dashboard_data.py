"""Every dashboard query finds series in a real Prometheus scraping what the graph's
processes export: Seldon's executor histograms (names, labels and buckets of Seldon Core
1.17.1's executor, recorded by prometheus_client: ``servers.ExecutorMetrics``), the
drift and classifier nodes' custom metrics (the project's own metric keys through
seldon-core's SeldonMetrics), and the local gateway's node restarts (the project's
GatewayMetrics)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from graph.gateway.metrics import GatewayMetrics
from graph.monitoring import DASHBOARD_FILE, PrometheusClient, ScrapeTarget, monitoring_stack
from model.batching.batcher import BatchResult
from model.drift.component import COUNTERS, GAUGES, THRESHOLD_GAUGE
from model.predictor import request_metrics
from tests.monitoring.conftest import PromTools
from tests.monitoring.servers import (
    ExecutorMetrics,
    MetricsEndpoint,
    SeldonNodeMetrics,
    registry_text,
)

# Panels fed only on clusters (kube-state-metrics) or while an alert fires.
CLUSTER_OR_ALERT_ONLY = re.compile(r"kube_pod_|ALERTS\{")
VARIABLES = {"$__rate_interval": "1m", "$deployment": "digits", "$predictor": ".*", "$node": ".*"}


def _drift_metrics() -> list[dict[str, Any]]:
    """One reply's metrics with the drift node's keys (model/drift/component.py)."""
    metrics = [{"type": "GAUGE", "key": THRESHOLD_GAUGE, "value": 0.05}]
    metrics += [{"type": "GAUGE", "key": key, "value": 0.5} for key in GAUGES]
    metrics += [{"type": "COUNTER", "key": key, "value": 1} for key in COUNTERS]
    return metrics


@pytest.fixture
def endpoints() -> Iterator[list[ScrapeTarget]]:
    executor = ExecutorMetrics("digits")
    for predictor in ("main", "canary"):
        executor.rest(predictor, 0.02)
        executor.rest(predictor, 0.3, code=500)
        executor.grpc(predictor, 0.01)
    gateway_metrics = GatewayMetrics()
    gateway_metrics.node_restarts.labels("digits", "main", "classifier").inc()
    gateway = MetricsEndpoint(registry_text(gateway_metrics.registry), path="/metrics")
    drift = SeldonNodeMetrics("digits", "main", "drift-detector")
    drift.metrics.update(_drift_metrics(), "inputtransform")
    classifier = SeldonNodeMetrics("digits", "main", "classifier")
    result = BatchResult(np.zeros((1, 10)), 4, 2, 1.5, 7.0, True)
    classifier.metrics.update(request_metrics(result), "predict")
    servers = [executor, gateway, drift, classifier]
    labels = {"seldon_deployment_id": "digits"}
    try:
        yield [
            ScrapeTarget("gateway", [gateway.hostport], "/metrics"),
            ScrapeTarget("digits-executor", [executor.hostport], "/prometheus", labels),
            ScrapeTarget(
                "digits-nodes", [drift.hostport, classifier.hostport], "/prometheus", labels
            ),
        ]
    finally:
        for server in servers:
            server.close()


def _queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            queries.append((f"{panel['title']} / {target['refId']}", expr))
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else ""
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", text)
        if match:  # Grafana's label_values(selector, label) as PromQL
            selector = match.group(1).replace("$deployment", "digits")
            expr = f"count by ({match.group(2)}) ({selector})"
            queries.append((f"variable {variable['name']}", expr))
    return queries


@pytest.mark.slow
def test_every_dashboard_query_finds_series(
    prom_tools: PromTools, endpoints: list[ScrapeTarget]
) -> None:
    queries = _queries()
    with monitoring_stack(endpoints) as stack:
        prom = PrometheusClient(stack.prometheus_url)
        deadline = time.monotonic() + 40
        empty = [name for name, _ in queries]
        while empty and time.monotonic() < deadline:
            time.sleep(1)
            empty = [
                name
                for name, expr in queries
                if not CLUSTER_OR_ALERT_ONLY.search(expr) and not prom.query(expr)
            ]
    assert len(queries) >= 25
    assert empty == []
