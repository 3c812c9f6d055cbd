"""What to run for each graph node: the component class, its service type and parameters.

Pure functions over the typed manifest (no processes here).

The class comes from the node's container (same name as the node, as the operator
requires) and its ``MODEL_NAME`` env; ``SERVICE_TYPE`` from the same env, else from the
node ``type``. A node without a container must be a built-in ``implementation`` that the
executor runs itself (``RANDOM_ABTEST`` ...), otherwise it is a :class:`ManifestError`.

``--models-dir`` rule (documented in the README): a node's ``modelUri`` (for instance
``pvc://digits-models/v1``) maps to ``DIR/<last path segment>`` (``DIR/v1``), and every
parameter whose value is ``/mnt/models`` (where Seldon's storage initializer puts the
model) or a path under it is rewritten to that directory. Without a models directory the
parameters pass unchanged.
"""

from __future__ import annotations

import json
import logging
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from graph.roles import is_builtin
from graph.runner.rendered import Rendered, RenderedContainer
from graph.spec import DeploymentSpec, NodeSpec, PredictorSpec
from model.errors import ConfigError, ManifestError

MOUNT = "/mnt/models"
log = logging.getLogger(__name__)
_SERVICE_TYPES = {
    "MODEL": "MODEL",
    "TRANSFORMER": "TRANSFORMER",
    "OUTPUT_TRANSFORMER": "OUTPUT_TRANSFORMER",
    "ROUTER": "ROUTER",
    "COMBINER": "COMBINER",
}


@dataclass(frozen=True)
class NodePlan:
    """One node to run: ``key`` is ``deployment/predictor/node``."""

    deployment: str
    predictor: str
    node: str
    model_name: str
    service_type: str
    parameters: tuple[Mapping[str, str], ...]
    container_env: Mapping[str, str] = field(default_factory=dict)
    image: str = ""
    replicas: int = 1  # copies to run (the operator's Deployment replicas)
    replica: int = 0  # which copy this plan is (``copies``)
    rendered: bool = False  # container_env is the operator's rendering (graph/runner/rendered.py)

    @property
    def key(self) -> str:
        base = f"{self.deployment}/{self.predictor}/{self.node}"
        return f"{base}#{self.replica}" if self.replica else base

    def parameters_json(self) -> str:
        return json.dumps([dict(p) for p in self.parameters])


def model_dir(model_uri: str, models_dir: Path) -> Path:
    """``DIR/<last path segment of modelUri>``."""
    segment = posixpath.basename(model_uri.rstrip("/"))
    if not segment or segment.endswith(":"):
        raise ConfigError(f"modelUri '{model_uri}' has no last path segment to map")
    return models_dir / segment


def rendered_parameters(node: NodeSpec, env: Mapping[str, str]) -> list[dict[str, str]]:
    """``PREDICTIVE_UNIT_PARAMETERS`` of a rendered container (the node's parameters, or
    the container's own value where the node has none), as a list."""
    text = env.get("PREDICTIVE_UNIT_PARAMETERS")
    if text is None:
        return []
    try:
        params = json.loads(text)
        return [{k: str(v) for k, v in p.items()} for p in params]
    except (ValueError, TypeError, AttributeError) as exc:
        raise ManifestError(
            f"PREDICTIVE_UNIT_PARAMETERS of container '{node.name}' is not a JSON list of "
            f"parameters ({exc}): seldon-core-microservice would not start",
            node.path,
        ) from exc


def resolve_parameters(
    node: NodeSpec, models_dir: Path | None, given: list[dict[str, str]] | None = None
) -> tuple[Mapping[str, str], ...]:
    """The node's parameters (or ``given``), with ``/mnt/models`` paths mapped under
    ``models_dir``."""
    params = node.parameters_json() if given is None else given
    if models_dir is None:
        return tuple(params)
    mounted = [p for p in params if p["value"] == MOUNT or p["value"].startswith(MOUNT + "/")]
    if not mounted:
        return tuple(params)
    if not node.model_uri:
        raise ManifestError(
            f"parameter '{mounted[0]['name']}' points at {MOUNT} but the node has no "
            "modelUri to map with --models-dir",
            f"{node.path}.modelUri",
        )
    local = model_dir(node.model_uri, models_dir).resolve()
    if not local.is_dir():
        raise ConfigError(
            f"{node.path}: modelUri '{node.model_uri}' maps to {local}, which is not a "
            "directory (train the models or fix --models-dir)"
        )
    out = []
    for p in params:
        value = p["value"]
        if value == MOUNT or value.startswith(MOUNT + "/"):
            value = str(local) + value[len(MOUNT) :]
        out.append({**p, "value": value})
    return tuple(out)


def plan_node(
    deployment: DeploymentSpec,
    predictor: PredictorSpec,
    node: NodeSpec,
    models_dir: Path | None,
    rendered: RenderedContainer | None = None,
) -> NodePlan | None:
    """The plan for one node, or None for a built-in the executor runs itself. With
    ``rendered`` (the operator's container) its env, image and replicas are used."""
    container = predictor.containers.get(node.name)
    source = rendered if rendered is not None else container
    env = dict(source.env) if source is not None else {}
    model_name = env.get("MODEL_NAME", "")
    if not model_name:
        if is_builtin(node.implementation) or not node.role.needs_client:
            return None
        what = (
            f"container '{node.name}' has no MODEL_NAME env"
            if container
            else f"no container named '{node.name}' in componentSpecs"
        )
        raise ManifestError(
            f"cannot run node '{node.name}' locally: {what} (and implementation "
            f"'{node.implementation or 'none'}' is not a built-in)",
            node.path,
        )
    service_type = env.get("SERVICE_TYPE") or _SERVICE_TYPES.get(node.type, "MODEL")
    given = rendered_parameters(node, env) if rendered is not None else None
    return NodePlan(
        deployment=deployment.name,
        predictor=predictor.name,
        node=node.name,
        model_name=model_name,
        service_type=service_type,
        parameters=resolve_parameters(node, models_dir, given),
        container_env=env,
        image=rendered.image if rendered else (container.image if container else ""),
        replicas=rendered.replicas if rendered else 1,
        rendered=rendered is not None,
    )


def plan_deployment(
    deployment: DeploymentSpec, models_dir: Path | None, rendered: Rendered | None = None
) -> list[NodePlan]:
    """Plans for every node of every predictor (built-ins left out); ``rendered`` is
    ``graph.runner.rendered.rendered_containers`` of the deployment's document."""
    plans = []
    for predictor in deployment.predictors:
        for node in predictor.graph.walk():
            container = (rendered or {}).get((predictor.name, node.name))
            plan = plan_node(deployment, predictor, node, models_dir, container)
            if plan is not None:
                plans.append(plan)
    return plans


def copies(plans: list[NodePlan]) -> list[NodePlan]:
    """One plan per replica: ``replica`` 0 keeps the node's key, the others get
    ``KEY#N``. ``replicas: 0`` (no pod in the cluster) still runs one copy locally, with
    a warning: a predictor without nodes could not be served or tested."""
    out = []
    for plan in plans:
        if plan.replicas < 1:
            log.warning("%s: replicas %d; running one copy locally", plan.key, plan.replicas)
        out += [replace(plan, replica=n) for n in range(max(1, plan.replicas))]
    return out
