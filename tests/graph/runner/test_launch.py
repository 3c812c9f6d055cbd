"""What the runner starts for each node: plans, parameters, command and environment (pure)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
import yaml

from graph.runner.launch import (
    METRICS_PATH,
    command,
    environment,
    model_dir,
    plan_deployment,
    resolve_parameters,
    thread_share,
)
from graph.runner.ports import free_ports, port_is_free
from graph.spec import load_deployment
from model.errors import ConfigError, ManifestError
from tests.fixtures.graphs import ROOT, toy_container, toy_manifest_doc, toy_node

MANIFEST = ROOT / "graph" / "seldondeployment.yaml"


def digits_manifest() -> dict:
    return dict(yaml.safe_load(MANIFEST.read_text()))


# ------------------------------------------------------------------------ plans
def test_model_uri_maps_to_its_last_path_segment(tmp_path: Path) -> None:
    assert model_dir("pvc://digits-models/v1", tmp_path) == tmp_path / "v1"
    assert model_dir("gs://bucket/models/v2/", tmp_path) == tmp_path / "v2"
    with pytest.raises(ConfigError):
        model_dir("pvc://", tmp_path)


def test_models_dir_rewrites_mnt_models_parameters(models_dir: Path) -> None:
    spec = load_deployment(digits_manifest())
    plans = {p.key: p for p in plan_deployment(spec, models_dir)}
    assert len(plans) == 6  # three nodes per predictor
    main = dict((p["name"], p["value"]) for p in plans["digits/main/classifier"].parameters)
    canary = dict((p["name"], p["value"]) for p in plans["digits/canary/transformer"].parameters)
    assert main["model_uri"] == str((models_dir / "v1").resolve())
    assert canary["model_uri"] == str((models_dir / "v2").resolve())
    assert main["device"] == "auto"  # other parameters pass unchanged


def test_without_models_dir_parameters_pass_unchanged() -> None:
    spec = load_deployment(digits_manifest())
    node = spec.predictors[0].graph
    assert list(resolve_parameters(node, None)) == node.parameters_json()


def test_a_path_under_mnt_models_keeps_its_tail(models_dir: Path) -> None:
    doc = toy_manifest_doc(shadow=False)
    graph = doc["spec"]["predictors"][1]["graph"]
    graph["modelUri"] = "s3://models/v2"
    graph["parameters"].append({"name": "extra", "type": "STRING", "value": "/mnt/models/sub/x"})
    (params,) = [p.parameters for p in plan_deployment(load_deployment(doc), models_dir)
                 if p.predictor == "canary"]  # fmt: skip
    assert {
        "name": "extra",
        "type": "STRING",
        "value": f"{models_dir.resolve()}/v2/sub/x",
    } in params


def test_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="v1"):
        plan_deployment(load_deployment(digits_manifest()), tmp_path)


def test_class_and_environment_come_from_the_container(models_dir: Path) -> None:
    spec = load_deployment(digits_manifest())
    plan = {p.key: p for p in plan_deployment(spec, models_dir)}["digits/main/classifier"]
    assert plan.model_name == "model.predictor.TorchPredictor" and plan.service_type == "MODEL"
    ports = (9100, 9101, 9102)
    argv = command(plan, "seldon-core-microservice", ports)
    assert argv[:4] == ["seldon-core-microservice", "model.predictor.TorchPredictor",
                        "--service-type", "MODEL"]  # fmt: skip
    assert argv[4:] == ["--http-port", "9100", "--grpc-port", "9101", "--metrics-port", "9102"]
    env = environment(plan, ports, base={"PATH": "/bin"}, cwd=Path("/src"))
    assert json.loads(env["PREDICTIVE_UNIT_PARAMETERS"]) == [dict(p) for p in plan.parameters]
    assert env["PREDICTIVE_UNIT_ID"] == "classifier" and env["PREDICTOR_ID"] == "main"
    assert env["SELDON_DEPLOYMENT_ID"] == "digits"
    assert env["PREDICTIVE_UNIT_METRICS_ENDPOINT"] == METRICS_PATH
    assert env["GUNICORN_THREADS"] == "32" and env["GRPC_THREADS"] == "32"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == "/src"


@pytest.mark.parametrize(
    ("processes", "cpus", "share"), [(6, 2, 1), (6, 16, 2), (3, 16, 5), (1, 4, 4), (0, 2, 2)]
)
def test_each_node_gets_its_share_of_the_cpus(processes: int, cpus: int, share: int) -> None:
    assert thread_share(processes, cpus) == share


@pytest.mark.parametrize(
    ("caller", "container", "expected"),
    [(None, None, "2"), (None, "8", "2"), (None, "1", "1"), (None, "x", "2"), ("6", "1", "6")],
)
def test_torch_threads_are_capped_by_the_share_unless_the_caller_chose(
    models_dir: Path, caller: str | None, container: str | None, expected: str
) -> None:
    spec = load_deployment(digits_manifest())
    plan = {p.key: p for p in plan_deployment(spec, models_dir)}["digits/main/classifier"]
    if container is not None:
        plan = dataclasses.replace(
            plan, container_env={**plan.container_env, "OMP_NUM_THREADS": container}
        )
    base = {"PATH": "/bin"} | ({"OMP_NUM_THREADS": caller} if caller else {})
    env = environment(plan, (9100, 9101, 9102), base=base, threads=2)
    assert env["OMP_NUM_THREADS"] == expected


def test_a_node_without_container_must_be_a_builtin() -> None:
    doc = toy_manifest_doc(shadow=False)
    doc["spec"]["predictors"][1]["componentSpecs"] = []
    with pytest.raises(
        ManifestError, match=r"spec\.predictors\[1\]\.graph.*no container named 'scale'"
    ):
        plan_deployment(load_deployment(doc), None)
    doc["spec"]["predictors"][1]["graph"] = {
        "name": "ab", "type": "ROUTER", "implementation": "RANDOM_ABTEST",
        "children": [toy_node("a", "MODEL", {}), toy_node("b", "MODEL", {})],
    }  # fmt: skip
    doc["spec"]["predictors"][1]["componentSpecs"] = [
        {"spec": {"containers": [toy_container(n, "Scale", "MODEL") for n in ("a", "b")]}}
    ]
    nodes = [p.node for p in plan_deployment(load_deployment(doc), None) if p.predictor == "canary"]
    assert nodes == ["a", "b"]  # the built-in router runs inside the executor


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(6)
    assert len(set(ports)) == 6 and all(port_is_free(p) for p in ports)
