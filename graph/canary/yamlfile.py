"""Read YAML/JSON files for round-trip edits, and replace them atomically.

``load_file`` parses a file with ruamel.yaml's round-trip loader (comments, key order,
quoting, flow style, anchors and the positions of every value are kept) and detects its
layout (indentation, JSON indent, an explicit ``---``); :mod:`graph.canary.yamledit`
renders edited documents back into text. ``write_atomic`` replaces the file through a
temporary file in the same directory (fsync, then ``os.replace``), keeping its mode.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from model.errors import ConfigError, ManifestError


@dataclass(frozen=True)
class Indent:
    mapping: int = 2
    sequence: int = 2
    offset: int = 0


@dataclass
class LoadedFile:
    """A parsed file: its exact text, its round-trip documents and its layout."""

    path: Path
    text: str
    documents: list[Any]
    is_json: bool
    indent: Indent
    json_indent: int | None = None
    explicit_start: bool = False


def round_trip_yaml(indent: Indent | None = None) -> YAML:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    if indent is not None:
        yaml.indent(mapping=indent.mapping, sequence=indent.sequence, offset=indent.offset)
    return yaml


def to_plain(node: Any) -> Any:
    """ruamel nodes as plain dicts, lists and scalars (for validation and comparison)."""
    if isinstance(node, Mapping):
        return {str(k) if not isinstance(k, str) else k: to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = (
        node.values() if isinstance(node, Mapping) else node if isinstance(node, list) else ()
    )
    for child in children:
        if isinstance(child, (Mapping, list)):
            yield from _walk(child)


def is_flow(node: Any) -> bool:
    return isinstance(node, CommentedBase) and bool(node.fa.flow_style())


def detect_indent(documents: Sequence[Any]) -> Indent:
    """The most common mapping indent and sequence indent/offset of the block collections."""
    mappings: Counter[int] = Counter()
    sequences: Counter[tuple[int, int]] = Counter()
    for doc in documents:
        for node in _walk(doc):
            if not isinstance(node, CommentedMap) or is_flow(node):
                continue
            for key, value in node.items():
                if is_flow(value) or not isinstance(value, (CommentedMap, CommentedSeq)):
                    continue
                key_line, key_col = node.lc.key(key)
                if value.lc.line is None or value.lc.line <= key_line:
                    continue
                if isinstance(value, CommentedMap):
                    mappings[value.lc.col - key_col] += 1
                elif value:
                    item_line, item_col = value.lc.item(0)
                    if item_line == value.lc.line:
                        sequences[(item_col - key_col, value.lc.col - key_col)] += 1
    mapping = mappings.most_common(1)[0][0] if mappings else 2
    sequence, offset = sequences.most_common(1)[0][0] if sequences else (mapping, 0)
    if sequence < offset + 2:  # ruamel needs room for "- "
        sequence = offset + 2
    return Indent(max(mapping, 1), sequence, offset)


def _json_indent(text: str) -> int | None:
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" ")
        if stripped and stripped != line:
            return len(line) - len(stripped)
    return None if "\n" not in text.strip() else 0


def load_text(text: str, path: Path) -> LoadedFile:
    is_json = path.suffix.lower() == ".json"
    try:
        documents = [d for d in round_trip_yaml().load_all(text) if d is not None]
    except YAMLError as exc:
        if is_json:
            try:
                documents = [json.loads(text)]
            except json.JSONDecodeError as jexc:
                raise ManifestError(
                    f"invalid JSON: {jexc.msg}", f"{path}:{jexc.lineno}:{jexc.colno}"
                ) from jexc
        else:
            raise ManifestError(f"invalid YAML: {exc}", str(path)) from exc
    if not documents:
        raise ManifestError("the file holds no document", str(path))
    first = next(
        (ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), ""
    )
    return LoadedFile(
        path=path,
        text=text,
        documents=documents,
        is_json=is_json,
        indent=detect_indent(documents),
        json_indent=_json_indent(text) if is_json else None,
        explicit_start=first.startswith("---"),
    )


def load_file(path: str | Path) -> LoadedFile:
    """Read ``path`` exactly (no newline translation) and parse it for round-trip edits."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {path}: not UTF-8 text") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return load_text(text, path)


def write_atomic(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, keeping its permission bits."""
    path = Path(path)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # persist the rename itself
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
