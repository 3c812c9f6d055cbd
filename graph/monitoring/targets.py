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


def local_scrape_targets(
    gateway: str,
    state_file: Path,
    gateway_path: str = "/metrics",
) -> list[ScrapeTarget]:
    """The gateway (``host:port``) and every node of ``state_file`` (``nodes.json``),
    one node job per deployment."""
    try:
        state = json.loads(Path(state_file).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the runner state {state_file}: {exc}") from exc
    targets = [ScrapeTarget("gateway", [gateway], gateway_path)]
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
