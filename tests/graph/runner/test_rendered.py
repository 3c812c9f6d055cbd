"""The runner takes each node's env, image, parameters and replicas from graph.render."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from graph.runner.launch import environment
from graph.runner.plan import NodePlan, copies, plan_deployment
from graph.runner.rendered import rendered_containers
from graph.spec import load_deployment
from model.errors import ManifestError
from tests.fixtures.graphs import ROOT, toy_manifest_doc

MANIFEST = ROOT / "graph" / "seldondeployment.yaml"
PORTS = (9100, 9101, 9102)


def plans_of(doc: dict[str, Any], models_dir: Path | None = None) -> dict[str, NodePlan]:
    plans = plan_deployment(load_deployment(doc), models_dir, rendered_containers(doc))
    return {p.key: p for p in plans}


def env_of(doc: dict[str, Any], key: str, models_dir: Path | None = None) -> dict[str, str]:
    return environment(plans_of(doc, models_dir)[key], PORTS, base={"PATH": "/bin"})


def container(doc: dict[str, Any], predictor: int, name: str) -> dict[str, Any]:
    containers = doc["spec"]["predictors"][predictor]["componentSpecs"][0]["spec"]["containers"]
    return next(c for c in containers if c["name"] == name)


def test_node_env_is_the_operators() -> None:
    env = env_of(toy_manifest_doc(), "toy/main/offset")
    assert env["PREDICTIVE_UNIT_ID"] == "offset"
    assert env["PREDICTIVE_UNIT_IMAGE"] == "toy:1"
    assert env["PREDICTOR_ID"] == "main" and env["SELDON_DEPLOYMENT_ID"] == "toy"
    assert json.loads(env["PREDICTOR_LABELS"]) == {"version": "main"}  # defaulted label
    assert env["SELDON_EXECUTOR_ENABLED"] == "true"
    assert env["PREDICTIVE_UNIT_METRICS_ENDPOINT"] == "/prometheus"
    assert env["MLSERVER_MODEL_NAME"] == "offset"
    params = json.loads(env["PREDICTIVE_UNIT_PARAMETERS"])
    assert {p["name"]: p["value"] for p in params} == {"name": "main-offset", "offset": "1"}


def test_local_ports_replace_the_rendered_ones() -> None:
    env = env_of(toy_manifest_doc(), "toy/main/offset")
    assert env["PREDICTIVE_UNIT_HTTP_SERVICE_PORT"] == env["MLSERVER_HTTP_PORT"] == "9100"
    assert env["PREDICTIVE_UNIT_GRPC_SERVICE_PORT"] == env["MLSERVER_GRPC_PORT"] == "9101"
    assert env["PREDICTIVE_UNIT_METRICS_SERVICE_PORT"] == env["MLSERVER_METRICS_PORT"] == "9102"
    assert env["PREDICTIVE_UNIT_SERVICE_PORT"] == "9100"  # REST transport: the HTTP port


def test_ids_the_container_sets_are_overridden() -> None:
    """seldondeployment_controller.go appends PREDICTIVE_UNIT_ID ... after the
    container's env: the operator's value is the last, and Kubernetes uses the last."""
    doc = toy_manifest_doc()
    container(doc, 0, "offset")["env"] += [
        {"name": "PREDICTIVE_UNIT_ID", "value": "mine"},
        {"name": "PREDICTOR_LABELS", "value": "{}"},
    ]
    env = env_of(doc, "toy/main/offset")
    assert env["PREDICTIVE_UNIT_ID"] == "offset"
    assert json.loads(env["PREDICTOR_LABELS"]) == {"version": "main"}


def test_container_parameters_are_used_when_the_node_has_none() -> None:
    """addModelEnvs sets PREDICTIVE_UNIT_PARAMETERS only for a node with parameters:
    without them the container's own value reaches the wrapper."""
    doc = toy_manifest_doc()
    doc["spec"]["predictors"][0]["graph"]["parameters"] = []
    own = [{"name": "offset", "type": "FLOAT", "value": "7"}]
    container(doc, 0, "offset")["env"].append(
        {"name": "PREDICTIVE_UNIT_PARAMETERS", "value": json.dumps(own)}
    )
    plan = plans_of(doc)["toy/main/offset"]
    assert [dict(p) for p in plan.parameters] == own
    assert json.loads(environment(plan, PORTS, base={})["PREDICTIVE_UNIT_PARAMETERS"]) == own


@pytest.mark.parametrize(
    "name", ["PREDICTIVE_UNIT_PARAMETERS", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT"]
)
def test_a_manifest_whose_container_env_the_operator_wipes_is_refused(name: str) -> None:
    """operator/utils/utils.go SetEnvVar(override=false) returns nil for a name the
    container has: the container loses its whole env in the cluster. The runner refuses
    it with the render check's message and the container's YAML path."""
    doc = toy_manifest_doc()
    container(doc, 0, "offset")["env"].append({"name": name, "value": "[]"})
    with pytest.raises(ManifestError) as caught:
        rendered_containers(doc)
    assert "drops this container's whole env list" in str(caught.value)
    assert caught.value.path == "spec.predictors[0].componentSpecs[0].spec.containers[0].env"


def test_mnt_models_parameters_map_to_the_models_dir(models_dir: Path) -> None:
    doc = dict(yaml.safe_load(MANIFEST.read_text()))
    env = env_of(doc, "digits/main/classifier", models_dir)
    values = [p["value"] for p in json.loads(env["PREDICTIVE_UNIT_PARAMETERS"])]
    assert str((models_dir / "v1").resolve()) in values
    assert not any(v.startswith("/mnt/models") for v in values)


def test_replicas_follow_the_operators_precedence() -> None:
    """componentSpec replicas, else predictor replicas, else spec replicas
    (seldondeployment_controller.go createDeploymentWithoutEngine)."""
    doc = toy_manifest_doc()
    doc["spec"]["replicas"] = 3
    doc["spec"]["predictors"][0]["replicas"] = 2
    doc["spec"]["predictors"][1]["componentSpecs"][0]["replicas"] = 4
    plans = plans_of(doc)
    assert plans["toy/main/offset"].replicas == 2
    assert plans["toy/canary/scale"].replicas == 4
    assert plans["toy/shadow/scale"].replicas == 3
    keys = [p.key for p in copies([plans["toy/main/offset"]])]
    assert keys == ["toy/main/offset", "toy/main/offset#1"]


def test_default_is_one_copy() -> None:
    plans = list(plans_of(copy.deepcopy(toy_manifest_doc())).values())
    assert [p.replicas for p in plans] == [1] * len(plans)
    assert copies(plans) == plans


def test_service_port_stays_the_grpc_one_for_a_grpc_graph() -> None:
    """createContainerService: PREDICTIVE_UNIT_SERVICE_PORT is the gRPC port when the
    graph talks gRPC (spec.transport grpc or the node's endpoint type GRPC)."""
    doc = toy_manifest_doc()
    doc["spec"]["transport"] = "grpc"
    assert env_of(doc, "toy/main/offset")["PREDICTIVE_UNIT_SERVICE_PORT"] == "9101"
