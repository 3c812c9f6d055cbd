"""The operator's defaulting of a SeldonDeployment, run before it creates anything
(``operator/apis/machinelearning.seldon.io/v1/defaults.go``, ``DefaultSeldonDeployment``).

Works on a deep copy: node types, predictor ``version`` labels, the ports each node's
container gets and its ``endpoint`` (host and ports the executor calls).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from graph.render.names import container_service_name
from graph.render.options import RenderOptions
from graph.roles import UNKNOWN_IMPLEMENTATION, is_builtin
from model.errors import ManifestError

PODINFO_VOLUME = "seldon-podinfo"
OLD_PODINFO_VOLUME = "podinfo"
PODINFO_PATH = "/etc/podinfo"
SEPARATE_ENGINE = "seldon.io/engine-separate-pod"


def unshared(doc: Any) -> Any:
    """A deep copy in which no two places share an object. YAML anchors (``*tmp-mount``)
    make several containers share one list; in Go each container has its own."""
    return json.loads(json.dumps(doc, default=str))


def walk(node: dict[str, Any], path: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every node of a graph, pre-order, with its YAML path (``GetPredictiveUnitList``)."""
    yield node, path
    for i, child in enumerate(node.get("children") or ()):
        yield from walk(child, f"{path}.children[{i}]")


def find_node(graph: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The first node called ``name``, pre-order (``GetPredictiveUnit``)."""
    return next((node for node, _ in walk(graph, "") if node.get("name") == name), None)


def is_prepack(node: dict[str, Any]) -> bool:
    """A prepackaged server node (``IsPrepack`` in prepack.go)."""
    implementation = str(node.get("implementation") or UNKNOWN_IMPLEMENTATION)
    return implementation != UNKNOWN_IMPLEMENTATION and not is_builtin(implementation)


def separate_engine(spec: dict[str, Any]) -> bool:
    """``HasSeparateEnginePod``: the executor in its own Deployment."""
    return str((spec.get("annotations") or {}).get(SEPARATE_ENGINE, "")).lower() == "true"


def _default_graph(graph: dict[str, Any]) -> None:
    """``addDefaultsToGraph``: MODEL when nothing says otherwise; prepackaged servers are
    MODELs."""
    for node, _ in walk(graph, ""):
        unset = [node.get(key) is None for key in ("type", "methods", "implementation")]
        if all(unset):
            node["type"] = "MODEL"
        if node.get("implementation") is None:
            node["implementation"] = "UNKNOWN_IMPLEMENTATION"
        elif is_prepack(node):
            node["type"] = "MODEL"


class _Ports:
    """The operator's port counters, shared by every predictor: the HTTP and gRPC numbers
    are handed out once per container *name*, metrics numbers once per container."""

    def __init__(self, options: RenderOptions) -> None:
        self.next_http = options.first_http_port
        self.next_grpc = options.first_grpc_port
        self.next_metrics = options.first_metrics_port
        self.http: dict[str, int] = {}
        self.grpc: dict[str, int] = {}

    def for_name(self, name: str) -> tuple[int, int]:
        if name not in self.http:
            self.http[name] = self.next_http
            self.next_http += 1
        if name not in self.grpc:
            self.grpc[name] = self.next_grpc
            self.next_grpc += 1
        return self.http[name], self.grpc[name]


def _port(container: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((p for p in container.get("ports") or () if p.get("name") == name), None)


def _podinfo_mount(container: dict[str, Any]) -> None:
    mounts = container.setdefault("volumeMounts", [])
    found = any(m.get("name") == PODINFO_VOLUME for m in mounts)
    old = [i for i, m in enumerate(mounts) if m.get("name") == OLD_PODINFO_VOLUME]
    if old:  # the last old mount is replaced by the last mount, as the Go slice trick does
        mounts[old[-1]] = mounts[-1]
        mounts.pop()
    if not found:
        mounts.append({"name": PODINFO_VOLUME, "mountPath": PODINFO_PATH})


def _container_defaults(
    sdep: dict[str, Any],
    predictor: dict[str, Any],
    index: int,
    ports: tuple[int, int],
    counters: _Ports,
    options: RenderOptions,
    node: dict[str, Any],
    container: dict[str, Any],
) -> None:
    """``setContainerPredictiveUnitDefaults``: pull policy, termination message, the
    podinfo mount, a metrics port, and the node's endpoint."""
    spec = sdep["spec"]
    container.setdefault("imagePullPolicy", "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    endpoint = node.setdefault("endpoint", {})
    http_port, grpc_port = ports
    if (existing := _port(container, "http")) is not None:
        http_port = int(existing["containerPort"])
    if (existing := _port(container, "grpc")) is not None:
        grpc_port = int(existing["containerPort"])
    _podinfo_mount(container)
    if _port(container, options.metrics_port_name) is None:
        container.setdefault("ports", []).append(
            {
                "name": options.metrics_port_name,
                "containerPort": counters.next_metrics,
                "protocol": "TCP",
            }
        )
        counters.next_metrics += 1
    if index == 0 and not separate_engine(spec):
        endpoint["service_host"] = "localhost"
    else:
        svc = container_service_name(sdep["metadata"]["name"], predictor["name"], container["name"])
        endpoint["service_host"] = f"{svc}.{sdep['metadata']['namespace']}.svc.cluster.local"
    grpc = endpoint.get("type") == "GRPC" or spec.get("transport") == "grpc"
    endpoint["service_port"] = grpc_port if grpc else http_port
    endpoint["httpPort"] = http_port
    endpoint["grpcPort"] = grpc_port


def default_seldon_deployment(doc: dict[str, Any], options: RenderOptions) -> dict[str, Any]:
    """A defaulted deep copy of ``doc`` (``SeldonDeployment.Default``).

    Raises :class:`ManifestError` for prepackaged server nodes without a container, whose
    containers the operator builds from its ``seldon-config`` (not rendered here).
    """
    sdep = unshared(doc)
    metadata = sdep.setdefault("metadata", {})
    metadata["namespace"] = metadata.get("namespace") or "default"
    counters = _Ports(options)
    for i, predictor in enumerate(sdep["spec"]["predictors"]):
        labels = predictor.get("labels") or {}
        labels.setdefault("version", predictor["name"])
        predictor["labels"] = labels
        _default_graph(predictor["graph"])
        for j, component in enumerate(predictor.get("componentSpecs") or ()):
            for container in (component.get("spec") or {}).get("containers") or ():
                ports = counters.for_name(str(container.get("name")))
                node = find_node(predictor["graph"], str(container.get("name")))
                if node is not None:
                    _container_defaults(
                        sdep, predictor, j, ports, counters, options, node, container
                    )
        for node, path in walk(predictor["graph"], f"spec.predictors[{i}].graph"):
            if is_prepack(node):
                raise ManifestError(
                    f"prepackaged server {node['implementation']} is not rendered "
                    "(its container comes from the operator's seldon-config)",
                    f"{path}.implementation",
                )
    return sdep


def annotation(sdep: dict[str, Any], key: str, fallback: str) -> str:
    """``GetAnnotation`` (operator/controllers/utils/controller_utils.go): spec.annotations
    first, then metadata.annotations."""
    for where in (sdep["spec"].get("annotations"), sdep["metadata"].get("annotations")):
        if where and key in where:
            return str(where[key])
    return fallback
