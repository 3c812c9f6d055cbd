"""What the runner runs for each node: class, service type and parameters (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from graph.runner.plan import model_dir, plan_deployment, resolve_parameters
from graph.spec import load_deployment
from model.errors import ConfigError, ManifestError
from tests.fixtures.graphs import ROOT, toy_container, toy_manifest_doc, toy_node

MANIFEST = ROOT / "graph" / "seldondeployment.yaml"


def digits_manifest() -> dict:
    return dict(yaml.safe_load(MANIFEST.read_text()))


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
