"""Issue #11 "What breaks on a cluster today": executor timeouts where and how the
1.17.1 executor reads them, image references that say where the image lives, HTTP
readiness and OMP_NUM_THREADS in every node container, for the shipped manifest and
every chart values set."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from graph.manifest import loads
from graph.render import render_objects
from graph.render.checks import ERROR, WARNING
from graph.render.options import RenderOptions
from graph.render.pitfalls import pitfall_findings
from graph.render.stream import render_stream
from graph.validation import validate_document, validate_file
from tests.graph.render.conftest import (
    CHART,
    MANIFEST,
    K8sTools,
    container,
    load,
    node,
    one_model,
    predictor,
    sdep,
    template,
)

CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
REST, GRPC = "seldon.io/rest-timeout", "seldon.io/grpc-timeout"
NODES = ("transformer", "drift-detector", "classifier")


def _node_containers(rendered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        c
        for o in rendered
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
        if c["name"] in NODES
    ]


def _assert_cluster_ready(doc: dict[str, Any]) -> None:
    """No pitfalls (timeouts, images, env), the executor's keys in spec.annotations,
    and every rendered node container probed over HTTP on its `http` port, with
    OMP_NUM_THREADS from its CPU limit."""
    assert [str(f) for f in pitfall_findings(doc)] == []
    assert "annotations" not in doc["metadata"]
    assert {REST, GRPC} <= set(doc["spec"]["annotations"])
    containers = _node_containers([o.body for o in render_objects(doc)])
    assert len(containers) == 3 * len(doc["spec"]["predictors"])
    for c in containers:
        probe = c["readinessProbe"]
        assert probe["httpGet"] == {"path": "/health/status", "port": "http"}, c["name"]
        assert "http" in {p["name"] for p in c["ports"]}, c["name"]
        env = {e["name"]: e for e in c["env"]}
        ref = env["OMP_NUM_THREADS"]["valueFrom"]["resourceFieldRef"]
        assert ref == {"resource": "limits.cpu", "divisor": "1"}, c["name"]
        assert "cpu" in c["resources"]["limits"], c["name"]


def test_the_shipped_manifest_is_free_of_timeout_image_and_probe_pitfalls() -> None:
    _assert_cluster_ready(load(MANIFEST))


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda p: p.stem if p else "defaults")
def test_every_chart_values_set_is_free_of_the_same_pitfalls(
    k8s_tools: K8sTools, values: Path | None
) -> None:
    done = template(k8s_tools, values=[values] if values else [])
    assert done.returncode == 0, done.stderr
    (doc,) = [d.body for d in loads(done.stdout, "<helm>") if d.body["kind"] == "SeldonDeployment"]
    _assert_cluster_ready(doc)
    result = render_stream(loads(done.stdout, "<helm>"), RenderOptions())
    assert not result.failed and not result.has_errors, result.findings
    pitfalls = ("timeout", "docker.io/library", "OMP_NUM_THREADS", "readinessProbe")
    assert [f for f in result.findings if any(p in f for p in pitfalls)] == []


def _old_placement(doc: dict[str, Any]) -> dict[str, Any]:
    """The manifest as shipped before: timeouts in metadata.annotations, the Ambassador
    key, and an image with no registry."""
    old = copy.deepcopy(doc)
    del old["spec"]["annotations"]
    old["metadata"]["annotations"] = {REST: "5000", "seldon.io/grpc-read-timeout": "5000"}
    for p in old["spec"]["predictors"]:
        for component in p["componentSpecs"]:
            component["spec"]["containers"][0]["image"] = "seldon-graph:0.1.0"
    return old


def test_the_old_placement_and_image_are_warned_about(tmp_path: Path) -> None:
    old = _old_placement(load(MANIFEST))
    found = {(f.severity, f.path) for f in pitfall_findings(old)}
    assert (WARNING, f"metadata.annotations[{REST}]") in found
    assert (WARNING, "metadata.annotations[seldon.io/grpc-read-timeout]") in found
    image = "spec.predictors[1].componentSpecs[2].spec.containers[0].image"
    assert (WARNING, image) in found
    assert len(found) == 2 + 6
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(old))
    lines = validate_file(str(path), None).lines()
    assert lines[-1] == f"{path}: valid"  # warnings do not make it invalid
    assert (
        f"{path}: metadata.annotations[{REST}]: warning: never reaches the executor"
        in "\n".join(lines)
    )
    assert any("resolves to docker.io/library/seldon-graph:0.1.0" in line for line in lines)


def _with(spec_annotations: dict[str, str], **doc_extra: Any) -> dict[str, Any]:
    doc = one_model()
    doc["spec"]["annotations"] = spec_annotations
    doc.update(doc_extra)
    return doc


@pytest.mark.parametrize(
    ("annotations", "severity", "says"),
    [
        ({REST: "5s"}, ERROR, "exits at start"),
        ({REST: "2147483648"}, ERROR, "exits at start"),
        ({REST: "0"}, WARNING, "no timeout"),
        ({GRPC: "5s"}, WARNING, "logs it and uses no timeout"),
        ({GRPC: "0"}, WARNING, "DEADLINE_EXCEEDED"),
        ({"seldon.io/rest-read-timeout": "1"}, WARNING, f"reads {REST}"),
    ],
)
def test_values_the_executor_cannot_use_are_reported(
    annotations: dict[str, str], severity: str, says: str
) -> None:
    (key,) = annotations
    (finding,) = pitfall_findings(_with(annotations))
    assert (finding.severity, finding.path) == (severity, f"spec.annotations[{key}]")
    assert says in finding.message


def test_an_unparsable_rest_timeout_makes_the_manifest_invalid_at_its_path() -> None:
    findings = validate_document(_with({REST: "soon"}), None)
    assert [f.path for f in findings] == [f"spec.annotations[{REST}]"]


def test_an_equals_sign_in_any_executor_pod_annotation_hides_the_timeouts() -> None:
    (finding,) = pitfall_findings(_with({REST: "100", "note": "a=b"}))
    assert finding.path == "spec.annotations[note]" and "reads no timeout" in finding.message


def test_a_timeout_on_another_componentspec_or_a_separate_executor_pod_is_warned() -> None:
    doc = sdep(predictor("p", node("a", "MODEL", node("b")), [container("a")], [container("b")]))
    doc["spec"]["predictors"][0]["componentSpecs"][1]["metadata"] = {"annotations": {GRPC: "9"}}
    doc["spec"]["predictors"][0]["componentSpecs"][0]["metadata"] = {"annotations": {REST: "9"}}
    (finding,) = pitfall_findings(doc)
    assert finding.path == f"spec.predictors[0].componentSpecs[1].metadata.annotations[{GRPC}]"
    doc["spec"]["annotations"] = {"seldon.io/engine-separate-pod": "true", GRPC: "9"}
    paths = {f.path for f in pitfall_findings(doc)}
    assert f"spec.annotations[{GRPC}]" in paths
    assert f"spec.predictors[0].componentSpecs[0].metadata.annotations[{REST}]" in paths


@pytest.mark.parametrize(
    ("image", "warned"),
    [
        ("seldon-graph:0.1.0", True),
        ("seldon-graph", True),
        ("seldon-graph@sha256:" + "a" * 64, True),
        ("acme/seldon-graph:0.1.0", False),
        ("registry.example.com/ml/seldon-graph:0.1.0", False),
        ("localhost:5000/seldon-graph:0.1.0", False),
    ],
)
def test_only_images_that_resolve_to_docker_hubs_library_are_warned(
    image: str, warned: bool
) -> None:
    doc = sdep(predictor("p", node("m"), [container("m", image=image)]))
    assert bool(pitfall_findings(doc)) is warned
