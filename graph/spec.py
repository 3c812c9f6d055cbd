"""Typed, read-only view of a SeldonDeployment: what the runner and executor need.

``load_deployment(doc)`` turns one parsed SeldonDeployment document into a
``DeploymentSpec``. It assumes the document passed ``graph.validation``; it still raises
``ManifestError`` with the YAML path when an essential field is missing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graph.executor_annotations import executor_pod_annotations
from graph.kubelet_env import container_env
from graph.roles import Role, default_type, role_of
from model.errors import ManifestError


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    value: str


@dataclass(frozen=True)
class LoggerSpec:
    url: str
    mode: str = "all"  # all | request | response


@dataclass(frozen=True)
class NodeSpec:
    """One graph node. ``path`` is its YAML path, for error messages."""

    name: str
    type: str = "UNKNOWN_TYPE"
    implementation: str = ""
    methods: tuple[str, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    model_uri: str = ""
    endpoint_type: str = "REST"
    logger: LoggerSpec | None = None
    children: tuple[NodeSpec, ...] = ()
    path: str = ""

    @functools.cached_property
    def role(self) -> Role:
        """What the executor calls on this node (:mod:`graph.roles`)."""
        return role_of(self.type, self.methods, self.implementation)

    def walk(self) -> Iterator[NodeSpec]:
        """This node and every descendant, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def parameters_json(self) -> list[dict[str, str]]:
        """The ``PREDICTIVE_UNIT_PARAMETERS`` value Seldon's operator sets for the node."""
        return [{"name": p.name, "type": p.type, "value": p.value} for p in self.parameters]


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str = ""
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictorSpec:
    name: str
    graph: NodeSpec
    traffic: int = 0
    shadow: bool = False
    containers: Mapping[str, ContainerSpec] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    path: str = ""
    # What the operator puts on the pod of this predictor's executor (the timeouts'
    # source): graph/executor_annotations.py.
    executor_annotations: Mapping[str, str] = field(default_factory=dict)

    def nodes(self) -> list[NodeSpec]:
        return list(self.graph.walk())


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    namespace: str
    predictors: tuple[PredictorSpec, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    protocol: str = "seldon"
    transport: str = "rest"

    def predictor(self, name: str) -> PredictorSpec:
        for predictor in self.predictors:
            if predictor.name == name:
                return predictor
        raise KeyError(name)


def _require(doc: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in doc or doc[key] in (None, ""):
        raise ManifestError(f"'{key}' is required", f"{path}.{key}" if path else key)
    return doc[key]


def _node(doc: Mapping[str, Any], path: str) -> NodeSpec:
    if not isinstance(doc, Mapping):
        raise ManifestError("a graph node must be an object", path)
    logger_doc = doc.get("logger")
    logger = None
    if isinstance(logger_doc, Mapping):  # no url: the default endpoint (graph/request_logger)
        url = str(logger_doc.get("url") or "")
        logger = LoggerSpec(url=url, mode=str(logger_doc.get("mode", "all")))
    endpoint = doc.get("endpoint") or {}
    implementation = str(doc.get("implementation") or "")
    methods = tuple(str(m) for m in doc.get("methods") or ())
    return NodeSpec(
        name=str(_require(doc, "name", path)),
        type=default_type(doc.get("type"), methods, implementation),  # the operator's
        implementation=implementation,
        methods=methods,
        parameters=tuple(
            Parameter(str(p.get("name")), str(p.get("type", "STRING")), str(p.get("value")))
            for p in doc.get("parameters") or ()
        ),
        model_uri=str(doc.get("modelUri") or ""),
        endpoint_type=str(endpoint.get("type") or "REST"),
        logger=logger,
        children=tuple(
            _node(child, f"{path}.children[{i}]")
            for i, child in enumerate(doc.get("children") or ())
        ),
        path=path,
    )


def _containers(predictor: Mapping[str, Any]) -> dict[str, ContainerSpec]:
    found: dict[str, ContainerSpec] = {}
    for component in predictor.get("componentSpecs") or ():
        for container in ((component or {}).get("spec") or {}).get("containers") or ():
            env = container_env(container)  # resourceFieldRef resolved as the kubelet does
            found[str(container.get("name"))] = ContainerSpec(
                name=str(container.get("name")), image=str(container.get("image", "")), env=env
            )
    return found


def load_deployment(doc: Mapping[str, Any]) -> DeploymentSpec:
    """Build the typed view of one SeldonDeployment document."""
    metadata = doc.get("metadata") or {}
    spec = _require(doc, "spec", "")
    predictors = []
    for i, pred in enumerate(_require(spec, "predictors", "spec")):
        path = f"spec.predictors[{i}]"
        predictors.append(
            PredictorSpec(
                name=str(_require(pred, "name", path)),
                graph=_node(_require(pred, "graph", path), f"{path}.graph"),
                traffic=int(pred.get("traffic") or 0),
                shadow=bool(pred.get("shadow", False)),
                containers=_containers(pred),
                annotations={str(k): str(v) for k, v in (pred.get("annotations") or {}).items()},
                labels={str(k): str(v) for k, v in (pred.get("labels") or {}).items()},
                path=path,
                executor_annotations={
                    k: a.value for k, a in executor_pod_annotations(doc, i).items()
                },
            )
        )
    return DeploymentSpec(
        name=str(metadata.get("name") or spec.get("name") or ""),
        namespace=str(metadata.get("namespace") or "default"),
        predictors=tuple(predictors),
        annotations={
            **{str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()},
            **{str(k): str(v) for k, v in (spec.get("annotations") or {}).items()},
        },
        protocol=str(spec.get("protocol") or "seldon"),
        transport=str(spec.get("transport") or "rest"),
    )
