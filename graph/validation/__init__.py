"""Validate SeldonDeployment manifests as the cluster would: the CRD schema and the
Seldon Core v1 operator's admission rules.

- :mod:`~graph.validation.schema`: find, load and apply the CRD's ``openAPIV3Schema``;
- :mod:`~graph.validation.admission`: the webhook's deployment-wide rules;
- :mod:`~graph.validation.nodes`: the rules for each graph node;
- :mod:`~graph.validation.traffic`: the canary and shadow traffic rules (also used by
  canary edits and runtime weight changes);
- :mod:`~graph.validation.kinds`: the other kinds of a file (Kubernetes schemas or skipped);
- :mod:`~graph.validation.documents`: all together, per document, file and report.

Errors are what the operator's webhook or Kubernetes refuses; this project's stricter
rules are warnings (``Finding.is_warning``), errors only with ``validate --strict``.
"""

from graph.validation.admission import webhook_findings
from graph.validation.documents import (
    STDIN,
    FileReport,
    Report,
    validate_document,
    validate_file,
    validate_files,
)
from graph.validation.schema import SKIPPED_NOTE, find_schema, load_schema
from graph.validation.traffic import check_traffic

__all__ = [
    "SKIPPED_NOTE",
    "STDIN",
    "FileReport",
    "Report",
    "check_traffic",
    "find_schema",
    "load_schema",
    "validate_document",
    "validate_file",
    "validate_files",
    "webhook_findings",
]
