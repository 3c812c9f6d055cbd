"""``seldon-graph serve FILE --monitoring``: a real Prometheus scrapes the gateway and every
node of the running graph, Alertmanager answers, and both stop with the graph."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests

from graph.monitoring.query import AlertmanagerClient, PrometheusClient
from tests.fixtures.graphs import marked_pids, serve_process, stop_serve, tensor
from tests.monitoring.conftest import PromTools

pytestmark = pytest.mark.slow


def _url(log: str, name: str) -> str:
    found = re.search(rf"seldon-graph: {name} (http://127\.0\.0\.1:\d+)", log)
    assert found, f"serve printed no {name} URL:\n{log[-3000:]}"
    return found.group(1)


def test_serve_with_monitoring_scrapes_the_graph_and_stops_with_it(
    prom_tools: PromTools, toy_manifest: Path, log_dir: Path
) -> None:
    with serve_process(toy_manifest, log_dir, "--monitoring", "--quiet") as served:
        deadline = time.monotonic() + 30
        while "seldon-graph: alertmanager" not in served.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        prometheus = PrometheusClient(_url(served.log(), "prometheus"))
        alertmanager = AlertmanagerClient(_url(served.log(), "alertmanager"))
        nodes = served.nodes()
        up: list[dict] = []
        while time.monotonic() < deadline + 30:  # first scrapes ~5 s after the start
            up = prometheus.query("up == 1")
            if len(up) == 2 + len(nodes):
                break
            time.sleep(0.5)
        jobs = sorted(series["metric"]["job"] for series in up)
        assert jobs == sorted(["executor", "gateway"] + ["toy-nodes"] * len(nodes)), (
            prometheus.targets(),
            nodes,
        )
        assert prometheus.rule_groups(), "the project's rules are loaded"
        # the executor's own metrics, as a cluster's Prometheus scrapes them
        reply = requests.post(f"{served.url}/api/v1.0/predictions", json=tensor([1.0]), timeout=30)
        assert reply.status_code == 200, reply.text
        count = "seldon_api_executor_server_requests_seconds_count"
        query = f'sum({count}{{deployment_name="toy",service="predictions",code="200"}})'
        seen = None
        while time.monotonic() < deadline + 45 and not seen:
            seen = prometheus.scalar(query)
            time.sleep(0.5)
        assert seen and seen >= 1, f"{query} never reached Prometheus"
        assert isinstance(alertmanager.alerts(), list)  # it answers its API
        assert stop_serve(served) == 0
        assert marked_pids(served.marker) == [], "Prometheus or Alertmanager outlived serve"
