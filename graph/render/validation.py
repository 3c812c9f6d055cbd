"""The rendering checks as ``seldon-graph validate`` findings: what the API server
would refuse in the objects the operator creates (errors only; warnings are shown by
``seldon-graph render``)."""

from __future__ import annotations

from typing import Any

from graph.manifest import Finding
from graph.render.checks import ERROR, WARNING, ObjectFinding
from graph.render.options import RenderOptions
from graph.render.pitfalls import pitfall_findings
from graph.render.stream import check_document, is_seldon_deployment
from model.errors import ManifestError


def render_findings(doc: Any, options: RenderOptions | None = None) -> list[Finding]:
    """Findings at the SeldonDeployment path each problem traces back to; the message
    names the rendered object and the path in it. None for documents that are not
    SeldonDeployments or use features that are not rendered."""
    if not is_seldon_deployment(doc):
        return []
    try:
        found = check_document(doc, options or RenderOptions())
    except ManifestError:
        return []
    return [Finding(f.source, _message(f)) for f in found if f.severity == ERROR]


def _message(finding: ObjectFinding) -> str:
    if finding.ref.startswith("SeldonDeployment/"):
        return finding.message
    return f"rendered {finding.ref}: {finding.path}: {finding.message}"


def pitfall_warnings(doc: Any) -> list[Finding]:
    """The warnings about the SeldonDeployment itself (graph/render/pitfalls.py: keys
    and places the operator or executor ignores, images that resolve to Docker Hub's
    library), for a document that passed the other checks."""
    if not is_seldon_deployment(doc):
        return []
    return [Finding(f.source, f.message) for f in pitfall_findings(doc) if f.severity == WARNING]
