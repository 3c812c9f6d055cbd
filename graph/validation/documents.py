"""Validate SeldonDeployment manifests: the CRD schema plus the operator's admission rules.

Pure functions over documents and files; the CLI (``seldon-graph validate``) only prints
the report. A finding reads ``FILE[:doc N]: spec.predictors[1].traffic: <message>``, a
warning (this project's rules, stricter than the operator's, and render pitfalls)
``FILE[:doc N]: PATH: warning: <message>``; warnings fail a file only when ``strict``.
Other kinds in the file are checked as Kubernetes would, or skipped
(:mod:`graph.validation.kinds`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from graph.manifest import (
    Document,
    Finding,
    ManifestSyntaxError,
    UnreadableManifest,
    load_file,
    loads,
)
from graph.render.validation import pitfall_warnings, render_findings
from graph.validation.admission import webhook_findings
from graph.validation.kinds import core_findings, describe, is_seldon_deployment
from graph.validation.schema import load_schema, schema_findings

STDIN = "-"
SKIPPED_KIND = "not a SeldonDeployment, and no Kubernetes schema for its kind"


def _covered(path: str, flagged: set[str]) -> bool:
    """Whether ``path`` is, or lies under, a path the schema already reported."""
    return any(path == bad or path.startswith((f"{bad}.", f"{bad}[")) or not bad for bad in flagged)


def validate_document(
    doc: Any, schema: Draft7Validator | None, servers: Iterable[str] = ()
) -> list[Finding]:
    """Every problem in one document, sorted by YAML path; empty when it is valid.

    ``servers`` adds prepackaged server names (a cluster's ``seldon-config``) to Seldon's.

    Schema findings come first at a path; an admission rule finding at (or under) a path
    the schema already reported is dropped, so each bad value is reported once. Warnings
    (``Finding.is_warning``) are included.
    """
    found = schema_findings(doc, schema) if schema is not None else []
    flagged = {f.path for f in found}
    found += [f for f in webhook_findings(doc, servers) if not _covered(f.path, flagged)]
    if not any(not f.is_warning for f in found):  # render what the operator would create
        found += render_findings(doc)
    return sorted(found, key=lambda f: f.path)


@dataclass(frozen=True)
class DocumentReport:
    label: str
    findings: tuple[Finding, ...]
    warnings: tuple[Finding, ...] = ()  # printed; the document stays valid unless strict
    skipped: str = ""  # ``Kind/name`` of a document no check applies to


@dataclass(frozen=True)
class FileReport:
    """One file's result: its documents' findings, or why it could not be read."""

    source: str
    documents: tuple[DocumentReport, ...] = ()
    unreadable: str = ""  # the reason, when the file could not be read at all
    syntax_error: str = ""  # ``FILE:LINE:COL: invalid YAML: ...`` when it did not parse
    strict: bool = False  # warnings fail the file too

    @property
    def valid(self) -> bool:
        return (
            not self.unreadable
            and not self.syntax_error
            and bool(self.documents)
            and not any(d.findings or (self.strict and d.warnings) for d in self.documents)
        )

    def lines(self) -> list[str]:
        """What the CLI prints on stdout for this file."""
        if self.unreadable:
            return []
        if self.syntax_error:
            return [self.syntax_error]
        if not self.documents:
            return [f"{self.source}: no SeldonDeployment document found (the file is empty)"]
        warned = [f"{d.label}: {w.path}: warning: {w.message}" for d in self.documents
                  for w in d.warnings]  # fmt: skip
        warned += [f"{d.label}: skipped: {d.skipped} ({SKIPPED_KIND})" for d in self.documents
                   if d.skipped]  # fmt: skip
        if self.valid:
            count = len(self.documents)
            return [
                *warned,
                f"{self.source}: valid" + (f" ({count} documents)" if count > 1 else ""),
            ]
        return [f"{d.label}: {f}" for d in self.documents for f in d.findings] + warned


@dataclass(frozen=True)
class Report:
    files: tuple[FileReport, ...]
    schema_path: Path | None

    @property
    def valid(self) -> bool:
        return all(f.valid for f in self.files)

    @property
    def exit_code(self) -> int:
        """0 when every file is valid, 2 when a file could not be read, otherwise 1."""
        if any(f.unreadable for f in self.files):
            return 2
        return 0 if self.valid else 1

    def lines(self) -> list[str]:
        return [line for f in self.files for line in f.lines()]

    def errors(self) -> list[str]:
        """The unreadable files, for stderr."""
        return [f.unreadable for f in self.files if f.unreadable]


def document_report(
    doc: Document, schema: Draft7Validator | None, servers: Sequence[str] = ()
) -> DocumentReport:
    """One document's errors and warnings: a SeldonDeployment's, a core kind's (as the API
    server checks it), or a note that it was skipped."""
    if is_seldon_deployment(doc.body):
        found = validate_document(doc.body, schema, servers)
    else:
        core = core_findings(doc.body)
        if core is None:
            return DocumentReport(doc.label, (), skipped=describe(doc.body))
        found = sorted(core, key=lambda f: f.path)
    errors = tuple(f for f in found if not f.is_warning)
    warnings = [f for f in found if f.is_warning]
    if not errors and is_seldon_deployment(doc.body):
        warnings += pitfall_warnings(doc.body)
    return DocumentReport(doc.label, errors, tuple(warnings))


def validate_documents(
    source: str,
    documents: Iterable[Document],
    schema: Draft7Validator | None,
    servers: Sequence[str] = (),
    strict: bool = False,
) -> FileReport:
    reports = tuple(document_report(doc, schema, servers) for doc in documents)
    return FileReport(source, reports, strict=strict)


def validate_file(
    path: str,
    schema: Draft7Validator | None,
    stdin: str = "",
    servers: Sequence[str] = (),
    strict: bool = False,
) -> FileReport:
    """One file's report; ``-`` validates ``stdin`` (the text read from standard input)."""
    try:
        documents = loads(stdin, "<stdin>") if path == STDIN else load_file(path)
    except UnreadableManifest as exc:
        return FileReport(path, unreadable=str(exc))
    except ManifestSyntaxError as exc:
        return FileReport(path, syntax_error=str(exc))
    source = "<stdin>" if path == STDIN else path
    return validate_documents(source, documents, schema, servers, strict)


def validate_files(
    paths: Sequence[str],
    schema_path: Path | None,
    stdin: str = "",
    servers: Sequence[str] = (),
    strict: bool = False,
) -> Report:
    """Validate every file (each may hold several documents) against ``schema_path``
    (``None`` skips the schema checks) and the admission rules; ``stdin`` is the text
    standing for the path ``-``, ``servers`` adds prepackaged server names and ``strict``
    makes warnings fail a file."""
    schema = load_schema(Path(schema_path)) if schema_path is not None else None
    files = tuple(validate_file(p, schema, stdin, servers, strict) for p in paths)
    return Report(files, schema_path)
