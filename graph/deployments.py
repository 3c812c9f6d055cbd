"""The SeldonDeployments a manifest file serves: read, checked by the operator's rules, typed.

``seldon-graph serve`` loads them at start and the gateway's weight reloader
(:mod:`graph.gateway.reload`) loads them again on each change of the file, with this
one function, so a file that would not start is never applied live either.
"""

from __future__ import annotations

import logging
from pathlib import Path

from graph.manifest import load_file
from graph.spec import DeploymentSpec, load_deployment
from graph.validation import validate_document
from model.errors import ManifestError, NotFound

KIND = "SeldonDeployment"
log = logging.getLogger("seldon-graph.deployments")


def load_deployments(path: Path, name: str | None = None) -> list[DeploymentSpec]:
    """The SeldonDeployments of a manifest file (only the one named ``name`` if given),
    checked against the operator's rules: what the operator or Kubernetes would refuse is
    a ``ManifestError``; the project's stricter rules (warnings) are logged."""
    found = []
    for doc in load_file(path):
        if not isinstance(doc.body, dict) or doc.body.get("kind") != KIND:
            continue
        findings = validate_document(doc.body, None)
        errors = [f for f in findings if not f.is_warning]
        if errors:
            details = "; ".join(str(f) for f in errors)
            raise ManifestError(f"{doc.label} is not a valid SeldonDeployment: {details}")
        for warning in findings:  # the project's stricter rules: served, as a cluster would
            log.warning("%s: %s", doc.label, warning)
        found.append(load_deployment(doc.body))
    if not found:
        raise ManifestError(f"{path} holds no {KIND}")
    if name is not None:
        found = [d for d in found if d.name == name]
        if not found:
            raise NotFound(f"{path} has no {KIND} named {name!r}")
    return found
