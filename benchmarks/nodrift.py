"""The ``graph_nodrift`` scenario's manifest: the graph's SeldonDeployment without a node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from benchmarks import servers

DRIFT_NODE = "drift-detector"


def without_node(document: dict[str, Any], node: str) -> dict[str, Any]:
    """A SeldonDeployment with ``node`` spliced out of each graph and its container gone."""

    def splice(graph: dict[str, Any]) -> dict[str, Any]:
        children: list[dict[str, Any]] = []
        for child in graph.get("children") or []:
            if child.get("name") == node:
                children.extend(splice(c) for c in child.get("children") or [])
            else:
                children.append(splice(child))
        return {**graph, "children": children}

    spec = dict(document["spec"])
    predictors = []
    for predictor in spec["predictors"]:
        if predictor["graph"].get("name") == node:
            raise ValueError(f"{node} is the root of predictor {predictor['name']}")
        components = [
            {**c, "spec": {**c["spec"], "containers": [
                k for k in c["spec"].get("containers", []) if k.get("name") != node]}}
            for c in predictor.get("componentSpecs") or []
        ]  # fmt: skip
        predictors.append({**predictor, "graph": splice(predictor["graph"]),
                           "componentSpecs": components})  # fmt: skip
    spec["predictors"] = predictors
    return {**document, "spec": spec}


def write_nodrift_manifest(manifest: Path) -> Path:
    """``manifest`` without the drift detector, in ``benchmarks/.work``."""
    document = yaml.safe_load(manifest.read_text())
    out = servers.WORK / "seldondeployment-nodrift.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(without_node(document, DRIFT_NODE), sort_keys=False))
    return out
