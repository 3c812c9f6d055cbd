"""Render a stream of manifest documents, as ``seldon-graph render`` prints it: each
SeldonDeployment replaced by the objects the operator creates from it, every other
document passed through unchanged (with a note), and the findings of the checks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from graph.manifest import Document
from graph.render.checks import ERROR, ObjectFinding, check_rendered
from graph.render.objects import RenderedObject
from graph.render.options import RenderOptions
from graph.render.pitfalls import pitfall_findings
from graph.render.render import render_objects
from model.errors import ManifestError

SELDON_KIND = "SeldonDeployment"


def is_seldon_deployment(body: Any) -> bool:
    return isinstance(body, dict) and body.get("kind") == SELDON_KIND


def render_document(body: dict[str, Any], options: RenderOptions) -> list[RenderedObject]:
    """``render_objects``, with a malformed SeldonDeployment (a missing or mistyped key:
    ``seldon-graph validate`` names it) raised as :class:`ManifestError` too."""
    try:
        return render_objects(body, options)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        message = (
            f"malformed SeldonDeployment ({type(exc).__name__}: {exc}); run seldon-graph validate"
        )
        raise ManifestError(message) from exc


def check_document(body: dict[str, Any], options: RenderOptions) -> list[ObjectFinding]:
    """Render one SeldonDeployment and check the result (raises ManifestError for what
    is not rendered)."""
    return pitfall_findings(body) + check_rendered(render_document(body, options))


@dataclass
class StreamResult:
    """The YAML stream, notes and findings (``label: finding``) and whether any finding
    is an error or a document could not be rendered."""

    documents: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    failed: bool = False  # a SeldonDeployment could not be rendered
    has_errors: bool = False

    def yaml(self) -> str:
        parts = [
            f"---\n# Source: {source}\n{yaml.safe_dump(body, sort_keys=False)}"
            for source, body in self.documents
        ]
        return "".join(parts)


def _ref(body: Any) -> str:
    if not isinstance(body, dict):
        return type(body).__name__
    return f"{body.get('kind')}/{(body.get('metadata') or {}).get('name')}"


def render_stream(
    documents: Iterable[Document], options: RenderOptions, check: bool = True
) -> StreamResult:
    result = StreamResult()
    for doc in documents:
        if not is_seldon_deployment(doc.body):
            result.documents.append((f"{doc.label} (unchanged)", doc.body))
            result.notes.append(
                f"{doc.label}: {_ref(doc.body)} passed through unchanged (not a SeldonDeployment)"
            )
            continue
        try:
            objects = render_document(doc.body, options)
        except ManifestError as exc:
            result.failed = True
            result.notes.append(f"{doc.label}: not rendered: {exc}")
            continue
        source = f"{doc.label} ({_ref(doc.body)})"
        result.documents.extend((source, obj.body) for obj in objects)
        if check:
            findings = pitfall_findings(doc.body) + check_rendered(objects)
            result.findings.extend(f"{doc.label}: {f}" for f in findings)
            result.has_errors |= any(f.severity == ERROR for f in findings)
    return result
