"""``seldon-graph render FILE`` and ``render -`` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.graph.render.conftest import MANIFEST, OLD_MANIFEST, ROOT, K8sTools, template

CLI = Path(sys.executable).parent / "seldon-graph"


def render_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "render", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_render_file_prints_a_yaml_stream_of_the_operators_objects() -> None:
    done = render_cli(str(MANIFEST))
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    refs = [f"{d['kind']}/{d['metadata']['name']}" for d in docs]
    assert "Deployment/digits-main-2-classifier" in refs and "VirtualService/digits" in refs
    assert done.stdout.count("# Source: ") == len(docs)
    assert "error:" not in done.stderr and "warning:" in done.stderr


def test_render_stdin_reads_helm_template_and_passes_other_kinds_through(
    k8s_tools: K8sTools,
) -> None:
    rendered = template(k8s_tools, skip_tests=False)  # the chart's test Pod comes along
    done = render_cli("-", "--ingress", "ambassador", stdin=rendered.stdout)
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    kinds = {d["kind"] for d in docs}
    assert "SeldonDeployment" not in kinds and {"Mapping", "Pod"} <= kinds
    assert "VirtualService" not in kinds
    assert "passed through unchanged (not a SeldonDeployment)" in done.stderr


def test_render_exits_1_and_names_the_path_when_the_api_server_would_refuse() -> None:
    done = render_cli(str(OLD_MANIFEST))
    assert done.returncode == 1
    assert (
        "error: Deployment/digits-main-0-transformer-drift-detector-classifier: "
        "spec.template.spec.volumes[4].name: Duplicate value: 'kfserving-pvc-source'"
    ) in done.stderr
    assert "(from spec.predictors[0].graph.children[0].modelUri)" in done.stderr
    assert render_cli(str(OLD_MANIFEST), "--no-check").returncode == 0


def test_render_exits_2_on_unreadable_or_unrenderable_input(tmp_path: Path) -> None:
    assert render_cli(str(tmp_path / "missing.yaml")).returncode == 2
    doc = yaml.safe_load(MANIFEST.read_text())
    doc["spec"]["annotations"] = {"seldon.io/engine-separate-pod": "true"}
    done = render_cli("-", stdin=yaml.safe_dump(doc))
    assert done.returncode == 2 and "not rendered" in done.stderr


def test_a_malformed_seldon_deployment_is_not_rendered_and_says_why() -> None:
    doc = {"apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment"}
    doc |= {"metadata": {"name": "x"}, "spec": {"predictors": [{"name": "p"}]}}
    done = render_cli("-", stdin=yaml.safe_dump(doc))
    assert done.returncode == 2 and done.stdout == ""
    assert (
        "malformed SeldonDeployment (KeyError: 'graph'); run seldon-graph validate" in done.stderr
    )
