"""What the real API server and our offline checks (graph/render/checks) each say about
one rendered object, in one comparable form: the set of field paths refused."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from graph.manifest import load_file
from graph.render import RenderOptions, render_objects
from graph.render.checks import ERROR, check_object
from graph.render.objects import RenderedObject
from graph.render.stream import is_seldon_deployment
from model.errors import ManifestError
from tests.cluster.kube import Kube

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "graph" / "seldondeployment.yaml"
FIXTURES = ROOT / "tests" / "graph" / "validation" / "manifests"


def in_namespace(doc: dict[str, Any], namespace: str) -> dict[str, Any]:
    """A copy of the SeldonDeployment ``doc`` placed in ``namespace``."""
    doc = copy.deepcopy(doc)
    doc.setdefault("metadata", {})["namespace"] = namespace
    return doc


def server_fields(kube: Kube, body: dict[str, Any], namespace: str) -> set[str]:
    """The fields a dry-run create of ``body`` is refused at (empty: accepted). A refusal
    naming no field (a body that does not decode) is ``<HTTP status, no field named>``."""
    status, reply = kube.create(body, namespace, dry_run=True)
    if status == 201:
        return set()
    causes = reply.get("details", {}).get("causes", []) if isinstance(reply, dict) else []
    fields = {str(c.get("field", "")) for c in causes if c.get("field")}
    if fields:
        return fields
    return {f"<HTTP {status}, no field named>"}


def offline_paths(body: dict[str, Any]) -> set[str]:
    """The paths our checks report as errors in ``body``."""
    return {f.path for f in check_object(RenderedObject(body)) if f.severity == ERROR}


@dataclass(frozen=True)
class Difference:
    case: str
    ref: str
    offline_only: frozenset[str]
    server_only: frozenset[str]

    def __str__(self) -> str:
        return (
            f"{self.case}: {self.ref}: only offline {sorted(self.offline_only)}, "
            f"only the server {sorted(self.server_only)}"
        )


def compare(kube: Kube, case: str, bodies: Iterable[dict[str, Any]], namespace: str):
    """Every object of ``bodies`` on both sides: (number compared, differences)."""
    differences, count = [], 0
    for body in bodies:
        count += 1
        server, offline = server_fields(kube, body, namespace), offline_paths(body)
        if server != offline:
            ref = f"{body.get('kind')}/{body.get('metadata', {}).get('name')}"
            differences.append(
                Difference(case, ref, frozenset(offline - server), frozenset(server - offline))
            )
    return count, differences


def fixture_documents() -> list[tuple[str, dict[str, Any]]]:
    """(label, SeldonDeployment) for the shipped manifest and every fixture that loads."""
    files = [MANIFEST, *sorted((FIXTURES / "valid").iterdir())]
    files += sorted((FIXTURES / "invalid").iterdir())
    found = []
    for path in files:
        if path.name == "bad-syntax.yaml":
            continue
        for doc in load_file(path):
            if is_seldon_deployment(doc.body):
                found.append((f"{path.parent.name}/{doc.label.rsplit('/', 1)[-1]}", doc.body))
    return found


def rendered_bodies(doc: dict[str, Any], namespace: str, ingress: str = "istio"):
    """The rendered objects of ``doc`` in ``namespace``; None when it is not rendered."""
    try:
        objects = render_objects(in_namespace(doc, namespace), RenderOptions(ingress=ingress))
    except ManifestError:
        return None
    return [obj.body for obj in objects]


Mutation = Callable[[dict[str, Any]], None]


def mutated(body: dict[str, Any], mutation: Mutation) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    mutation(body)
    return body


def dump(bodies: Iterable[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(list(bodies), sort_keys=False)
