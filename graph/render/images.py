"""Image references that do not say where the image lives.

Kubernetes hands the reference to the container runtime, which normalises a name with no
registry and no ``/`` (``seldon-graph:0.1.0``) to Docker Hub's official-image namespace,
``docker.io/library/seldon-graph:0.1.0`` (the distribution reference rules containerd and
CRI-O follow). A project image is never there, so such a pod never pulls its image.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graph.render.checks import WARNING, ObjectFinding


def library_reference(image: str) -> str | None:
    """The ``docker.io/library/...`` reference a one-component image name resolves to;
    ``None`` when the name has a ``/`` (a registry host or a Hub user)."""
    if not image or "/" in image.split("@", 1)[0]:
        return None
    name, _, digest = image.partition("@")
    if digest:
        return f"docker.io/library/{name}@{digest}"
    return f"docker.io/library/{name if ':' in name else name + ':latest'}"


def _containers(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, predictor in enumerate(doc["spec"].get("predictors") or ()):
        for j, component in enumerate(predictor.get("componentSpecs") or ()):
            pod = (component or {}).get("spec") or {}
            for kind in ("initContainers", "containers"):
                for k, container in enumerate(pod.get(kind) or ()):
                    yield f"spec.predictors[{i}].componentSpecs[{j}].spec.{kind}[{k}]", container


def image_findings(doc: dict[str, Any], ref: str) -> list[ObjectFinding]:
    """A warning per container whose image resolves to Docker Hub's library."""
    found = []
    for base, container in _containers(doc):
        resolved = library_reference(str(container.get("image") or ""))
        if resolved is not None:
            path = f"{base}.image"
            message = (
                f"resolves to {resolved} (Docker Hub's official images), where a project "
                "image is not: name the registry it was pushed to, e.g. "
                "registry.example.com/ml/<name>:<tag>"
            )
            found.append(ObjectFinding(ref, path, message, path, WARNING))
    return found
