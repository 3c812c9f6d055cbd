"""Container resource rules the API server applies and schemas do not
(``ValidateResourceRequirements`` in ``pkg/apis/core/validation/validation.go``):
quantity syntax, requests at most the limits, extended resources (``nvidia.com/gpu``)
whole, with equal requests and limits."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

ERROR = "error"
Raw = tuple[str, str, str]
QUANTITY = re.compile(
    r"^([+-]?)(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$"
)
BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def quantity(text: Any) -> Fraction | None:
    """A Kubernetes quantity as an exact number; None when it does not parse."""
    match = QUANTITY.match(str(text).strip())
    if match is None:
        return None
    sign, number, suffix = match.group(1), Fraction(match.group(2)), match.group(3) or ""
    if suffix in BINARY:
        value = number * 1024 ** BINARY[suffix]
    elif suffix in DECIMAL:
        value = number * Fraction(10) ** DECIMAL[suffix]
    else:
        value = number * Fraction(10) ** int(suffix[1:])
    return -value if sign == "-" else value


def is_extended(name: str) -> bool:
    """``IsExtendedResourceName``: a domain-prefixed name outside kubernetes.io."""
    prefix = name.partition("/")[0]
    return "/" in name and not (prefix == "kubernetes.io" or prefix.endswith(".kubernetes.io"))


def _parsed(
    resources: dict[str, Any], kind: str, path: str
) -> tuple[dict[str, Fraction], list[Raw]]:
    values, found = {}, []
    for name, raw in (resources.get(kind) or {}).items():
        where = f"{path}.{kind}[{name}]"
        value = quantity(raw)
        if value is None:
            found.append(
                (
                    ERROR,
                    where,
                    f"Invalid value: {raw!r}: quantities must match the regular expression",
                )
            )
        elif value < 0:
            found.append(
                (ERROR, where, f"Invalid value: {raw!r}: must be greater than or equal to 0")
            )
        elif is_extended(str(name)) and value.denominator != 1:
            found.append((ERROR, where, f"Invalid value: {raw!r}: must be an integer"))
        else:
            values[str(name)] = value
    return values, found


def resource_findings(container: dict[str, Any], path: str) -> list[Raw]:
    """The findings for one container's ``resources`` at ``path`` (the container's)."""
    resources = container.get("resources") or {}
    where = f"{path}.resources"
    limits, found = _parsed(resources, "limits", where)
    requests, more = _parsed(resources, "requests", where)
    found += more
    raw_limits = resources.get("limits") or {}
    for name, value in requests.items():
        at = f"{where}.requests[{name}]"
        limit = limits.get(name)
        if limit is not None and value > limit:
            found.append(
                (
                    ERROR,
                    at,
                    f"Invalid value: must be less than or equal to {name} limit "
                    f"of {raw_limits[name]}",
                )
            )
        elif is_extended(name) and limit is None:
            found.append(
                (
                    ERROR,
                    f"{where}.limits",
                    f"Required value: Limit must be set for non overcommitable resources ({name})",
                )
            )
        elif is_extended(name) and limit is not None and value != limit:
            found.append(
                (ERROR, at, f"Invalid value: must be equal to {name} limit of {raw_limits[name]}")
            )
    return found
