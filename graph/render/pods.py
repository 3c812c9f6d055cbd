"""The pod spec rules of the Kubernetes API server that no schema expresses
(``ValidatePodSpec`` in ``pkg/apis/core/validation/validation.go``) and the pod
warnings it returns (``GetWarningsForPodTemplate`` in ``pkg/api/pod/warnings.go``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graph.render import k8s_names
from graph.render.initializer import PVC_VOLUME
from graph.render.resources import resource_findings

ERROR = "error"
WARNING = "warning"
Raw = tuple[str, str, str]
PVC_HINT = (
    f" (the operator names the claim volume of every pvc:// node {PVC_VOLUME}: give each "
    "node with a pvc:// modelUri its own componentSpec)"
)


def _invalid(path: str, value: str, problems: list[str]) -> list[Raw]:
    return [(ERROR, path, f"Invalid value: {value!r}: {p}") for p in problems]


def _volumes(spec: dict[str, Any], base: str) -> list[Raw]:
    found: list[Raw] = []
    seen: set[str] = set()
    for i, volume in enumerate(spec.get("volumes") or ()):
        name, path = str(volume.get("name", "")), f"{base}.volumes[{i}].name"
        found += _invalid(path, name, k8s_names.dns1123_label(name))
        if name in seen:
            hint = PVC_HINT if name == PVC_VOLUME else ""
            found.append((ERROR, path, f"Duplicate value: {name!r}{hint}"))
        seen.add(name)
    return found


def _containers(spec: dict[str, Any], base: str) -> Iterator[tuple[dict[str, Any], str]]:
    for key in ("containers", "initContainers"):
        for i, container in enumerate(spec.get(key) or ()):
            yield container, f"{base}.{key}[{i}]"


def _ports(container: dict[str, Any], path: str) -> list[Raw]:
    found: list[Raw] = []
    names: set[str] = set()
    for i, port in enumerate(container.get("ports") or ()):
        where = f"{path}.ports[{i}]"
        if name := str(port.get("name") or ""):
            found += _invalid(f"{where}.name", name, k8s_names.port_name(name))
            if name in names:
                found.append((ERROR, f"{where}.name", f"Duplicate value: {name!r}"))
            names.add(name)
        number = port.get("containerPort")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            found.append(
                (
                    ERROR,
                    f"{where}.containerPort",
                    f"Invalid value: {number!r}: must be between 1 and 65535, inclusive",
                )
            )
    return found


def _env(container: dict[str, Any], path: str) -> list[Raw]:
    """Bad names are errors; a name defined twice is only a warning (the later value
    wins in the container, and ``kubectl apply`` may drop one of them)."""
    found: list[Raw] = []
    seen: set[str] = set()
    for i, item in enumerate(container.get("env") or ()):
        name, where = str(item.get("name", "")), f"{path}.env[{i}]"
        found += _invalid(f"{where}.name", name, k8s_names.env_name(name))
        if name in seen:
            ref = f"$({name})"
            value = str(item.get("value", ""))
            if item.get("valueFrom") is not None or value == ref or ref not in value:
                found.append(
                    (
                        WARNING,
                        where,
                        f"hides previous definition of {name!r}, "
                        "which may be dropped when using apply",
                    )
                )
        seen.add(name)
    return found


def _mounts(container: dict[str, Any], path: str, volumes: set[str]) -> list[Raw]:
    found: list[Raw] = []
    paths: set[str] = set()
    for i, mount in enumerate(container.get("volumeMounts") or ()):
        name, where = str(mount.get("name", "")), f"{path}.volumeMounts[{i}]"
        if name not in volumes:
            found.append((ERROR, f"{where}.name", f"Not found: {name!r}"))
        mount_path = str(mount.get("mountPath", ""))
        if mount_path in paths:
            found.append(
                (ERROR, f"{where}.mountPath", f"Invalid value: {mount_path!r}: must be unique")
            )
        paths.add(mount_path)
    return found


def _duplicate_ports(spec: dict[str, Any], base: str) -> list[Raw]:
    """``duplicate port definition``: one containerPort/protocol twice in the pod with
    the same host IP and port (warnings.go); both containers and init containers."""
    found: list[Raw] = []
    seen: dict[tuple[Any, ...], str] = {}
    for container, path in _containers(spec, base):
        for i, port in enumerate(container.get("ports") or ()):
            key = (
                port.get("containerPort"),
                port.get("protocol", "TCP"),
                port.get("hostIP", ""),
                port.get("hostPort", 0),
            )
            where = f"{path}.ports[{i}]"
            if key in seen:
                found.append((WARNING, where, f"duplicate port definition with {seen[key]}"))
            else:
                seen[key] = where
    return found


def pod_findings(spec: dict[str, Any], base: str) -> list[Raw]:
    """Every finding in one pod spec at YAML path ``base``."""
    found = _volumes(spec, base)
    volumes = {str(v.get("name", "")) for v in spec.get("volumes") or ()}
    names: set[str] = set()
    for container, path in _containers(spec, base):
        name = str(container.get("name", ""))
        found += _invalid(f"{path}.name", name, k8s_names.dns1123_label(name))
        if name in names:
            found.append((ERROR, f"{path}.name", f"Duplicate value: {name!r}"))
        names.add(name)
        if not str(container.get("image") or "").strip():
            found.append((ERROR, f"{path}.image", "Required value"))
        found += _ports(container, path) + _env(container, path) + _mounts(container, path, volumes)
        found += resource_findings(container, path)
    return found + _duplicate_ports(spec, base)
