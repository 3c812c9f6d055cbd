"""checkov on the Helm chart and on the pods of the manifest, with the checks each config
file in tests/deploy/checkov/ skips (each with its reason there).

checkov (Apache-2.0) lives in its own virtualenv under ~/.cache/seldon-graph (its pins
do not fit the project's), made here when missing, and always runs with
``--skip-download``. checkov exits 0 when it finds nothing to scan, so each test also
counts the resources it scanned.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
import yaml

from graph.render import RenderOptions, render
from tests.deploy.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # the first run installs checkov
CONFIGS = Path(__file__).with_name("checkov")
CHECKOV_VENV = Path.home() / ".cache" / "seldon-graph" / "checkov-venv"
CHART = ROOT / "charts" / "seldon-graph"
MANIFEST = ROOT / "graph" / "seldondeployment.yaml"


@pytest.fixture(scope="session")
def checkov() -> Path:
    """The checkov command, installed once into its own virtualenv."""
    binary = CHECKOV_VENV / "bin" / "checkov"
    if not binary.exists():
        venv.create(CHECKOV_VENV, with_pip=True)
        subprocess.run(
            [
                str(CHECKOV_VENV / "bin" / "pip"),
                "install",
                "--quiet",
                "-r",
                str(CONFIGS / "requirements.txt"),
            ],
            check=True,
        )
    return binary


def operator_deployments(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The Deployments the Seldon 1.17.1 operator makes of the manifest (``seldon-graph
    render``: one per componentSpec, with the executor and the storage initializer)."""
    objects = render(manifest, RenderOptions())
    return [o for o in objects if o["kind"] == "Deployment"]


def run_checkov(checkov: Path, config: Path, target: list[str], cwd: Path) -> dict[str, Any]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # helm
    done = subprocess.run(
        [str(checkov), "--config-file", str(config), "--skip-download", "-o", "json", *target],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    return report if isinstance(report, dict) else report[0]


def scanned(report: dict[str, Any]) -> set[str]:
    results = report["results"]
    return {c["resource"] for key in ("passed_checks", "failed_checks") for c in results[key]}


def test_the_pods_of_the_manifest_pass_checkov(checkov: Path, tmp_path: Path) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    deployments = operator_deployments(manifest)
    target = tmp_path / "deployments.yaml"
    target.write_text(yaml.safe_dump_all(deployments, sort_keys=False))
    report = run_checkov(checkov, CONFIGS / "kubernetes.yaml", ["-f", str(target)], tmp_path)
    assert report["check_type"] == "kubernetes"
    names = {
        f"Deployment.{d['metadata']['namespace']}.{d['metadata']['name']}" for d in deployments
    }
    componentspecs = sum(len(p["componentSpecs"]) for p in manifest["spec"]["predictors"])
    assert len(names) == componentspecs and names <= scanned(report)
    assert report["summary"]["failed"] == 0
    assert report["summary"]["passed"] >= 40 * len(names), report["summary"]


def test_the_helm_chart_passes_checkov(checkov: Path, tmp_path: Path) -> None:
    report = run_checkov(checkov, CONFIGS / "helm.yaml", ["-d", str(CHART)], tmp_path)
    assert report["check_type"] == "helm"
    resources = scanned(report)
    assert any(r.startswith("Pod.") and r.endswith("-test-health") for r in resources), resources
    assert report["summary"]["resource_count"] >= 2  # the SeldonDeployment and the test Pod
    assert report["summary"]["failed"] == 0
