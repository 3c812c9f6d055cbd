"""What to start for each graph node: the component class, its parameters and environment.

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

CPU threads: in a cluster each container has its own CPUs; here every node shares this
machine's. PyTorch (OpenMP) starts one thread per CPU in each process, and a dozen such
pools on a few cores spin against each other (measured: a canary classifier serving
4 req/s burned half a core; the graph served 56 instead of 89 req/s at 32 clients). So
each node gets ``OMP_NUM_THREADS`` = its share of the CPUs (``thread_share``), at most
what its container asks for (a value, or ``valueFrom.resourceFieldRef: limits.cpu`` as the
shipped manifest writes it, resolved the kubelet's way by ``graph/kubelet_env.py``: the
limit rounded up to whole cores); an ``OMP_NUM_THREADS`` set by the caller is used as it is.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from graph.executor import needs_client
from graph.spec import DeploymentSpec, NodeSpec, PredictorSpec
from model.errors import ConfigError, ManifestError

MOUNT = "/mnt/models"
METRICS_PATH = "/prometheus"  # what Seldon's operator sets (the wrapper's default is /metrics)
# Built-in implementations Seldon's executor runs without a container of their own.
BUILTIN_IMPLEMENTATIONS = frozenset(
    {"SIMPLE_MODEL", "SIMPLE_ROUTER", "RANDOM_ABTEST", "AVERAGE_COMBINER"}
)
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

    @property
    def key(self) -> str:
        return f"{self.deployment}/{self.predictor}/{self.node}"

    def parameters_json(self) -> str:
        return json.dumps([dict(p) for p in self.parameters])


def model_dir(model_uri: str, models_dir: Path) -> Path:
    """``DIR/<last path segment of modelUri>``."""
    segment = posixpath.basename(model_uri.rstrip("/"))
    if not segment or segment.endswith(":"):
        raise ConfigError(f"modelUri '{model_uri}' has no last path segment to map")
    return models_dir / segment


def resolve_parameters(node: NodeSpec, models_dir: Path | None) -> tuple[Mapping[str, str], ...]:
    """The node's parameters, with ``/mnt/models`` paths mapped under ``models_dir``."""
    params = node.parameters_json()
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
) -> NodePlan | None:
    """The plan for one node, or None for a built-in the executor runs itself."""
    container = predictor.containers.get(node.name)
    model_name = container.env.get("MODEL_NAME", "") if container else ""
    if not model_name:
        if node.implementation in BUILTIN_IMPLEMENTATIONS or not needs_client(node):
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
    env = dict(container.env) if container else {}
    service_type = env.get("SERVICE_TYPE") or _SERVICE_TYPES.get(node.type, "MODEL")
    return NodePlan(
        deployment=deployment.name,
        predictor=predictor.name,
        node=node.name,
        model_name=model_name,
        service_type=service_type,
        parameters=resolve_parameters(node, models_dir),
        container_env=env,
    )


def plan_deployment(deployment: DeploymentSpec, models_dir: Path | None) -> list[NodePlan]:
    """Plans for every node of every predictor (built-ins left out)."""
    plans = []
    for predictor in deployment.predictors:
        for node in predictor.graph.walk():
            plan = plan_node(deployment, predictor, node, models_dir)
            if plan is not None:
                plans.append(plan)
    return plans


def command(plan: NodePlan, executable: str, ports: tuple[int, int, int]) -> list[str]:
    """``seldon-core-microservice MODEL_NAME --service-type TYPE`` on the given ports."""
    http_port, grpc_port, metrics_port = ports
    return [
        executable,
        plan.model_name,
        "--service-type",
        plan.service_type,
        "--http-port",
        str(http_port),
        "--grpc-port",
        str(grpc_port),
        "--metrics-port",
        str(metrics_port),
    ]


def thread_share(processes: int, cpus: int | None = None) -> int:
    """CPU threads per process when ``processes`` share this machine (at least 1)."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        cpus = cpus or os.cpu_count() or 1
    return max(1, cpus // max(1, processes))


def environment(
    plan: NodePlan,
    ports: tuple[int, int, int],
    base: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    threads: int | None = None,
) -> dict[str, str]:
    """The node's environment, as Seldon's operator would set it (plus the container's).

    ``cwd`` goes first on ``PYTHONPATH`` so that ``MODEL_NAME`` modules of the working
    directory win over same-named installed packages (the wrapper only appends it).
    ``threads`` caps ``OMP_NUM_THREADS``; one set in ``base`` (the caller's env) wins.
    """
    http_port, grpc_port, metrics_port = ports
    env = dict(os.environ if base is None else base)
    caller_threads = env.get("OMP_NUM_THREADS")
    env.update(plan.container_env)
    if caller_threads:
        env["OMP_NUM_THREADS"] = caller_threads
    elif threads is not None:
        asked = plan.container_env.get("OMP_NUM_THREADS", "")
        limit = min(threads, int(asked)) if asked.isdigit() and int(asked) > 0 else threads
        env["OMP_NUM_THREADS"] = str(limit)
    if cwd is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cwd), env.get("PYTHONPATH", "")) if p)
    env.update(
        {
            "PREDICTIVE_UNIT_PARAMETERS": plan.parameters_json(),
            "PREDICTIVE_UNIT_ID": plan.node,
            "PREDICTOR_ID": plan.predictor,
            "SELDON_DEPLOYMENT_ID": plan.deployment,
            "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(http_port),
            "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(grpc_port),
            "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(metrics_port),
            "PREDICTIVE_UNIT_METRICS_ENDPOINT": METRICS_PATH,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env
