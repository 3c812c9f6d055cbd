"""What a SeldonDeployment's pod spec asks of each container, as container-engine options.

Pure functions over the manifest (a plain mapping, as YAML loads it): no engine here, so a
local runner (``seldon-graph serve --runtime containers``) and the tests share one mapping
from pod spec to ``docker run`` settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from graph.kubelet_env import container_env
from graph.render.resources import quantity

MODELS_MOUNT = "/mnt/models"
# The Seldon Python wrapper's default ports inside the container (the image EXPOSEs them).
HTTP_PORT, GRPC_PORT, METRICS_PORT = 9000, 5000, 6000


@dataclass(frozen=True)
class ContainerRun:
    """One container of a predictor's pod, as an engine runs it."""

    node: str
    image: str
    user: str
    read_only: bool
    cap_drop: tuple[str, ...]
    no_new_privileges: bool
    tmpfs: Mapping[str, str]
    environment: Mapping[str, str]
    nano_cpus: int | None = None
    mem_limit: int | None = None
    mem_reservation: int | None = None
    gpus: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)


def _quantity(value: str | int | float, what: str) -> Fraction:
    parsed = quantity(value)
    if parsed is None:
        raise ValueError(f"not a {what} quantity: {value!r}")
    return parsed


def cpu_nanos(value: str | int | float) -> int:
    """A Kubernetes CPU quantity ("250m", "2", 0.5) in billionths of a CPU."""
    return int(_quantity(value, "CPU") * 1_000_000_000)


def memory_bytes(value: str | int) -> int:
    """A Kubernetes memory quantity ("512Mi", "1G", 1024) in bytes."""
    return int(_quantity(value, "memory"))


def _nodes(graph: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield graph
    for child in graph.get("children") or []:
        yield from _nodes(child)


def _predictor(manifest: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    for predictor in manifest["spec"]["predictors"]:
        if predictor["name"] == name:
            return predictor
    raise KeyError(f"no predictor {name!r} in the manifest")


def _tmpfs(pod: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, str]:
    """emptyDir volumes mounted by ``container``, as tmpfs mounts (size from sizeLimit)."""
    volumes = {volume["name"]: volume for volume in pod.get("volumes") or []}
    out = {}
    for mount in container.get("volumeMounts") or []:
        empty_dir = volumes.get(mount["name"], {}).get("emptyDir")
        if empty_dir is None:
            raise ValueError(f"{container['name']}: only emptyDir volumes run locally")
        options = ["rw", "mode=1777"]
        if empty_dir.get("sizeLimit"):
            options.append(f"size={memory_bytes(empty_dir['sizeLimit'])}")
        out[mount["mountPath"]] = ",".join(options)
    return out


def security_options(pod: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, Any]:
    pod_ctx = pod.get("securityContext") or {}
    ctx = {**pod_ctx, **(container.get("securityContext") or {})}
    user = ctx.get("runAsUser")
    group = ctx.get("runAsGroup", user)
    return {
        "user": f"{user}:{group}" if user is not None else "",
        "read_only": bool(ctx.get("readOnlyRootFilesystem", False)),
        "cap_drop": tuple((ctx.get("capabilities") or {}).get("drop") or ()),
        "no_new_privileges": ctx.get("allowPrivilegeEscalation") is False,
    }


def _environment(container: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, str]:
    """The container's env as the kubelet gives it (``resourceFieldRef`` resolved) plus
    what Seldon's operator adds: the node's parameters."""
    env = container_env(container)
    env["PREDICTIVE_UNIT_ID"] = node["name"]
    env["PREDICTIVE_UNIT_PARAMETERS"] = json.dumps(node.get("parameters") or [])
    return env


def resource_options(container: Mapping[str, Any]) -> dict[str, Any]:
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    return {
        "nano_cpus": cpu_nanos(limits["cpu"]) if "cpu" in limits else None,
        "mem_limit": memory_bytes(limits["memory"]) if "memory" in limits else None,
        "mem_reservation": memory_bytes(requests["memory"]) if "memory" in requests else None,
        "gpus": int(limits.get("nvidia.com/gpu", 0)),
    }


def container_runs(manifest: Mapping[str, Any], predictor: str) -> dict[str, ContainerRun]:
    """Each graph node of ``predictor`` that has a container, as the engine runs it."""
    spec = _predictor(manifest, predictor)
    nodes = {node["name"]: node for node in _nodes(spec["graph"])}
    runs = {}
    for component in spec.get("componentSpecs") or []:
        pod = component["spec"]
        for container in pod["containers"]:
            node = nodes.get(container["name"])
            if node is None:
                continue
            runs[node["name"]] = ContainerRun(
                node=node["name"],
                image=container["image"],
                tmpfs=_tmpfs(pod, container),
                environment=_environment(container, node),
                labels={"seldon-graph/predictor": predictor, "seldon-graph/node": node["name"]},
                **security_options(pod, container),
                **resource_options(container),
            )
    return runs
