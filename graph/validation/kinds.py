"""The documents of a manifest file that are not SeldonDeployments.

Seldon's own examples keep a Namespace, a Secret, a ServiceAccount or an Istio
VirtualService beside the SeldonDeployment. The core kinds are checked as the API server
would (the Kubernetes 1.28 schemas of ``kubernetes-validate``, strict, and the name and
label rules, through :mod:`graph.render.checks`); kinds with no schema there are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kubernetes_validate

from graph.manifest import Finding
from graph.render.checks import K8S_VERSION, metadata_findings, schema_findings
from graph.validation.admission import API_GROUP, KIND


def is_seldon_deployment(doc: Any) -> bool:
    """Whether ``doc`` is (or means to be) a SeldonDeployment: its kind, its API group,
    or no kind at all (then the admission rules say what is missing)."""
    if not isinstance(doc, Mapping):
        return True
    kind, api = doc.get("kind"), doc.get("apiVersion")
    return kind in (None, "", KIND) or str(api).startswith(f"{API_GROUP}/")


def describe(doc: Mapping[str, Any]) -> str:
    """``Kind/name`` (``Kind`` alone when unnamed), for the skipped line."""
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return f"{doc.get('kind')}/{name}" if name else str(doc.get("kind"))


def core_findings(doc: Mapping[str, Any], version: str = K8S_VERSION) -> list[Finding] | None:
    """What the API server refuses in ``doc``; None when Kubernetes ``version`` has no
    schema for its kind (a custom resource such as Istio's VirtualService)."""
    body = dict(doc)
    try:
        kubernetes_validate.validate(body, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return None
    except kubernetes_validate.ValidationError:
        pass  # reported, with its path, by schema_findings below
    raw = schema_findings(body, version) + metadata_findings(body)
    return [
        Finding(path, message if message.startswith("schema") else f"kubernetes: {message}", sev)
        for sev, path, message in raw
    ]
