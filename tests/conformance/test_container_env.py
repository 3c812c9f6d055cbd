"""Each node's environment is the one the 1.17.1 operator gives its container.

Source: operator/controllers/seldondeployment_controller.go (addPortEnvs, addModelEnvs,
createContainerService) and python/seldon_core/metrics.py + env_utils.py (which labels the
wrapper derives from that env). The toy graph runs with real node processes.
"""

from __future__ import annotations

import re

import requests

from tests.fixtures.graphs import Served, tensor
from tests.fixtures.processes import scrape_until

LABELS = {
    "deployment_name": "toy",  # SELDON_DEPLOYMENT_ID
    "model_name": "offset",  # PREDICTIVE_UNIT_ID = container name
    "model_image": "toy",  # PREDICTIVE_UNIT_IMAGE "toy:1" split at the last ':'
    "model_version": "1",
    "predictor_name": "main",  # PREDICTOR_ID
    "predictor_version": "main",  # PREDICTOR_LABELS["version"], defaulted to the name
}


def _main_reply(served: Served) -> dict:
    """A reply of the main predictor (traffic 90/10: retried until main answers)."""
    for _ in range(50):
        reply = requests.post(f"{served.url}/api/v1.0/predictions", json=tensor([1]), timeout=10)
        assert reply.status_code == 200, reply.text
        if reply.headers.get("Seldon-Predictor") == "main":
            return dict(reply.json())
    raise AssertionError("the main predictor never answered")


def test_node_metrics_carry_the_operators_labels(toy_served: Served) -> None:
    """python/seldon_core/metrics.py: default labels from PREDICTIVE_UNIT_ID/IMAGE,
    PREDICTOR_ID, PREDICTOR_LABELS, SELDON_DEPLOYMENT_ID; served at
    PREDICTIVE_UNIT_METRICS_ENDPOINT=/prometheus on the metrics port (the operator's)."""
    _main_reply(toy_served)
    port = toy_served.nodes()["toy/main/offset"]["metrics_port"]
    url = f"http://127.0.0.1:{port}/prometheus"
    text = scrape_until(url, lambda t: "calls_main_offset_total{" in t, timeout=10)
    line = next(x for x in text.splitlines() if x.startswith("calls_main_offset_total{"))
    labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
    assert {k: labels.get(k) for k in LABELS} == LABELS, line


def test_request_path_names_each_node_with_its_image(toy_served: Served) -> None:
    """python/seldon_core/utils.py get_request_path: {PREDICTIVE_UNIT_ID:
    PREDICTIVE_UNIT_IMAGE} per node, accumulated along the chain."""
    body = _main_reply(toy_served)
    assert body["meta"]["requestPath"] == {"offset": "toy:1", "scale": "toy:1"}
