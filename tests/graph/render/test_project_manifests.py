"""The shipped manifest and every chart values set render objects the API server would
accept; the old three-pvc manifest is refused at the right paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph.manifest import loads
from graph.render import render_objects
from graph.render.checks import ERROR, check_rendered
from graph.render.options import INGRESSES, RenderOptions
from graph.render.stream import render_stream
from graph.validation import validate_file
from tests.graph.render.conftest import CHART, MANIFEST, OLD_MANIFEST, K8sTools, load, template

CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))


def errors_of(doc: dict, ingress: str = "istio") -> list[str]:
    findings = check_rendered(render_objects(doc, RenderOptions(ingress=ingress)))
    return [str(f) for f in findings if f.severity == ERROR]


@pytest.mark.parametrize("ingress", INGRESSES)
def test_the_shipped_manifest_renders_clean(ingress: str) -> None:
    assert errors_of(load(MANIFEST), ingress) == []


def test_the_shipped_manifest_gives_each_node_its_own_deployment() -> None:
    rendered = [o.body for o in render_objects(load(MANIFEST))]
    deployments = sorted(o["metadata"]["name"] for o in rendered if o["kind"] == "Deployment")
    assert deployments == [
        f"digits-{p}-{i}-{n}"
        for p in ("canary", "main")
        for i, n in enumerate(("transformer", "drift-detector", "classifier"))
    ]
    (gpu_pod,) = [
        o["spec"]["template"]["spec"]
        for o in rendered
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "digits-main-2-classifier"
    ]
    assert gpu_pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert [c["name"] for c in gpu_pod["containers"]] == ["classifier"]


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda p: p.stem if p else "defaults")
def test_every_chart_values_set_renders_clean(k8s_tools: K8sTools, values: Path | None) -> None:
    done = template(k8s_tools, values=[values] if values else [])
    assert done.returncode == 0, done.stderr
    result = render_stream(loads(done.stdout, "<helm>"), RenderOptions())
    assert not result.failed, result.notes
    assert [f for f in result.findings if ": error: " in f] == []
    kinds = {body["kind"] for _, body in result.documents}
    assert {"Deployment", "Service", "VirtualService"} <= kinds


def test_the_old_three_pvc_manifest_is_refused_with_the_paths() -> None:
    doc = load(OLD_MANIFEST)
    findings = [f for f in check_rendered(render_objects(doc)) if f.severity == ERROR]
    assert {(f.ref, f.path) for f in findings} == {
        (
            f"Deployment/digits-{p}-0-transformer-drift-detector-classifier",
            f"spec.template.spec.volumes[{i}].name",
        )
        for p in ("main", "canary")
        for i in (4, 6)
    }
    assert {f.source for f in findings} == {
        f"spec.predictors[{i}].graph.children[0]{c}.modelUri"
        for i in (0, 1)
        for c in ("", ".children[0]")
    }


def test_validate_reports_the_old_manifest_at_the_model_uri() -> None:
    report = validate_file(str(OLD_MANIFEST), None)
    assert not report.valid
    lines = report.lines()
    assert len(lines) == 4
    assert any(
        "spec.predictors[0].graph.children[0].modelUri: rendered Deployment/digits-main-0-"
        "transformer-drift-detector-classifier: spec.template.spec.volumes[4].name: Duplicate "
        "value: 'kfserving-pvc-source'" in line
        for line in lines
    ), lines
