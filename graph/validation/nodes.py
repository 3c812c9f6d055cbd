"""Admission rules for one predictor's inference graph (its nodes), as Seldon's operator and
executor apply them. Used by :mod:`graph.validation.admission`; each problem becomes a
:class:`~graph.manifest.Finding` with the node's YAML path, and every rule runs. The
operator's ``checkPredictiveUnits`` rules (and Kubernetes' name rules) are errors
(:meth:`GraphCheck.add`); the executor's and wrapper's expectations it does not check
(node types, methods, parameter values, router shapes) are warnings (:meth:`GraphCheck.warn`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graph.manifest import WARNING, Finding
from graph.roles import (
    BUILTIN_IMPLEMENTATIONS,
    METHODS,
    NODE_TYPES,
    RANDOM_ABTEST,
    UNKNOWN_IMPLEMENTATION,
    Role,
    is_builtin,
    role_of,
)

PREPACKAGED_SERVERS = (
    "SKLEARN_SERVER",
    "XGBOOST_SERVER",
    "TENSORFLOW_SERVER",
    "MLFLOW_SERVER",
    "TRITON_SERVER",
    "HUGGINGFACE_SERVER",
    "TEMPO_SERVER",
)
# Prepackaged servers that cannot serve the tensorflow protocol (an operator rule).
_NO_TENSORFLOW = ("SKLEARN_SERVER", "XGBOOST_SERVER", "MLFLOW_SERVER", "HUGGINGFACE_SERVER")
ENDPOINT_TYPES = ("REST", "GRPC")
LOGGER_MODES = ("all", "request", "response")
PARAMETER_TYPES = ("INT", "FLOAT", "DOUBLE", "STRING", "BOOL")
# What the Python wrapper's BOOL parameter parsing (distutils strtobool) accepts.
_BOOL_WORDS = ("y", "yes", "t", "true", "on", "1", "n", "no", "f", "false", "off", "0")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def dns_label_problem(name: str) -> str | None:
    """Why ``name`` is not a DNS-1123 label (it names containers and services), or None."""
    if len(name) > 63:
        return f"{name!r} is longer than 63 characters"
    if not _DNS_LABEL.fullmatch(name):
        return f"{name!r} must be lowercase letters, digits and '-', alphanumeric at both ends"
    return None


def parameter_problem(ptype: str, value: str) -> str | None:
    """Why ``value`` does not parse as a Seldon parameter of type ``ptype``, or None."""
    try:
        if ptype == "INT":
            int(value)
        elif ptype in ("FLOAT", "DOUBLE"):
            float(value)
    except ValueError:
        return f"{value!r} is not a valid {ptype}"
    if ptype == "BOOL" and value.strip().lower() not in _BOOL_WORDS:
        return f"{value!r} is not a valid BOOL (use true or false)"
    return None


def not_allowed(value: Any, allowed: tuple[str, ...], what: str) -> str | None:
    """The message for ``value`` outside ``allowed``, or None when it is allowed."""
    if value in allowed:
        return None
    return f"{value!r} is not a valid {what}; allowed: {', '.join(allowed)}"


@dataclass
class GraphCheck:
    """Checks the nodes of one predictor's graph.

    ``containers`` maps the predictor's container names to their images; ``endpoints``
    collects each node's ``endpoint.type`` with its path for the deployment-wide check.
    """

    containers: Mapping[str, str]
    protocol: str = ""
    servers: tuple[str, ...] = PREPACKAGED_SERVERS
    findings: list[Finding] = field(default_factory=list)
    endpoints: list[tuple[str, str]] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, message: str | None) -> bool:
        """An error: the operator's webhook (or Kubernetes) refuses it."""
        if message:
            self.findings.append(Finding(path, message))
        return not message

    def warn(self, path: str, message: str | None) -> bool:
        """A warning: this project's rule, stricter than the operator's webhook."""
        if message:
            self.findings.append(Finding(path, message, WARNING))
        return not message

    def node(self, node: Any, path: str) -> int:
        """Check ``node`` and its children; returns the number of nodes in the subtree."""
        if not isinstance(node, Mapping):
            self.add(path, "a graph node must be a mapping")
            return 0
        name = self.name(node.get("name"), path)
        ntype = node.get("type")
        if ntype is not None:
            self.warn(f"{path}.type", not_allowed(ntype, NODE_TYPES, "node type"))
        methods = node.get("methods") if node.get("methods") is not None else []
        if not isinstance(methods, list):
            self.add(f"{path}.methods", "must be a list")
            methods = []
        for i, method in enumerate(methods):
            self.warn(f"{path}.methods[{i}]", not_allowed(method, METHODS, "method"))
        impl = node.get("implementation")
        self.implementation(node, path, name, impl, ntype, methods)
        endpoint = node.get("endpoint")
        etype = endpoint.get("type") if isinstance(endpoint, Mapping) else None
        at = f"{path}.endpoint.type"
        if etype not in (None, ""):  # the operator collects any value; only two exist
            self.warn(at, not_allowed(etype, ENDPOINT_TYPES, "type"))
            self.endpoints.append((str(etype), at))
        logger = node.get("logger")
        if isinstance(logger, Mapping):
            mode = logger.get("mode")
            if mode in (None, ""):
                self.add(f"{path}.logger.mode", f"is required ({', '.join(LOGGER_MODES)})")
            else:
                self.warn(f"{path}.logger.mode", not_allowed(mode, LOGGER_MODES, "logger mode"))
        self.parameters(node.get("parameters"), f"{path}.parameters")
        children = node.get("children") if node.get("children") is not None else []
        if not isinstance(children, list):
            self.add(f"{path}.children", "must be a list")
            children = []
        self.roles(node, path, role_of(ntype, methods, impl), impl == RANDOM_ABTEST, children)
        return 1 + sum(self.node(c, f"{path}.children[{i}]") for i, c in enumerate(children))

    def name(self, name: Any, path: str) -> str:
        if not isinstance(name, str) or not name:
            self.add(f"{path}.name", "is required")
            return ""
        if name in self.seen:
            self.warn(f"{path}.name", f"duplicate node name {name!r} (also {self.seen[name]})")
        else:
            self.seen[name] = path
            problem = dns_label_problem(name)
            self.add(f"{path}.name", problem and f"{problem} (it names a container)")
        return name

    def implementation(
        self, node: Mapping, path: str, name: str, impl: Any, ntype: Any, methods: list
    ) -> None:
        if impl in (None, "", UNKNOWN_IMPLEMENTATION):
            if name and name not in self.containers:
                self.add(
                    path,
                    f"no container named {name!r} in this predictor's componentSpecs: a node "
                    "without a built-in or prepackaged implementation runs that container",
                )
            if ntype == "UNKNOWN_TYPE" and not methods:
                self.add(
                    f"{path}.methods",
                    f"an UNKNOWN_TYPE node must list the methods it implements "
                    f"({', '.join(METHODS)}) or use a known type",
                )
            return
        if not isinstance(impl, str):
            self.add(f"{path}.implementation", f"must be a string, not {impl!r}")
        elif not is_builtin(impl):
            if impl not in self.servers and not self.containers.get(name):
                self.add(
                    f"{path}.implementation",
                    f"{impl!r} is neither built in ({', '.join(BUILTIN_IMPLEMENTATIONS)}) "
                    f"nor a prepackaged server ({', '.join(self.servers)}); declare a custom "
                    "server of your cluster's seldon-config with --prepackaged-server, or give "
                    f"a container named {name!r} an image",
                )
            if not node.get("modelUri") and impl != "HUGGINGFACE_SERVER":
                self.add(f"{path}.modelUri", f"is required by the prepackaged server {impl}")
            if self.protocol == "tensorflow" and impl in _NO_TENSORFLOW:
                self.add(f"{path}.implementation", f"{impl} cannot serve the tensorflow protocol")

    def parameters(self, params: Any, path: str) -> None:
        if params is None:
            return
        if not isinstance(params, list):
            self.add(path, "must be a list of {name, type, value}")
            return
        names: set[str] = set()
        for i, param in enumerate(params):
            at = f"{path}[{i}]"
            if not isinstance(param, Mapping):
                self.add(at, "a parameter must be a mapping with name, type and value")
                continue
            name, ptype, value = param.get("name"), param.get("type"), param.get("value")
            if not isinstance(name, str) or not name:
                self.add(f"{at}.name", "is required")
            elif name in names:
                self.warn(f"{at}.name", f"duplicate parameter {name!r}")
            names.add(str(name))
            if not isinstance(value, str):  # the CRD schema's type
                self.add(f"{at}.value", f"must be a string (quote it), not {value!r}")
            if not self.warn(f"{at}.type", not_allowed(ptype, PARAMETER_TYPES, "parameter type")):
                continue
            if isinstance(value, str):
                self.warn(f"{at}.value", parameter_problem(str(ptype), value))

    def roles(self, node: Mapping, path: str, role: Role, abtest: bool, children: list) -> None:
        if role.needs_children and not children:
            what = "router" if role.routes else "combiner"
            self.warn(f"{path}.children", f"a {what} needs at least one child")
        if abtest:
            self.abtest(node, path, children)

    def abtest(self, node: Mapping, path: str, children: list) -> None:
        if len(children) != 2:
            self.warn(
                f"{path}.children", f"RANDOM_ABTEST needs exactly 2 children, not {len(children)}"
            )
        raw = node.get("parameters")
        params: list[Any] = raw if isinstance(raw, list) else []
        found = [
            (i, p)
            for i, p in enumerate(params)
            if isinstance(p, Mapping) and p.get("name") == "ratioA"
        ]
        if not found:
            self.warn(
                f"{path}.parameters",
                "RANDOM_ABTEST needs a FLOAT parameter 'ratioA' (the share of requests "
                "sent to the first child, 0..1)",
            )
            return
        i, ratio = found[0]
        value = ratio.get("value")
        if ratio.get("type") != "FLOAT":
            self.warn(f"{path}.parameters[{i}].type", "ratioA must be of type FLOAT")
        elif (
            isinstance(value, str)
            and not parameter_problem("FLOAT", value)
            and not 0.0 <= float(value) <= 1.0
        ):
            self.warn(f"{path}.parameters[{i}].value", f"ratioA must be within 0..1, not {value}")
        if len(params) > 1:
            self.warn(
                f"{path}.parameters",
                "Seldon's executor reads ratioA only when it is the node's only parameter",
            )


def predictor_containers(predictor: Mapping[str, Any]) -> dict[str, str]:
    """The predictor's container names (all its componentSpecs) mapped to their images."""
    found: dict[str, str] = {}
    for component in predictor.get("componentSpecs") or ():
        pod = component.get("spec") if isinstance(component, Mapping) else None
        containers = pod.get("containers") if isinstance(pod, Mapping) else None
        for container in containers if isinstance(containers, list) else ():
            if isinstance(container, Mapping) and isinstance(container.get("name"), str):
                found.setdefault(container["name"], str(container.get("image") or ""))
    return found
