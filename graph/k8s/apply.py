"""Send a SeldonDeployment to the cluster through ``CustomObjectsApi``.

- ``apply_deployment`` (here): create the object, or replace it (PUT carrying the live
  ``metadata.resourceVersion``, so a concurrent change answers 409 and is retried).
- ``patch_traffic`` (graph/k8s/traffic.py): only the traffic weights, as a guarded
  JSON patch.

``dry_run=True`` sends ``dryRun=All`` (the server validates, admits and persists nothing).
Failures become the project's errors with a message naming the cause (graph/k8s/errors.py):
no cluster reachable (``Unavailable``), the Seldon CRD not installed or the deployment
missing (``NotFound``), RBAC refusal (``ConfigError`` naming the verb and resource). The
calls themselves are graph/k8s/cluster.py's ``Cluster``; conflicts are retried by
graph/k8s/retry.py.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from typing import Any

from graph.k8s.cluster import JSON_PATCH, Cluster
from graph.k8s.errors import GROUP, PLURAL, RESOURCE, VERSION, Conflict, CrdMissing, StaleObject
from graph.k8s.result import ApplyResult, identity
from graph.k8s.retry import retrying
from graph.k8s.traffic import patch_traffic, traffic_patch
from model.errors import NotFound

__all__ = [
    "GROUP",
    "JSON_PATCH",
    "PLURAL",
    "RESOURCE",
    "VERSION",
    "ApplyResult",
    "Cluster",
    "Conflict",
    "CrdMissing",
    "StaleObject",
    "apply_deployment",
    "patch_traffic",
    "traffic_patch",
]


def apply_deployment(
    doc: Mapping[str, Any],
    cluster: Cluster,
    namespace: str,
    dry_run: bool = False,
    tries: int = 5,
    sleep: Callable[[float], None] = time.sleep,
    backoff_s: float = 0.1,
) -> ApplyResult:
    """Create the SeldonDeployment, or replace the live one."""
    name, body = identity(doc, namespace)

    def attempt(n: int) -> ApplyResult:
        try:
            live = cluster.get(name, namespace)
        except CrdMissing:
            raise
        except NotFound:
            created = cluster.create(body, namespace, dry_run)
            rv = str(created.get("metadata", {}).get("resourceVersion", ""))
            return ApplyResult("created", name, namespace, rv, dry_run, n)
        sent: dict[str, Any] = copy.deepcopy(body)
        sent["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        replaced = cluster.replace(sent, namespace, dry_run)
        rv = str(replaced.get("metadata", {}).get("resourceVersion", ""))
        return ApplyResult("replaced", name, namespace, rv, dry_run, n)

    return retrying(tries, sleep, backoff_s, attempt)
