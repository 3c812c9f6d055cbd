"""Plan and commit a canary edit of a SeldonDeployment manifest file.

``plan_manifest_edit`` reads the file, applies one pure operation from
:mod:`graph.canary.weights` to its SeldonDeployment, renders the new text with
:mod:`graph.canary.yamledit` and validates that text exactly as ``seldon-graph validate``
would read it (CRD schema + admission rules). Nothing is written until ``commit``; a
failed plan leaves the file byte-for-byte unchanged.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from graph.canary.yamledit import render
from graph.canary.yamlfile import load_file, to_plain, write_atomic
from graph.manifest import loads
from graph.validation import validate_document
from model.errors import ManifestError

Operation = Callable[[Any], Any]


@dataclass(frozen=True)
class EditPlan:
    """The edit of one file: old and new text and the new SeldonDeployment (plain data)."""

    path: Path
    old_text: str
    new_text: str
    document: dict[str, Any]

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    def diff(self) -> str:
        return unified_diff(self.old_text, self.new_text, str(self.path))


def unified_diff(old: str, new: str, name: str, context: int = 3) -> str:
    """A ``git diff``-like unified diff (difflib's autojunk off, so that the many equal
    lines of a manifest do not blur the alignment)."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    out = [f"--- a/{name}\n", f"+++ b/{name}\n"] if a != b else []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@\n")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out += [" " + line for line in a[a1:a2]]
                continue
            out += ["-" + line for line in a[a1:a2]]
            out += ["+" + line for line in b[b1:b2]]
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def seldon_index(documents: list[Any], source: str) -> int:
    """The position of the file's one SeldonDeployment document."""
    found = [
        i
        for i, doc in enumerate(documents)
        if isinstance(doc, Mapping) and doc.get("kind") == "SeldonDeployment"
    ]
    if len(found) != 1:
        raise ManifestError(
            f"expected exactly one SeldonDeployment document, found {len(found)}", source
        )
    return found[0]


def check_valid(body: Any, schema: Draft7Validator | None, source: str) -> None:
    """Raise ManifestError listing every finding when ``body`` is not a valid deployment."""
    findings = validate_document(body, schema)
    if findings:
        listed = "; ".join(str(f) for f in findings)
        raise ManifestError(f"the result would be invalid, nothing written: {listed}", source)


def plan_manifest_edit(
    path: str | Path, operation: Operation, schema: Draft7Validator | None
) -> EditPlan:
    """Apply ``operation`` to the SeldonDeployment in ``path`` and validate the new text."""
    loaded = load_file(path)
    source = str(path)
    index = seldon_index(loaded.documents, source)
    documents = list(loaded.documents)
    documents[index] = operation(documents[index])
    text = render(loaded, documents)
    reread = loads(text, source, json_only=loaded.is_json)
    body = reread[index].body
    check_valid(body, schema, source)
    return EditPlan(Path(path), loaded.text, text, to_plain(body))


def read_deployment(path: str | Path, schema: Draft7Validator | None) -> dict[str, Any]:
    """The file's SeldonDeployment as plain data, validated."""
    return plan_manifest_edit(path, lambda doc: doc, schema).document


def commit(plan: EditPlan) -> bool:
    """Write the new text (atomically) when it differs; whether anything was written."""
    if plan.changed:
        write_atomic(plan.path, plan.new_text)
    return plan.changed
