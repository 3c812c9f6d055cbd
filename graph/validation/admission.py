"""The Seldon Core v1 operator's admission rules, which the CRD schema does not express.

Modelled on the operator's validating webhook (v1.17.1), the executor's expectations and
the Kubernetes naming rules the API server applies. Deployment-wide rules (kind, names,
predictors, transport) live here, graph rules in :mod:`graph.validation.nodes` and
traffic rules in :mod:`graph.validation.traffic`. Every
rule runs and adds a :class:`~graph.manifest.Finding` (YAML path, message). Values of the
wrong type are reported too, so the rules hold without a schema. A finding is an error when
the operator (``ValidateSeldonDeployment``) or Kubernetes refuses the manifest, a warning
when the rule is this project's own (docs/seldon-fidelity.md, "Admission rules").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from graph.manifest import Finding
from graph.validation.nodes import (
    ENDPOINT_TYPES,
    PREPACKAGED_SERVERS,
    GraphCheck,
    dns_label_problem,
    not_allowed,
    predictor_containers,
)
from graph.validation.traffic import traffic_findings

API_GROUP = "machinelearning.seldon.io"
API_VERSIONS = tuple(f"{API_GROUP}/{v}" for v in ("v1", "v1alpha2", "v1alpha3"))
KIND = "SeldonDeployment"
PROTOCOLS = ("seldon", "tensorflow", "kfserving", "v2")
TRANSPORTS = ("rest", "grpc")
SERVER_TYPES = ("rpc", "kafka")
KAFKA_ENVS = ("KAFKA_BROKER", "KAFKA_INPUT_TOPIC", "KAFKA_OUTPUT_TOPIC")
NO_ENGINE = "seldon.io/no-engine"
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")


def webhook_findings(doc: Any, servers: Iterable[str] = ()) -> list[Finding]:
    """Every admission rule ``doc`` breaks; empty when the operator would accept it.

    ``servers`` names prepackaged servers beyond Seldon's own, as a cluster's
    ``seldon-config`` ConfigMap (``predictor_servers``) may add them.
    """
    if not isinstance(doc, Mapping):
        return [Finding("", f"a SeldonDeployment must be a mapping, not {type(doc).__name__}")]
    out: list[Finding] = []
    if doc.get("apiVersion") not in API_VERSIONS:
        out.append(
            Finding(
                "apiVersion",
                f"must be one of {', '.join(API_VERSIONS)}, not {doc.get('apiVersion')!r}",
            )
        )
    if doc.get("kind") != KIND:
        out.append(Finding("kind", f"must be {KIND}, not {doc.get('kind')!r}"))
    out += _metadata(doc.get("metadata"))
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        return [*out, Finding("spec", "is required and must be a mapping")]
    return out + _spec(spec, (*PREPACKAGED_SERVERS, *servers))


def _metadata(meta: Any) -> list[Finding]:
    if not isinstance(meta, Mapping):
        return [Finding("metadata.name", "is required")]
    out = []
    name = meta.get("name")
    if isinstance(name, str) and name:
        if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
            out.append(
                Finding(
                    "metadata.name",
                    f"{name!r} is not a valid DNS-1123 name "
                    "(lowercase letters, digits, '-' and '.', at most 253)",
                )
            )
    elif not meta.get("generateName"):
        out.append(Finding("metadata.name", "is required"))
    namespace = meta.get("namespace")
    problem = dns_label_problem(str(namespace)) if namespace is not None else None
    if problem:
        out.append(Finding("metadata.namespace", problem))
    return out


def _spec(spec: Mapping[str, Any], servers: tuple[str, ...]) -> list[Finding]:
    out = []
    for key, allowed in (
        ("protocol", PROTOCOLS),
        ("transport", TRANSPORTS),
        ("serverType", SERVER_TYPES),
    ):
        problem = not_allowed(spec.get(key), allowed, key) if spec.get(key) else None
        if problem:
            out.append(Finding(f"spec.{key}", problem))
    predictors = spec.get("predictors")
    if not isinstance(predictors, list) or not predictors:
        return [*out, Finding("spec.predictors", "at least one predictor is required")]
    named: dict[str, str] = {}
    services: dict[str, str] = {}
    endpoints: list[tuple[str, str]] = []
    valid = []
    for i, pred in enumerate(predictors):
        if not isinstance(pred, Mapping):
            out.append(Finding(f"spec.predictors[{i}]", "a predictor must be a mapping"))
            continue
        valid.append((i, pred))
        out += _names(f"spec.predictors[{i}]", pred, named, services)
        graph = pred.get("graph")
        if not isinstance(graph, Mapping):
            out.append(Finding(f"spec.predictors[{i}].graph", "is required and must be a mapping"))
            continue
        check = GraphCheck(predictor_containers(pred), str(spec.get("protocol") or ""), servers)
        size = check.node(graph, f"spec.predictors[{i}].graph")
        out += check.findings
        endpoints += check.endpoints
        annotations = pred.get("annotations")
        # the operator tests the annotation's presence, whatever its value
        if isinstance(annotations, Mapping) and NO_ENGINE in annotations and size > 1:
            out.append(
                Finding(
                    f"spec.predictors[{i}].annotations.{NO_ENGINE}",
                    "running without the executor only works for a one-node graph",
                )
            )
    if spec.get("serverType") == "kafka":
        out += _kafka(valid)
    return out + traffic_findings(valid) + _transports(endpoints, spec.get("transport"))


def _kafka(predictors: list[tuple[int, Mapping[str, Any]]]) -> list[Finding]:
    """``serverType: kafka`` needs the broker and both topics in each predictor's
    ``svcOrchSpec.env`` (the operator counts the entries bearing one of the three names)."""
    out = []
    for i, pred in predictors:
        orch = pred.get("svcOrchSpec")
        env = orch.get("env") if isinstance(orch, Mapping) else None
        names = (
            [e.get("name") for e in env if isinstance(e, Mapping)] if isinstance(env, list) else []
        )
        if sum(name in KAFKA_ENVS for name in names) < len(KAFKA_ENVS):
            message = f"serverType kafka needs the env {', '.join(KAFKA_ENVS)}"
            out.append(Finding(f"spec.predictors[{i}].svcOrchSpec.env", message))
    return out


def _names(
    path: str, pred: Mapping[str, Any], named: dict[str, str], services: dict[str, str]
) -> list[Finding]:
    """The predictor's name (present, unique, a DNS-1123 label) and its custom service name
    (``seldon.io/svc-name``, unique); ``named`` and ``services`` remember those seen."""
    out = []
    name = pred.get("name")
    if not isinstance(name, str) or not name:
        out.append(Finding(f"{path}.name", "is required"))
    elif name in named:
        out.append(
            Finding(f"{path}.name", f"duplicate predictor name {name!r} (also {named[name]})")
        )
    else:
        named[name] = path
        problem = dns_label_problem(name)
        out += [Finding(f"{path}.name", problem)] if problem else []
    annotations = pred.get("annotations")
    service = annotations.get("seldon.io/svc-name") if isinstance(annotations, Mapping) else None
    if service is not None and service in services:
        message = f"service name {service!r} is already used by {services[service]}"
        out.append(Finding(f"{path}.annotations.seldon.io/svc-name", message))
    elif service is not None:
        services[service] = path
    return out


def _transports(endpoints: list[tuple[str, str]], transport: Any) -> list[Finding]:
    """One ``endpoint.type`` in the whole deployment, agreeing with ``spec.transport``."""
    if not endpoints:
        return []
    first, first_path = endpoints[0]
    out = [
        Finding(
            path,
            f"endpoint.type {etype} differs from {first} at {first_path}: a "
            "deployment uses one transport (set spec.transport instead)",
        )
        for etype, path in endpoints[1:]
        if etype != first
    ]
    # the operator compares REST and GRPC only (other values are warned about per node)
    if (
        not out
        and transport in TRANSPORTS
        and first in ENDPOINT_TYPES
        and first.lower() != transport
    ):
        out.append(
            Finding(
                first_path,
                f"endpoint.type {first} contradicts spec.transport "
                f"{transport}: remove endpoint.type or make them match",
            )
        )
    return out
