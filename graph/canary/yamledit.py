"""Render edited YAML/JSON documents so that a ``git diff`` shows only what changed.

``render`` turns the documents of a :class:`~graph.canary.yamlfile.LoadedFile`, edited,
back into text:

- when only scalar values changed (traffic weights), each changed token is replaced in
  the original text at the position ruamel recorded, so every other byte stays as it was;
- otherwise (promotion adds and removes structure) the documents are dumped by ruamel
  with the file's own indentation (JSON files with ``json.dumps`` and the file's indent).

Either way the result is parsed again and must equal the edited documents, or nothing is
returned.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedBase, CommentedSeq
from ruamel.yaml.error import YAMLError

from graph.canary.yamlfile import LoadedFile, is_flow, round_trip_yaml, to_plain
from model.errors import InternalError

_BREAK = re.compile(r"\r\n|\r|\n|\x85|\u2028|\u2029")


@dataclass(frozen=True)
class _ScalarEdit:
    line: int
    col: int
    in_flow: bool
    value: Any


@dataclass(frozen=True)
class _DropItem:
    """Remove item ``index`` of the block sequence ``seq`` (its lines)."""

    seq: Any
    index: int


_Edit = _ScalarEdit | _DropItem


def _pair_lists(old: list[Any], new: list[Any], flow: bool) -> list[_Edit] | None:
    if len(old) == len(new):
        return _pairs_edits(
            old, [(o, n, i) for i, (o, n) in enumerate(zip(old, new, strict=True))], flow
        )
    if len(old) != len(new) + 1 or flow or not isinstance(old, CommentedSeq):
        return None

    def name(item: Any) -> Any:
        return item.get("name") if isinstance(item, Mapping) else None

    new_names = [name(n) for n in new]
    by_name = [k for k in range(len(old)) if [name(o) for o in old[:k] + old[k + 1 :]] == new_names]
    best: list[_Edit] | None = None
    for k in by_name or range(len(old)):  # which item was removed: the closest pairing
        kept = [i for i in range(len(old)) if i != k]
        edits = _pairs_edits(old, [(old[i], n, i) for i, n in zip(kept, new, strict=True)], flow)
        if edits is not None and (best is None or len(edits) < len(best) - 1):
            best = [*edits, _DropItem(old, k)]
    return best


def _pairs_edits(old: Any, pairs: list[tuple[Any, Any, Any]], flow: bool) -> list[_Edit] | None:
    edits: list[_Edit] = []
    for o, n, where in pairs:
        if isinstance(o, (Mapping, list)) or isinstance(n, (Mapping, list)):
            sub = _scalar_edits(o, n, flow)
            if sub is None:
                return None
            edits += sub
        elif type(o) is not type(n) or o != n:
            if not isinstance(n, (int, str, bool)) or not isinstance(old, CommentedBase):
                return None
            line, col = old.lc.value(where) if isinstance(old, Mapping) else old.lc.item(where)
            edits.append(_ScalarEdit(line, col, flow, n))
    return edits


def _scalar_edits(old: Any, new: Any, in_flow: bool = False) -> list[_Edit] | None:
    """The text edits (scalar tokens to replace, sequence items to drop) that turn
    ``old`` into ``new``, or None when the structure differs otherwise."""
    flow = in_flow or is_flow(old)
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        if list(old.keys()) != list(new.keys()):
            return None
        return _pairs_edits(old, [(old[k], new[k], k) for k in old], flow)
    if isinstance(old, list) and isinstance(new, list):
        return _pair_lists(old, new, flow)
    return None


def _is_comment_or_blank(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("#")


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _item_lines(lines: list[str], seq: CommentedSeq, index: int) -> tuple[int, int] | None:
    """The [first, end) lines of block-sequence item ``index``: from its dash to the next
    item's dash; for the last item, up to its last line indented past the dash (comments
    and blank lines after it belong to what follows)."""
    dash = seq.lc.col

    def dash_line(i: int) -> int | None:
        line = seq.lc.item(i)[0]
        while line >= 0:
            text = lines[line]
            if _indent_of(text) == dash and text[dash:].startswith("-"):
                return line
            line -= 1
        return None

    first = dash_line(index)
    if first is None:
        return None
    if index + 1 < len(seq):
        end = dash_line(index + 1)
        if end is None:
            return None
        while (
            end - 1 > first
            and _is_comment_or_blank(lines[end - 1])
            and _indent_of(lines[end - 1]) <= dash
        ):
            end -= 1
        return first, end
    end = first + 1
    while end < len(lines) and (_is_comment_or_blank(lines[end]) or _indent_of(lines[end]) > dash):
        end += 1
    while end - 1 > first and _is_comment_or_blank(lines[end - 1]):
        end -= 1
    return first, end


def _token_end(line: str, col: int, in_flow: bool) -> int | None:
    """Where the scalar token starting at ``col`` ends (exclusive), or None if unsure."""
    if col >= len(line):
        return None
    quote = line[col]
    if quote == '"':
        i = col + 1
        while i < len(line):
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == '"':
                return i + 1
            i += 1
        return None
    if quote == "'":
        i = col + 1
        while i < len(line):
            if line[i] == "'":
                if line[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        return None
    if quote in "&*!|>":  # anchors, aliases, tags and block scalars: not a plain token
        return None
    end = len(line)
    comment = re.search(r"[ \t]#", line[col:])
    if comment:
        end = col + comment.start()
    if in_flow:
        stop = re.search(r"[,\]}]", line[col:end])
        if stop:
            end = col + stop.start()
    token_end = col + len(line[col:end].rstrip())
    return token_end if token_end > col else None


def _token_text(value: Any, old_token: str, is_json: bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if is_json or old_token.startswith('"'):
        return json.dumps(value, ensure_ascii=False)
    if old_token.startswith("'"):
        return "'" + str(value).replace("'", "''") + "'"
    return str(value)


def _apply_edits(text: str, edits: Sequence[_Edit], is_json: bool) -> str | None:
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    lines = [
        text[starts[i] : starts[i + 1]] if i + 1 < len(starts) else text[starts[i] :]
        for i in range(len(starts))
    ]
    bare = [_BREAK.sub("", line) for line in lines]
    pieces: list[tuple[int, int, str]] = []
    for edit in edits:
        if isinstance(edit, _DropItem):
            span = _item_lines(bare, edit.seq, edit.index)
            if span is None:
                return None
            end = starts[span[1]] if span[1] < len(starts) else len(text)
            pieces.append((starts[span[0]], end, ""))
            continue
        if edit.line >= len(starts):
            return None
        line = bare[edit.line]
        end_col = _token_end(line, edit.col, edit.in_flow)
        if end_col is None:
            return None
        start = starts[edit.line]
        token = _token_text(edit.value, line[edit.col : end_col], is_json)
        pieces.append((start + edit.col, start + end_col, token))
    out = text
    for begin, end, token in sorted(pieces, reverse=True):
        out = out[:begin] + token + out[end:]
    return out


def _dump(loaded: LoadedFile, documents: Sequence[Any]) -> str:
    if loaded.is_json:
        if len(documents) != 1:
            raise InternalError("a JSON file holds exactly one document")
        text = json.dumps(to_plain(documents[0]), indent=loaded.json_indent, ensure_ascii=False)
        return text + ("\n" if loaded.text.endswith("\n") else "")
    yaml = round_trip_yaml(loaded.indent)
    yaml.explicit_start = loaded.explicit_start or len(documents) > 1
    buffer = io.StringIO()
    yaml.dump_all(list(documents), buffer)
    text = buffer.getvalue()
    if "\r\n" in loaded.text:
        text = text.replace("\n", "\r\n")
    return text


def _parses_to(text: str, documents: Sequence[Any], is_json: bool) -> bool:
    try:
        if is_json:
            got = [json.loads(text)]
        else:
            got = [d for d in round_trip_yaml().load_all(text) if d is not None]
    except (YAMLError, json.JSONDecodeError):
        return False
    return to_plain(got) == to_plain(list(documents))


def render(loaded: LoadedFile, documents: Sequence[Any]) -> str:
    """The new file text holding ``documents``, as close to the original as possible."""
    edits = _scalar_edits(loaded.documents, list(documents))
    if edits is not None:
        text = _apply_edits(loaded.text, edits, loaded.is_json)
        if text is not None and _parses_to(text, documents, loaded.is_json):
            return text
    text = _dump(loaded, documents)
    if not _parses_to(text, documents, loaded.is_json):
        raise InternalError(f"{loaded.path}: the edited document does not survive a round trip")
    return text
