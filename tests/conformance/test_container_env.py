"""Each node's environment is the one the 1.17.1 operator gives its container.

Source: operator/controllers/seldondeployment_controller.go (addPortEnvs, addModelEnvs,
createContainerService) and python/seldon_core/metrics.py + env_utils.py (which labels the
wrapper derives from that env). The toy graph runs with real node processes.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import requests
import yaml

from tests.fixtures.graphs import ROOT, Served, tensor, toy_manifest_doc
from tests.fixtures.processes import VENV_BIN, free_port, scrape_until

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


def test_a_container_env_the_operator_wipes_is_refused_by_serve(tmp_path: Path) -> None:
    """operator/utils/utils.go SetEnvVar(override=false) returns nil when the container
    already sets the variable: in the cluster that container loses its whole env. serve
    refuses the manifest with the message render and validate give, and starts nothing."""
    doc = toy_manifest_doc()
    containers = doc["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"]
    containers[0]["env"].append({"name": "PREDICTIVE_UNIT_GRPC_SERVICE_PORT", "value": "9500"})
    path = tmp_path / "wiped.yaml"
    path.write_text(yaml.safe_dump(doc))
    ports = ["--http-port", str(free_port()), "--grpc-port", str(free_port())]
    serve = subprocess.run(
        [str(VENV_BIN / "seldon-graph"), "serve", str(path), *ports, "--run-dir",
         str(tmp_path / "run")], capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    validate = subprocess.run(
        [str(VENV_BIN / "seldon-graph"), "validate", str(path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    message = (
        "spec.predictors[0].componentSpecs[0].spec.containers[0].env: sets "
        "PREDICTIVE_UNIT_GRPC_SERVICE_PORT, which the operator also sets: Seldon Core 1.17.1 "
        "then drops this container's whole env list"
    )
    assert serve.returncode == 1 and message in serve.stderr, serve.stderr
    assert validate.returncode != 0 and message in validate.stdout + validate.stderr
    assert not (tmp_path / "run" / "nodes.json").exists()  # no node was started
