"""Env values the kubelet computes: ``valueFrom.resourceFieldRef`` (the downward API).

The kubelet resolves a container's ``resourceFieldRef`` from its resources
(``ExtractContainerResourceValue`` in ``pkg/api/v1/resource/helpers.go``): the quantity
divided by ``divisor`` (default 1) and rounded UP to a whole number, CPU in millicores
(so ``limits.cpu: 1500m`` with divisor 1 gives ``2``, with divisor ``1m`` gives
``1500``), memory in bytes. A container without a limit gets the node's allocatable
amount (``MergeContainerResourceLimits``); here the node is this machine, whose CPU count
stands for it (memory without a limit is left unresolved). A request the container does
not set defaults to its limit (the API server's defaulting), else 0.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from graph.render.resources import quantity

RESOURCES = ("limits.cpu", "limits.memory", "requests.cpu", "requests.memory")


def _amount(resources: Mapping[str, Any], kind: str, name: str) -> Fraction | None:
    given = (resources.get(kind) or {}).get(name)
    if given is None and kind == "requests":
        given = (resources.get("limits") or {}).get(name)
        if given is None:
            return Fraction(0)
    if given is None:  # no limit: the node's allocatable
        return Fraction(os.cpu_count() or 1) if name == "cpu" else None
    return quantity(given)


def resource_field_value(container: Mapping[str, Any], ref: Mapping[str, Any]) -> str | None:
    """The value the kubelet gives ``ref`` (a ``resourceFieldRef``) in ``container``;
    ``None`` for resources not resolved here or quantities that do not parse."""
    resource = str(ref.get("resource") or "")
    if resource not in RESOURCES:
        return None
    kind, name = resource.split(".")
    amount = _amount(container.get("resources") or {}, kind, name)
    divisor = quantity(ref.get("divisor") or "1")
    if amount is None or divisor is None or divisor <= 0:
        return None
    return str(math.ceil(amount / divisor))


def container_env(container: Mapping[str, Any]) -> dict[str, str]:
    """A container's env as the process sees it: plain values, and resourceFieldRef
    values resolved like the kubelet (refs to another container are left out, as are
    other ``valueFrom`` sources)."""
    env: dict[str, str] = {}
    for entry in container.get("env") or ():
        if "name" not in entry:
            continue
        source = entry.get("valueFrom")
        if source is None:
            env[str(entry["name"])] = str(entry.get("value", ""))
            continue
        ref = source.get("resourceFieldRef") if isinstance(source, Mapping) else None
        if not isinstance(ref, Mapping):
            continue
        if ref.get("containerName") not in (None, "", container.get("name")):
            continue
        value = resource_field_value(container, ref)
        if value is not None:
            env[str(entry["name"])] = value
    return env
