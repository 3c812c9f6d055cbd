"""graph.containers.podspec: the manifest's pod spec as container-engine settings."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from graph.containers.podspec import container_runs, cpu_nanos, memory_bytes
from tests.deploy.conftest import ROOT

MANIFEST = yaml.safe_load((ROOT / "graph" / "seldondeployment.yaml").read_text())


def _container(predictor: str, name: str) -> dict[str, Any]:
    (spec,) = [p for p in MANIFEST["spec"]["predictors"] if p["name"] == predictor]
    (container,) = [
        c
        for component in spec["componentSpecs"]
        for c in component["spec"]["containers"]
        if c["name"] == name
    ]
    return container


@pytest.mark.parametrize(
    ("quantity", "nanos"), [("250m", 250_000_000), ("1", 10**9), ("2", 2 * 10**9), (0.5, 5 * 10**8)]
)
def test_cpu_quantities(quantity: str | float, nanos: int) -> None:
    assert cpu_nanos(quantity) == nanos


@pytest.mark.parametrize(
    ("quantity", "size"),
    [("512Mi", 512 * 2**20), ("1Gi", 2**30), ("1G", 10**9), ("256Mi", 2**28), (1024, 1024)],
)
def test_memory_quantities(quantity: str | int, size: int) -> None:
    assert memory_bytes(quantity) == size


def test_memory_quantity_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a memory quantity"):
        memory_bytes("lots")


@pytest.mark.parametrize("predictor", ["main", "canary"])
def test_each_node_runs_as_its_container_says(predictor: str) -> None:
    runs = container_runs(MANIFEST, predictor)
    assert sorted(runs) == ["classifier", "drift-detector", "transformer"]
    for node, run in runs.items():
        container = _container(predictor, node)
        assert run.image == container["image"]
        assert run.user == "8888:8888"
        assert run.read_only and run.no_new_privileges and run.cap_drop == ("ALL",)
        assert run.tmpfs == {"/tmp": f"rw,mode=1777,size={256 * 2**20}"}
        limits = container["resources"]["limits"]
        assert run.nano_cpus == cpu_nanos(limits["cpu"])
        assert run.mem_limit == memory_bytes(limits["memory"])
        for item in container["env"]:
            if "value" in item:
                assert run.environment[item["name"]] == item["value"]
        # OMP_NUM_THREADS comes from the CPU limit, rounded up as the kubelet does
        cores = -(-run.nano_cpus // 10**9)
        assert run.environment["OMP_NUM_THREADS"] == str(cores)
        assert run.labels["seldon-graph/predictor"] == predictor


def test_node_parameters_reach_the_wrapper_as_json() -> None:
    runs = container_runs(MANIFEST, "canary")
    params = json.loads(runs["classifier"].environment["PREDICTIVE_UNIT_PARAMETERS"])
    assert {"name": "model_uri", "type": "STRING", "value": "/mnt/models"} in params
    assert {"name": "device", "type": "STRING", "value": "auto"} in params
    assert runs["classifier"].gpus == 1 and runs["transformer"].gpus == 0
    assert runs["drift-detector"].environment["PREDICTIVE_UNIT_ID"] == "drift-detector"


def test_a_volume_that_is_not_an_empty_dir_is_refused() -> None:
    manifest = yaml.safe_load(yaml.safe_dump(MANIFEST))
    pod = manifest["spec"]["predictors"][0]["componentSpecs"][0]["spec"]
    pod["volumes"] = [{"name": "tmp", "hostPath": {"path": "/tmp"}}]
    with pytest.raises(ValueError, match="only emptyDir"):
        container_runs(manifest, "main")
