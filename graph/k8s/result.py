"""What ``seldon-graph apply`` sends and reports: the object stripped to what a client
may set, and the outcome of one apply or traffic patch."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from model.errors import ConfigError

SERVER_SET = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields")


@dataclass(frozen=True)
class ApplyResult:
    action: str  # created | replaced | patched | unchanged
    name: str
    namespace: str
    resource_version: str = ""
    dry_run: bool = False
    tries: int = 1
    patch: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        suffix = " (server dry run: nothing persisted)" if self.dry_run else ""
        rv = f" at resourceVersion {self.resource_version}" if self.resource_version else ""
        return f"seldondeployment {self.namespace}/{self.name} {self.action}{rv}{suffix}"


def identity(doc: Mapping[str, Any], namespace: str) -> tuple[str, dict[str, Any]]:
    """The object's name and a copy placed in ``namespace``, without the fields the
    server sets (``status`` included)."""
    body = copy.deepcopy(dict(doc))
    metadata = body.setdefault("metadata", {})
    name = metadata.get("name")
    if not name:
        raise ConfigError("the SeldonDeployment has no metadata.name")
    metadata["namespace"] = namespace
    for key in SERVER_SET:
        metadata.pop(key, None)
    body.pop("status", None)
    return str(name), body
