"""Scrape targets of a graph served locally (``seldon-graph serve``).

Two jobs per deployment, labelled ``seldon_deployment_id`` like the chart's PodMonitor
labels its targets: the gateway (the executor's metrics; ``/metrics`` today) and every
node's Python wrapper (``/prometheus`` on its metrics port, as the runner sets
``PREDICTIVE_UNIT_METRICS_ENDPOINT``). The node ports come from the runner's
``nodes.json`` state file (``{"<deployment>/<predictor>/<node>": {"metrics_port": ...}}``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from graph.monitoring.config import ScrapeTarget
from graph.runner.launch import METRICS_PATH
from graph.runner.ports import LOOPBACK
from model.errors import ConfigError

EXECUTOR_METRICS_PATH = "/prometheus"  # the executor's own metrics (its --prometheus_path)
GATEWAY_METRICS_PATH = "/metrics"  # the project's seldon_graph_* metrics


def node_metrics_ports(state: Mapping[str, Mapping[str, Any]]) -> dict[str, list[int]]:
    """Metrics ports per deployment, from the runner's ``nodes.json`` content."""
    ports: dict[str, list[int]] = {}
    for key, node in state.items():
        deployment = key.split("/", 1)[0]
        port = node.get("metrics_port")
        if not isinstance(port, int):
            raise ConfigError(f"nodes.json: {key} has no metrics_port")
        ports.setdefault(deployment, []).append(port)
    return ports


def gateway_targets(gateway: str) -> list[ScrapeTarget]:
    """The gateway (``host:port``): the executor's own metrics at ``/prometheus`` (job
    ``executor``, what a cluster's executor exports) and the project's at ``/metrics``."""
    return [
        ScrapeTarget("executor", [gateway], EXECUTOR_METRICS_PATH),
        ScrapeTarget("gateway", [gateway], GATEWAY_METRICS_PATH),
    ]


def local_scrape_targets(gateway: str, state_file: Path) -> list[ScrapeTarget]:
    """The gateway (``host:port``, see :func:`gateway_targets`) and every node of
    ``state_file`` (``nodes.json``), one node job per deployment."""
    try:
        state = json.loads(Path(state_file).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the runner state {state_file}: {exc}") from exc
    targets = gateway_targets(gateway)
    for deployment, ports in sorted(node_metrics_ports(state).items()):
        targets.append(
            ScrapeTarget(
                f"{deployment}-nodes",
                [f"{LOOPBACK}:{port}" for port in sorted(ports)],
                METRICS_PATH,
                {"seldon_deployment_id": deployment},
            )
        )
    return targets
