"""Broken variants of rendered objects: one mistake each, as a changed operator, a bad
manifest or a bad option could make them. Each mutates a copy of one object of the shipped
manifest's rendering, named by kind and name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
DEPLOYMENT = "Deployment/digits-main-0-transformer"
SERVICE = "Service/digits-main-transformer"
VIRTUAL_SERVICE = "VirtualService/digits"
DESTINATION_RULE = "DestinationRule/digits-main"


def _pod(o: Obj) -> Obj:
    pod: Obj = o["spec"]["template"]["spec"]
    return pod


def _main(o: Obj) -> Obj:
    container: Obj = _pod(o)["containers"][0]
    return container


def _set(path: list[Any], value: Any) -> Callable[[Obj], None]:
    def mutate(o: Obj) -> None:
        for key in path[:-1]:
            o = o[key]
        o[path[-1]] = value

    return mutate


def _duplicate_container(o: Obj) -> None:
    _pod(o)["containers"].append({**_main(o), "ports": []})


def _mount(name: str, path: str) -> Callable[[Obj], None]:
    return lambda o: _main(o)["volumeMounts"].append({"name": name, "mountPath": path})


def _resources(requests: dict[str, Any], limits: dict[str, Any]) -> Callable[[Obj], None]:
    return lambda o: _main(o).update(resources={"requests": requests, "limits": limits})


def _unnamed_ports(o: Obj) -> None:
    for port in o["spec"]["ports"]:
        port.pop("name")


def _service_port_twice(o: Obj) -> None:
    o["spec"]["ports"].append({**o["spec"]["ports"][0], "name": "again"})


POD = ["spec", "template", "spec"]
C0 = [*POD, "containers", 0]
# id -> (the object mutated, the mutation)
MUTATIONS: dict[str, tuple[str, Callable[[Obj], None]]] = {
    "deployment-name-uppercase": (DEPLOYMENT, _set(["metadata", "name"], "Digits")),
    "label-value-invalid": (DEPLOYMENT, _set(["metadata", "labels", "app"], "bad value!")),
    "annotation-key-invalid": (DEPLOYMENT, _set(["metadata", "annotations"], {"bad key!": "x"})),
    "selector-not-matching": (DEPLOYMENT, _set([*POD[:2], "metadata", "labels"], {"a": "b"})),
    "replicas-negative": (DEPLOYMENT, _set(["spec", "replicas"], -1)),
    "container-name-invalid": (DEPLOYMENT, _set([*C0, "name"], "Transformer_1")),
    "container-name-twice": (DEPLOYMENT, _duplicate_container),
    "container-image-missing": (DEPLOYMENT, lambda o: _main(o).pop("image")),
    "container-unknown-field": (DEPLOYMENT, _set([*C0, "colour"], "red")),
    "env-name-with-equals": (DEPLOYMENT, _set([*C0, "env", 0, "name"], "A=B")),
    "env-name-digit-first": (DEPLOYMENT, _set([*C0, "env", 0, "name"], "9LIVES")),
    "port-name-too-long": (DEPLOYMENT, _set([*C0, "ports", 0, "name"], "a-very-long-port-name")),
    "port-name-twice": (DEPLOYMENT, _set([*C0, "ports", 1, "name"], "metrics")),
    "container-port-out-of-range": (DEPLOYMENT, _set([*C0, "ports", 0, "containerPort"], 70000)),
    "volume-name-invalid": (DEPLOYMENT, _set([*POD, "volumes", 0, "name"], "Bad_Volume")),
    "mount-of-unknown-volume": (DEPLOYMENT, _mount("nope", "/nope")),
    "mount-path-twice": (DEPLOYMENT, _mount("tmp", "/etc/podinfo")),
    "requests-above-limits": (DEPLOYMENT, _resources({"cpu": "2"}, {"cpu": "1"})),
    "quantity-malformed": (DEPLOYMENT, _resources({}, {"memory": "1.5.5Gi"})),
    "gpu-requests-not-limits": (
        DEPLOYMENT,
        _resources({"nvidia.com/gpu": 1}, {"nvidia.com/gpu": 2}),
    ),
    "gpu-fraction": (DEPLOYMENT, _resources({}, {"nvidia.com/gpu": "500m"})),
    "service-name-not-dns1035": (SERVICE, _set(["metadata", "name"], "1digits")),
    "service-ports-unnamed": (SERVICE, _unnamed_ports),
    "service-port-twice": (SERVICE, _service_port_twice),
    "service-port-zero": (SERVICE, _set(["spec", "ports", 0, "port"], 0)),
    "service-type-unknown": (SERVICE, _set(["spec", "type"], "Magic")),
    "virtualservice-weight-not-integer": (
        VIRTUAL_SERVICE,
        _set(["spec", "http", 0, "route", 0, "weight"], "ninety"),
    ),
    "destinationrule-subsets-not-a-list": (
        DESTINATION_RULE,
        _set(["spec", "subsets"], {"name": "main"}),
    ),
}
