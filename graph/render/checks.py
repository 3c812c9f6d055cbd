"""Check rendered objects as the Kubernetes API server would: its OpenAPI schemas (the
``kubernetes-validate`` package, strict: unknown fields are errors) and the rules no
schema can express (``pkg/apis/core/validation`` and ``pkg/apis/apps/validation``:
unique names, DNS-1123/1035 formats and lengths, label syntax), plus the warnings the
server returns without refusing the object (``pkg/api/pod/warnings.go``: duplicate env
names, duplicate container ports).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import kubernetes_validate

from graph.render import k8s_names
from graph.render.objects import RenderedObject
from graph.render.pods import pod_findings

# The Kubernetes version whose schemas the objects are checked against (shipped by
# kubernetes-validate 1.28.3; the README names it too).
K8S_VERSION = "1.28"
ERROR = "error"
WARNING = "warning"
MAX_ANNOTATIONS_BYTES = 256 * 1024
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")

NameRule = Callable[[str], list[str]]
# The name format each kind's name must have (ValidateDeploymentName, ValidateServiceName,
# ...); custom resources' names are DNS subdomains.
NAME_RULES: dict[str, NameRule] = {
    "Service": k8s_names.dns1035_label,
}


@dataclass(frozen=True)
class ObjectFinding:
    """One problem in one rendered object: ``path`` in the object and, where it can be
    traced, ``source``, the path in the SeldonDeployment it came from."""

    ref: str
    path: str
    message: str
    source: str = ""
    severity: str = ERROR

    def __str__(self) -> str:
        where = f" (from {self.source})" if self.source and self.source != self.path else ""
        return f"{self.severity}: {self.ref}: {self.path}: {self.message}{where}"


Raw = tuple[str, str, str]  # severity, path, message


def schema_findings(body: dict[str, Any], version: str = K8S_VERSION) -> list[Raw]:
    """The first schema violation of ``body`` (kubernetes-validate stops at one); none
    for kinds it has no schema for (Istio, Ambassador)."""
    try:
        kubernetes_validate.validate(body, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return []
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in exc.path)
        return [(ERROR, path.replace(".[", "["), f"schema (Kubernetes {version}): {exc.message}")]
    return []


def _map_findings(items: dict[str, Any], path: str, values: bool) -> Iterable[Raw]:
    for key, value in items.items():
        for problem in k8s_names.qualified_name(str(key)):
            yield ERROR, f"{path}[{key}]", f"invalid key: {problem}"
        if values:
            for problem in k8s_names.label_value(str(value)):
                yield ERROR, f"{path}[{key}]", f"invalid value {value!r}: {problem}"


def metadata_findings(body: dict[str, Any], path: str = "metadata") -> list[Raw]:
    """Name format of the object's kind, label and annotation syntax, annotation size."""
    metadata = body.get("metadata") or {}
    found: list[Raw] = []
    if "name" in metadata:
        rule = NAME_RULES.get(str(body.get("kind")), k8s_names.dns1123_subdomain)
        name = str(metadata["name"])
        found += [(ERROR, f"{path}.name", f"invalid value {name!r}: {p}") for p in rule(name)]
    found += _map_findings(metadata.get("labels") or {}, f"{path}.labels", values=True)
    annotations = metadata.get("annotations") or {}
    found += _map_findings(annotations, f"{path}.annotations", values=False)
    size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
    if size > MAX_ANNOTATIONS_BYTES:
        found.append((ERROR, f"{path}.annotations", f"too long: {size} bytes, the limit is 262144"))
    return found


def _deployment(body: dict[str, Any]) -> list[Raw]:
    spec = body.get("spec") or {}
    template = spec.get("template") or {}
    found = metadata_findings(template, "spec.template.metadata")
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        found.append(
            (ERROR, "spec.template.metadata.labels", "`selector` does not match template `labels`")
        )
    found += _map_findings(selector, "spec.selector.matchLabels", values=True)
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        found.append(
            (
                ERROR,
                "spec.replicas",
                f"Invalid value: {replicas}: must be greater than or equal to 0",
            )
        )
    return found + pod_findings(template.get("spec") or {}, "spec.template.spec")


def _service(body: dict[str, Any]) -> list[Raw]:
    ports = (body.get("spec") or {}).get("ports") or []
    found: list[Raw] = []
    kind = (body.get("spec") or {}).get("type", "ClusterIP")
    if kind not in SERVICE_TYPES:
        found.append((ERROR, "spec.type", f"Unsupported value: {kind!r}"))
    names: set[str] = set()
    numbers: set[tuple[int, str]] = set()
    for i, port in enumerate(ports):
        name, key = (
            str(port.get("name", "")),
            (int(port.get("port", 0)), str(port.get("protocol", "TCP"))),
        )
        if len(ports) > 1 and not name:
            found.append((ERROR, f"spec.ports[{i}].name", "Required value"))
        elif name:
            found += [
                (ERROR, f"spec.ports[{i}].name", f"invalid value {name!r}: {p}")
                for p in k8s_names.dns1123_label(name)
            ]
        if name and name in names:
            found.append((ERROR, f"spec.ports[{i}].name", f"Duplicate value: {name!r}"))
        if not 1 <= key[0] <= 65535:
            found.append(
                (ERROR, f"spec.ports[{i}].port", f"Invalid value: {key[0]}: must be 1-65535")
            )
        if key in numbers:
            found.append((ERROR, f"spec.ports[{i}]", f"Duplicate value: port {key[0]}/{key[1]}"))
        names.add(name)
        numbers.add(key)
    return found


KIND_RULES: dict[str, Callable[[dict[str, Any]], list[Raw]]] = {
    "Deployment": _deployment,
    "Service": _service,
}


def check_object(obj: RenderedObject, version: str = K8S_VERSION) -> list[ObjectFinding]:
    """Every finding for one rendered object, errors first, in path order."""
    body = obj.body
    raw = schema_findings(body, version) + metadata_findings(body)
    raw += KIND_RULES.get(str(body.get("kind")), lambda _: [])(body)
    findings = {
        ObjectFinding(obj.ref, path, message, obj.source_of(path), severity)
        for severity, path, message in raw
    }
    return sorted(findings, key=lambda f: (f.severity != ERROR, f.path, f.message))


def check_rendered(
    objects: Iterable[RenderedObject], version: str = K8S_VERSION
) -> list[ObjectFinding]:
    """Every finding for the rendered objects of one SeldonDeployment, plus names two
    objects of one kind would share."""
    objects = list(objects)
    found = [f for obj in objects for f in check_object(obj, version)]
    seen: dict[str, RenderedObject] = {}
    for obj in objects:
        if obj.ref in seen:
            found.append(
                ObjectFinding(
                    obj.ref, "metadata.name", "already exists (rendered twice)", obj.source_of("")
                )
            )
        seen[obj.ref] = obj
    return found


def errors(findings: Iterable[ObjectFinding]) -> list[ObjectFinding]:
    return [f for f in findings if f.severity == ERROR]
