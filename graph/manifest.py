"""Read SeldonDeployment manifests: YAML or JSON files, one or many documents each.

Every document keeps where it came from (file and position) so that findings can name
it, and every problem found in it is a :class:`Finding` with the YAML path of the bad
value (``spec.predictors[1].traffic``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from model.errors import ManifestError

WARNING = "warning"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in a document: the YAML path of the bad value and what is wrong."""

    path: str
    message: str
    # "error": the operator or Kubernetes refuses it; "warning": a rule of this project,
    # stricter than the operator (an error only with ``validate --strict``)
    severity: str = "error"

    @property
    def is_warning(self) -> bool:
        return self.severity == WARNING

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def to_error(self) -> ManifestError:
        return ManifestError(self.message, self.path)


@dataclass(frozen=True)
class Document:
    """One non-empty document of a manifest file.

    ``index`` is the document's 1-based position in the file's YAML stream and
    ``count`` the number of non-empty documents the file holds.
    """

    source: str
    index: int
    body: Any
    count: int = 1

    @property
    def label(self) -> str:
        """``FILE`` for a single-document file, ``FILE:doc N`` otherwise."""
        return f"{self.source}:doc {self.index}" if self.count > 1 else self.source


class UnreadableManifest(ManifestError):
    """The manifest file cannot be read at all (missing, a directory, no permission)."""


class ManifestSyntaxError(ManifestError):
    """The manifest is not valid YAML/JSON; ``line`` and ``column`` are 1-based."""

    def __init__(self, source: str, line: int | None, column: int | None, problem: str) -> None:
        self.source = source
        self.line = line
        self.column = column
        where = f"{source}:{line}:{column}" if line is not None else source
        super().__init__(f"invalid YAML: {problem}", where)


def _yaml_error(source: str, exc: yaml.YAMLError) -> ManifestSyntaxError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if context:
        problem = f"{problem} ({context})"
    if mark is None:
        return ManifestSyntaxError(source, None, None, problem)
    return ManifestSyntaxError(source, mark.line + 1, mark.column + 1, problem)


def _documents(source: str, bodies: list[Any]) -> list[Document]:
    kept = [(i + 1, body) for i, body in enumerate(bodies) if body is not None]
    return [Document(source, index, body, len(kept)) for index, body in kept]


def loads(text: str, source: str = "<string>", *, json_only: bool = False) -> list[Document]:
    """The non-empty documents in ``text`` (YAML, which includes JSON).

    ``json_only`` parses ``text`` as one JSON document (tabs and all, which YAML refuses),
    falling back to YAML when it does not start like JSON.
    Raises :class:`ManifestSyntaxError` with the line and column of a syntax error.
    """
    if json_only:
        try:
            return _documents(source, [json.loads(text)])
        except json.JSONDecodeError as exc:
            if text.lstrip().startswith(("{", "[")):
                raise ManifestSyntaxError(source, exc.lineno, exc.colno, exc.msg) from exc
            # A ``.json`` name on a YAML file: read it as YAML below.
    try:
        return _documents(source, list(yaml.safe_load_all(text)))
    except yaml.YAMLError as exc:
        raise _yaml_error(source, exc) from exc


def load_file(path: str | Path) -> list[Document]:
    """The non-empty documents of one manifest file; ``.json`` files are read as JSON.

    Raises :class:`UnreadableManifest` when the file cannot be read and
    :class:`ManifestSyntaxError` when it does not parse.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableManifest(f"cannot read {source}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise UnreadableManifest(f"cannot read {source}: {exc.strerror or exc}") from exc
    return loads(text, source, json_only=source.lower().endswith(".json"))
