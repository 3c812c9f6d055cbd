"""Real helm and kubectl for the chart tests, and helpers to render the chart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "seldon-graph"
MANIFEST = ROOT / "graph" / "seldondeployment.yaml"
CRD_SCHEMA = ROOT.parent / "shared" / "seldon" / "seldondeployment-v1.schema.json"
INSTALL_SCRIPT = ROOT / "scripts" / "install_k8s_tools.py"
VENV = Path(sys.prefix)


@dataclass(frozen=True)
class K8sTools:
    helm: Path
    kubectl: Path

    def run(self, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        """Run ``helm ARGS`` and return the finished process (never raises on failure)."""
        return subprocess.run(
            [str(self.helm), *args], capture_output=True, text=True, cwd=cwd, timeout=120
        )


@pytest.fixture(scope="session")
def k8s_tools() -> K8sTools:
    """helm and kubectl in the virtualenv, installed by the project's script when missing."""
    tools = K8sTools(VENV / "bin" / "helm", VENV / "bin" / "kubectl")
    if not (tools.helm.exists() and tools.kubectl.exists()):
        subprocess.run(
            [sys.executable, str(INSTALL_SCRIPT), "--venv", str(VENV)], check=True, cwd=ROOT
        )
    return tools


def template(
    tools: K8sTools,
    *,
    values: Sequence[Path] = (),
    release: str = "digits",
    namespace: str = "seldon",
    skip_tests: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``helm template RELEASE charts/seldon-graph -n NAMESPACE [-f VALUES]...``."""
    args = ["template", release, str(CHART), "--namespace", namespace]
    for path in values:
        args += ["--values", str(path)]
    if skip_tests:
        args.append("--skip-tests")
    return tools.run(*args)


def documents(text: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a rendered chart."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def seldon_deployment(text: str) -> dict[str, Any]:
    """The one SeldonDeployment among the rendered documents."""
    found = [doc for doc in documents(text) if doc.get("kind") == "SeldonDeployment"]
    assert len(found) == 1, f"expected one SeldonDeployment, rendered {len(found)}"
    return found[0]


def render_ok(tools: K8sTools, **kwargs: Any) -> str:
    """Rendered chart text; fails the test with helm's stderr when rendering fails."""
    done = template(tools, **kwargs)
    assert done.returncode == 0, f"helm template failed:\n{done.stderr}"
    return done.stdout
