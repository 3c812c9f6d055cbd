"""The manifests and the chart against a real API server with the SeldonDeployment CRD, and
``seldon-graph validate``'s schema verdicts against the server's."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from graph.manifest import load_file
from graph.validation import validate_file
from graph.validation.schema import find_schema, load_schema, schema_findings
from tests.charts.conftest import CHART, template
from tests.cluster.kube import Kube

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "graph" / "seldondeployment.yaml"
MANIFESTS = ROOT / "tests" / "graph" / "validation" / "manifests"
# Every manifest the offline checks read; bad-syntax.yaml never parses, bad-header.yaml
# names a kind the server does not serve (see its own test).
DOCUMENT_FILES = sorted(
    p
    for folder in ("valid", "warning", "invalid")
    for p in (MANIFESTS / folder).iterdir()
    if p.name not in {"bad-syntax.yaml", "bad-header.yaml"}
)
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))


def without_indexes(path: str) -> str:
    """``spec.predictors[0].replicas`` -> ``spec.predictors.replicas``: a 1.20 server names
    the schema path of a bad value, without list indexes."""
    return re.sub(r"\[\d+\]", "", path)


def server_verdict(kube: Kube, doc: dict[str, Any], namespace: str) -> set[str]:
    """The fields the server rejects in ``doc`` on a dry-run create (empty: accepted)."""
    doc = copy.deepcopy(doc)
    doc.setdefault("metadata", {})["namespace"] = namespace
    status, body = kube.create_sdep(doc, namespace, dry_run=True)
    if status == 201:
        return set()
    assert status == 422, body
    return {cause["field"] for cause in body["details"]["causes"]}


def test_the_project_manifest_passes_a_server_dry_run_then_applies_unchanged(kube: Kube) -> None:
    doc = yaml.safe_load(MANIFEST.read_text())
    namespace = doc["metadata"]["namespace"]
    kube.kubectl("create", "namespace", namespace)  # may exist from an earlier test
    dry = kube.kubectl("apply", "--dry-run=server", "-f", str(MANIFEST))
    assert dry.returncode == 0, dry.stderr
    assert "(server dry run)" in dry.stdout
    absent = kube.kubectl("get", "seldondeployment", doc["metadata"]["name"], "-n", namespace)
    assert "NotFound" in absent.stderr  # the dry run persisted nothing
    done = kube.kubectl("apply", "-f", str(MANIFEST))
    assert done.returncode == 0, done.stderr
    stored = kube.get_sdep(doc["metadata"]["name"], namespace)
    assert stored["spec"] == doc["spec"]  # nothing pruned: every field is in the schema


@pytest.mark.parametrize(
    "values", [None, *CI_VALUES], ids=lambda v: "default" if v is None else v.name
)
def test_the_chart_renders_objects_the_server_accepts_and_stores_unchanged(
    kube: Kube, namespace: str, values: Path | None, k8s_tools
) -> None:
    rendered = template(k8s_tools, values=[values] if values else [], namespace=namespace)
    assert rendered.returncode == 0, rendered.stderr
    dry = kube.apply_yaml(rendered.stdout, namespace, server_dry_run=True)
    assert dry.returncode == 0, dry.stderr
    done = kube.apply_yaml(rendered.stdout, namespace)
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    (sdep,) = [d for d in docs if d["kind"] == "SeldonDeployment"]
    assert kube.get_sdep(sdep["metadata"]["name"], namespace)["spec"] == sdep["spec"]


def test_the_chart_test_hook_pod_is_accepted_by_the_server(kube: Kube, namespace: str, k8s_tools):
    rendered = template(k8s_tools, namespace=namespace, skip_tests=False)
    assert rendered.returncode == 0, rendered.stderr
    pods = [d for d in yaml.safe_load_all(rendered.stdout) if d and d["kind"] == "Pod"]
    assert pods, "the chart renders a helm test Pod"
    dry = kube.apply_objects(pods, namespace, server_dry_run=True)
    assert dry.returncode == 0, dry.stderr


@pytest.mark.parametrize("path", DOCUMENT_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_validate_and_the_server_agree_on_every_schema_verdict(
    kube: Kube, namespace: str, path: Path
) -> None:
    schema_path = find_schema()
    assert schema_path is not None
    report = validate_file(str(path), load_schema(schema_path))
    compared = 0
    for doc, found in zip(load_file(path), report.documents, strict=True):
        if doc.body.get("kind") != "SeldonDeployment":  # other kinds: kubernetes-validate
            continue
        compared += 1
        offline = {
            without_indexes(f.path) for f in found.findings if f.message.startswith("schema: ")
        }
        assert server_verdict(kube, doc.body, namespace) == offline, doc.label
    assert compared >= 1, f"{path} holds no SeldonDeployment"


def test_schema_level_rejections_name_the_expected_fields(kube: Kube, namespace: str) -> None:
    expected = {
        "missing-graph-name.yaml": ({"spec.predictors.graph.name"}, "Required value"),
        "replicas-not-integer.yaml": ({"spec.predictors.replicas"}, "must be of type integer"),
    }
    for name, (fields, message) in expected.items():
        (doc,) = load_file(MANIFESTS / "invalid" / name)
        doc.body["metadata"]["namespace"] = namespace
        status, body = kube.create_sdep(doc.body, namespace, dry_run=True)
        assert status == 422, body
        assert {c["field"] for c in body["details"]["causes"]} == fields
        assert message in body["message"]


def test_webhook_rules_are_not_enforced_by_the_server_alone(kube: Kube, namespace: str) -> None:
    # Without the Seldon operator's webhook the server stores these; validate rejects them.
    for name in ("traffic-not-100.yaml", "bad-allowed-values.yaml", "two-shadows.yaml"):
        (doc,) = load_file(MANIFESTS / "invalid" / name)
        assert server_verdict(kube, doc.body, namespace) == set(), name


def test_a_wrong_kind_and_a_bad_name_are_refused_by_the_server(kube: Kube) -> None:
    wrong = kube.kubectl(
        "apply", "--dry-run=server", "-f", str(MANIFESTS / "invalid" / "bad-header.yaml")
    )
    assert wrong.returncode != 0
    assert 'no matches for kind "SeldonDeploy"' in wrong.stderr
    (doc,) = load_file(MANIFESTS / "invalid" / "bad-header.yaml")
    body = {**doc.body, "apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment"}
    assert server_verdict(kube, body, "default") == {"metadata.name"}


def test_null_values_are_pruned_by_the_server_as_validate_assumes(
    kube: Kube, namespace: str
) -> None:
    doc = yaml.safe_load(MANIFEST.read_text())
    doc["metadata"] = {"name": "nulls", "namespace": namespace}
    doc["spec"]["predictors"][0]["componentSpecs"] = None
    schema_path = find_schema()
    assert schema_path is not None
    assert schema_findings(doc, load_schema(schema_path)) == []
    status, body = kube.create_sdep(doc, namespace)
    assert status == 201, body
    assert "componentSpecs" not in body["spec"]["predictors"][0]


def test_helm_refuses_the_chart_on_1_20_as_its_kube_version_says(
    kube: Kube, namespace: str, k8s_tools
) -> None:
    # Chart.yaml asks for >= 1.23: the Seldon 1.17.1 operator reads autoscaling/v2 (see
    # docs/deploy.md), although every object the chart renders is accepted by 1.20 above.
    done = k8s_tools.run(
        "install", "digits", str(CHART), "-n", namespace, "--dry-run=server",
        f"--kubeconfig={kube.kubeconfig}",
    )  # fmt: skip
    assert done.returncode != 0
    assert "incompatible with Kubernetes v1.20.2" in done.stderr
