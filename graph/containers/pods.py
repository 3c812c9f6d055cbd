"""The pods of ``seldon-graph serve --runtime containers``, planned from the operator's
rendering (pure: no engine here).

Every planned node copy (``graph.runner.plan``) belongs to the Deployment the operator
renders for its componentSpec (``graph.runner.rendered``); the copies of one Deployment
and one replica form one pod: containers sharing one network namespace, each with the
rendered command, env, ports, securityContext and resources. The executor container is
left out (the gateway plays it). Volumes, as the kubelet would provide them:

- ``emptyDir``: a tmpfs (``sizeLimit`` kept), except the one the storage initializer
  fills: that one is ``DIR/<last segment of its source>`` (``--models-dir DIR``, the rule
  of ``graph.runner.plan.model_dir``), bind-mounted read-only where the node mounts it;
- the claim the initializer reads (``kfserving-pvc-source``) and the downward API
  ``seldon-podinfo`` are not mounted (only the initializer and the executor read them);
- anything else is a :class:`ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.containers.podspec import ContainerRun, memory_bytes, resource_options, security_options
from graph.runner.plan import NodePlan, model_dir
from graph.runner.rendered import RenderedContainer
from model.errors import ConfigError

SERVE_LABEL = "seldon-graph/serve"  # value: the serve run's id; on every pod and container
RUNTIME_LABEL = "seldon-graph/runtime"  # value: "containers"
OWNER_LABEL = "seldon-graph/owner"  # value: "<host name>:<pid>" of the serve process
_SKIPPED = ("persistentVolumeClaim", "downwardAPI")
_PORT_ENV = (
    ("PREDICTIVE_UNIT_HTTP_SERVICE_PORT", 9000),
    ("PREDICTIVE_UNIT_GRPC_SERVICE_PORT", 5000),
    ("PREDICTIVE_UNIT_METRICS_SERVICE_PORT", 6000),
)


@dataclass(frozen=True)
class PodContainer:
    """One node copy as a container of its pod."""

    key: str  # the plan's key (deployment/predictor/node[#replica])
    name: str  # the engine's container name
    run: ContainerRun
    ports: tuple[int, int, int]  # REST, gRPC, metrics inside the pod
    binds: Mapping[str, str] = field(default_factory=dict)  # mount path -> host dir (ro)
    entrypoint: tuple[str, ...] = ()  # the rendered command (empty: the image's)
    args: tuple[str, ...] = ()  # the rendered args (empty: the image's CMD)


@dataclass(frozen=True)
class PodPlan:
    name: str  # the infra container's name; the pod's containers are NAME-<container>
    image: str  # for the infra container (the pod's first container's image)
    user: str
    labels: Mapping[str, str]
    containers: tuple[PodContainer, ...]


def _provisioned(pod: Mapping[str, Any]) -> dict[str, str]:
    """``{volume name: source}`` of the volumes the init containers (the storage
    initializer: ``args [SOURCE, DEST]``) write into."""
    out = {}
    for init in pod.get("initContainers") or ():
        args = list(init.get("args") or ())
        if len(args) < 2:
            continue
        for mount in init.get("volumeMounts") or ():
            if mount.get("mountPath") == args[1]:
                out[str(mount["name"])] = str(args[0])
    return out


def volumes(
    pod: Mapping[str, Any], container: Mapping[str, Any], models_dir: Path | None
) -> tuple[dict[str, str], dict[str, str]]:
    """``(tmpfs, binds)`` for a rendered container (see the module's docstring)."""
    defined = {str(v["name"]): v for v in pod.get("volumes") or ()}
    provisioned = _provisioned(pod)
    tmpfs: dict[str, str] = {}
    binds: dict[str, str] = {}
    for mount in container.get("volumeMounts") or ():
        name, path = str(mount["name"]), str(mount["mountPath"])
        volume = defined.get(name, {})
        if name in provisioned:
            if models_dir is None:
                raise ConfigError(
                    f"container '{container['name']}' gets its model at {path} from "
                    f"'{provisioned[name]}': pass --models-dir DIR (DIR/<last segment> is "
                    "mounted there read-only)"
                )
            local = model_dir(provisioned[name], models_dir).resolve()
            if not local.is_dir():
                raise ConfigError(f"{local} (for {provisioned[name]}) is not a directory")
            binds[path] = str(local)
        elif "emptyDir" in volume:
            options = ["rw", "mode=1777"]
            if (volume["emptyDir"] or {}).get("sizeLimit"):
                options.append(f"size={memory_bytes(volume['emptyDir']['sizeLimit'])}")
            tmpfs[path] = ",".join(options)
        elif not any(kind in volume for kind in _SKIPPED):
            raise ConfigError(
                f"container '{container['name']}': volume '{name}' is not an emptyDir, the "
                "model volume or one the runtime leaves out; it cannot run locally"
            )
    return tmpfs, binds


def _ports(env: Mapping[str, str]) -> tuple[int, int, int]:
    http, grpc, metrics = (int(env.get(name, default)) for name, default in _PORT_ENV)
    return http, grpc, metrics


def pod_container(
    plan: NodePlan, rendered: RenderedContainer, pod_name: str, image: str | None,
    models_dir: Path | None, labels: Mapping[str, str],
) -> PodContainer:  # fmt: skip
    """The container of one planned node copy, from its rendered container."""
    spec = rendered.spec
    tmpfs, binds = volumes(rendered.pod, spec, models_dir)
    env = dict(rendered.env)
    run = ContainerRun(
        node=plan.node,
        image=image or rendered.image,
        tmpfs=tmpfs,
        environment=env,
        labels={**labels, "seldon-graph/node": plan.node},
        **security_options(rendered.pod, spec),
        **resource_options(spec),
    )
    return PodContainer(
        key=plan.key,
        name=f"{pod_name}-{rendered.name}",
        run=run,
        ports=_ports(env),
        binds=binds,
        entrypoint=tuple(str(c) for c in spec.get("command") or ()),
        args=tuple(str(a) for a in spec.get("args") or ()),
    )


def pod_plans(
    plans: Sequence[NodePlan],
    rendered: Mapping[str, Mapping[tuple[str, str], RenderedContainer]],
    models_dir: Path | None,
    image: str | None,
    run_id: str,
    owner: str = "",
) -> list[PodPlan]:
    """One pod per rendered Deployment and replica, holding its planned node copies;
    ``owner`` labels them with the serve process (``OWNER_LABEL``)."""
    grouped: dict[str, list[tuple[NodePlan, RenderedContainer]]] = {}
    for plan in plans:
        found = (rendered.get(plan.deployment) or {}).get((plan.predictor, plan.node))
        if found is None or not found.pod_name:
            raise ConfigError(f"node {plan.key}: no rendered container to run")
        grouped.setdefault(f"sg-{run_id}-{found.pod_name}-{plan.replica}", []).append((plan, found))
    pods = []
    for name, members in grouped.items():
        plan, first = members[0]
        labels = {
            SERVE_LABEL: run_id,
            RUNTIME_LABEL: "containers",
            OWNER_LABEL: owner,
            "seldon-graph/deployment": plan.deployment,
            "seldon-graph/predictor": plan.predictor,
            "seldon-graph/pod": name,
        }
        containers = tuple(pod_container(p, r, name, image, models_dir, labels) for p, r in members)
        pods.append(PodPlan(name, image or first.image, containers[0].run.user, labels, containers))
    return pods
