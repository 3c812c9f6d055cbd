"""Install the SeldonDeployment CRD (v1 only) built from the CRD's ``openAPIV3Schema``.

The schema is the one ``seldon-graph validate`` reads (``graph/schema.py``:
``../shared/seldon/seldondeployment-v1.schema.json`` beside the repository, or a copy of a
cluster's own CRD), wrapped as Seldon Core 1.17.1 ships it: group
``machinelearning.seldon.io``, ``v1`` served and stored, ``v1alpha2`` and ``v1alpha3``
served with the same schema, ``status`` and ``scale`` subresources. The object is about
350 kB: it is created with a plain POST (what ``kubectl create`` sends); a client-side
``kubectl apply`` would also store it in the last-applied annotation, which the server
caps at 262,144 bytes. Established is polled
on the object itself: ``kubectl wait --for condition=established`` from kubectl 1.3x
gives up early against a 1.20 server.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .errors import ClusterError

GROUP = "machinelearning.seldon.io"
NAME = f"seldondeployments.{GROUP}"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# Served as Seldon 1.17.1 serves them (same schema, no conversion webhook); v1 is stored.
VERSIONS = ("v1", "v1alpha2", "v1alpha3")


def default_schema(repo_root: Path) -> Path:
    """Where ``graph/schema.py`` looks first: ``../shared/seldon/`` beside the repository."""
    return repo_root.parent / "shared" / "seldon" / "seldondeployment-v1.schema.json"


def crd_manifest(schema: dict[str, Any]) -> dict[str, Any]:
    """The CustomResourceDefinition object for ``schema`` (an ``openAPIV3Schema``)."""
    schema = schema.get("openAPIV3Schema", schema)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": NAME},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": "SeldonDeployment",
                "listKind": "SeldonDeploymentList",
                "plural": "seldondeployments",
                "singular": "seldondeployment",
                "shortNames": ["sdep"],
            },
            "scope": "Namespaced",
            "versions": [_version(name, schema) for name in VERSIONS],
        },
    }


def _version(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "served": True,
        "storage": name == "v1",
        "schema": {"openAPIV3Schema": schema},
        "subresources": {
            "status": {},
            "scale": {
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.replicas",
            },
        },
    }


def install_crd(cluster: Any, schema_path: Path, timeout_s: float = 60.0) -> None:
    """Create the CRD in ``cluster`` (a ``LocalCluster``) and wait until it is Established
    and its resource is served."""
    try:
        schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ClusterError(f"cannot read the CRD schema {schema_path}: {exc}") from exc
    status, body = cluster.request("POST", CRD_PATH, crd_manifest(schema))
    if status not in (201, 409):
        raise ClusterError(f"creating the CRD {NAME} failed: HTTP {status} {_message(body)}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _established(cluster) and _served(cluster):
            return
        time.sleep(0.2)
    raise ClusterError(f"the CRD {NAME} was not Established after {timeout_s:.0f} s")


def _established(cluster: Any) -> bool:
    status, body = cluster.request("GET", f"{CRD_PATH}/{NAME}")
    if status != 200:
        return False
    conditions = (body.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _served(cluster: Any) -> bool:
    status, body = cluster.request("GET", f"/apis/{GROUP}/v1")
    return status == 200 and any(
        r.get("name") == "seldondeployments" for r in body.get("resources") or []
    )


def _message(body: Any) -> str:
    return str(body.get("message")) if isinstance(body, dict) else str(body)[:500]
