"""Helpers for the rendering tests: small SeldonDeployments built in code, the shipped
manifest, and helm (the chart tests' fixture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from graph.render import RenderOptions, render
from tests.charts.conftest import CHART, K8sTools, k8s_tools, template

__all__ = ["CHART", "K8sTools", "k8s_tools", "template"]

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = ROOT / "graph" / "seldondeployment.yaml"
INVALID = ROOT / "tests" / "graph" / "validation" / "manifests" / "invalid"
OLD_MANIFEST = INVALID / "three-pvc-nodes-in-one-pod.yaml"


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def container(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": f"img/{name}:1", **extra}


def node(
    name: str, node_type: str = "MODEL", *children: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {"name": name, "type": node_type, "children": list(children), **extra}


def predictor(
    name: str, graph: dict[str, Any], *pods: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """A predictor whose componentSpecs hold the given container lists, one per pod."""
    components = [{"spec": {"containers": containers}} for containers in pods]
    return {"name": name, "graph": graph, "componentSpecs": components, "traffic": 100, **extra}


def sdep(
    *predictors: dict[str, Any], name: str = "sd", namespace: str = "ns", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"predictors": list(predictors), **spec},
    }


def one_model(**node_extra: Any) -> dict[str, Any]:
    """One predictor ``p`` with one MODEL node ``m`` in one pod."""
    return sdep(predictor("p", node("m", **node_extra), [container("m")]))


def objects(doc: dict[str, Any], **options: Any) -> dict[str, dict[str, Any]]:
    """Rendered objects by ``Kind/name``."""
    rendered = render(doc, RenderOptions(**options))
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in rendered}


def pod_of(rendered: dict[str, dict[str, Any]], deployment: str) -> dict[str, Any]:
    spec: dict[str, Any] = rendered[f"Deployment/{deployment}"]["spec"]["template"]["spec"]
    return spec


def by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [item for item in items if item.get("name") == name]
    return found


def env_of(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in c.get("env") or ()}
