"""Each node's container as the operator renders it: the one source of the local env.

``graph.render`` produces the Deployments Seldon Core 1.17.1's operator creates; the
runner takes every graph node's container from them (its env after the operator's
``addPortEnvs``/``addModelEnvs``, resolved as the kubelet resolves ``resourceFieldRef``,
its image) and the pod's ``replicas``, so a node runs locally with the variables it gets
in the cluster: ``PREDICTIVE_UNIT_ID`` = container name, ``PREDICTIVE_UNIT_IMAGE``,
``PREDICTOR_ID``, ``PREDICTOR_LABELS`` (with the defaulted ``version``),
``SELDON_DEPLOYMENT_ID``, ``SELDON_EXECUTOR_ENABLED``, ``PREDICTIVE_UNIT_PARAMETERS``,
``PREDICTIVE_UNIT_METRICS_ENDPOINT`` ... with the operator's precedence. What the runner
replaces afterwards: the port variables (free loopback ports, ``launch.environment``)
and ``/mnt/models`` paths (``--models-dir``, ``plan.resolve_parameters``).

A manifest whose node container sets a variable the operator sets "unless present"
loses that container's whole env list in the cluster (``utils.SetEnvVar`` returns nil,
``operator/utils/utils.go``); the runner refuses it with the render check's message
(``graph.render.pitfalls.env_wipe_findings``) rather than start a node that would be
broken on the cluster.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.kubelet_env import container_env
from graph.manifest import load_file
from graph.render.checks import ERROR
from graph.render.executor import ENGINE_CONTAINER
from graph.render.options import NO_INGRESS, RenderOptions
from graph.render.pitfalls import env_wipe_findings
from graph.render.render import render_objects
from model.errors import ManifestError

KIND = "SeldonDeployment"
_PREDICTOR = re.compile(r"^spec\.predictors\[(\d+)\]")


@dataclass(frozen=True)
class RenderedContainer:
    """A graph node's container in the operator's Deployment."""

    name: str
    image: str
    env: Mapping[str, str] = field(default_factory=dict)
    replicas: int = 1
    pod_name: str = ""  # the Deployment's name: containers of one pod share it
    spec: Mapping[str, Any] = field(default_factory=dict)  # the rendered container
    pod: Mapping[str, Any] = field(default_factory=dict)  # the rendered pod template spec


Rendered = Mapping[tuple[str, str], RenderedContainer]  # (predictor, container name)


def _refuse_wiped_env(doc: dict[str, Any]) -> None:
    ref = f"{KIND}/{(doc.get('metadata') or {}).get('name')}"
    for finding in env_wipe_findings(doc, ref):
        if finding.severity == ERROR:
            raise ManifestError(finding.message, finding.path)


def _renderable(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy without what ``graph.render`` does not render but that does not change a
    node container (the executor's own pod or its absence, v2beta1 HPA metrics)."""
    doc = copy.deepcopy(doc)
    spec = doc.get("spec") or {}
    (spec.get("annotations") or {}).pop("seldon.io/engine-separate-pod", None)
    for predictor in spec.get("predictors") or ():
        (predictor.get("annotations") or {}).pop("seldon.io/no-engine", None)
        for component in predictor.get("componentSpecs") or ():
            ((component or {}).get("hpaSpec") or {}).pop("metrics", None)
    return doc


def _replicas(deployment: Mapping[str, Any], component: Mapping[str, Any]) -> int:
    """The Deployment's ``replicas`` (Kubernetes defaults a missing one to 1); an
    autoscaled componentSpec starts at its HPA's ``minReplicas`` (default 1)."""
    replicas = (deployment.get("spec") or {}).get("replicas")
    if replicas is None:
        replicas = (component.get("hpaSpec") or {}).get("minReplicas", 1)
    return int(replicas)


def rendered_containers(doc: dict[str, Any]) -> dict[tuple[str, str], RenderedContainer]:
    """The graph containers of one SeldonDeployment document, keyed by (predictor name,
    container name); the first Deployment holding a container wins."""
    _refuse_wiped_env(doc)
    predictors = doc["spec"]["predictors"]
    found: dict[tuple[str, str], RenderedContainer] = {}
    for obj in render_objects(_renderable(doc), RenderOptions(ingress=NO_INGRESS)):
        if obj.body.get("kind") != "Deployment":
            continue
        origin = obj.origins.get("", "")
        match = _PREDICTOR.match(origin)
        if match is None:
            continue
        predictor = predictors[int(match.group(1))]
        component_at = re.search(r"componentSpecs\[(\d+)\]", origin)
        component = predictor["componentSpecs"][int(component_at.group(1))] if component_at else {}
        replicas = _replicas(obj.body, component or {})
        pod = obj.body["spec"]["template"]["spec"]
        pod_name = str(obj.body["metadata"]["name"])
        for container in pod.get("containers") or ():
            name = str(container.get("name"))
            if name == ENGINE_CONTAINER:
                continue
            found.setdefault(
                (str(predictor["name"]), name),
                RenderedContainer(
                    name,
                    str(container.get("image", "")),
                    container_env(container),
                    replicas,
                    pod_name,
                    container,
                    pod,
                ),
            )
    return found


def _name(doc: Mapping[str, Any]) -> str:
    return str((doc.get("metadata") or {}).get("name") or (doc.get("spec") or {}).get("name"))


def load_rendered(manifest: Path) -> dict[str, dict[tuple[str, str], RenderedContainer]]:
    """``{deployment name: rendered containers}`` of every SeldonDeployment in a file."""
    out = {}
    for doc in load_file(manifest):
        if isinstance(doc.body, dict) and doc.body.get("kind") == KIND:
            out[_name(doc.body)] = rendered_containers(doc.body)
    return out
