"""Round-trip edits through the real CLI: only the traffic lines change, in every layout."""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CLI = str(Path(sys.executable).parent / "seldon-graph")
MANIFEST = ROOT / "graph" / "seldondeployment.yaml"


def swapped(line: str, mapping: dict[str, str]) -> str:
    return re.sub(r"\b(\d+)\b", lambda m: mapping.get(m.group(1), m.group(1)), line)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, check=False)


def changed_lines(old: str, new: str) -> list[tuple[str, str]]:
    """(removed, added) line pairs of a line-by-line diff (autojunk off)."""
    a, b = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    pairs = []
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        assert tag == "replace" and a2 - a1 == b2 - b1, (tag, a[a1:a2], b[b1:b2])
        pairs += list(zip(a[a1:a2], b[b1:b2], strict=True))
    return pairs


def small_doc() -> dict:
    def pred(name: str, traffic: int, version: str) -> dict:
        return {
            "name": name,
            "traffic": traffic,
            "labels": {"version": version},
            "graph": {
                "name": "classifier",
                "type": "MODEL",
                "implementation": "SKLEARN_SERVER",
                "modelUri": f"gs://bucket/{version}",
                "children": [],
            },
        }

    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "small"},
        "spec": {"predictors": [pred("main", 90, "v1"), pred("canary", 10, "v2")]},
    }


FOUR_SPACE = """\
# comment at the top
apiVersion: machinelearning.seldon.io/v1   # trailing comment
kind: SeldonDeployment
metadata:
    name: 'small'    # quoted name
spec:
    # the predictors
    predictors:
    -   name: main
        traffic: 90   # main share
        labels: {version: "v1"}
        graph: {name: classifier, type: MODEL, implementation: SKLEARN_SERVER, modelUri: "gs://bucket/v1", children: []}
    # the canary follows
    -   name: canary
        traffic: 10
        labels:
            version: v2
        graph:
            name: classifier
            type: MODEL
            implementation: SKLEARN_SERVER
            modelUri: gs://bucket/v2
            children: []
"""  # noqa: E501

FLOW = (
    "{apiVersion: machinelearning.seldon.io/v1, kind: SeldonDeployment, metadata: {name: small},\n"
    " spec: {predictors: [{name: main, traffic: 90, labels: {version: v1},"
    " graph: {name: c, type: MODEL,"
    " implementation: SKLEARN_SERVER, modelUri: 'gs://b/v1', children: []}},\n"
    "   {name: canary, traffic: 10, labels: {version: v2}, graph: {name: c, type: MODEL,"
    " implementation: SKLEARN_SERVER, modelUri: 'gs://b/v2', children: []}}]}}\n"
)


def layouts(tmp_path: Path) -> dict[str, Path]:
    files = {
        "repo.yaml": MANIFEST.read_text(),
        "two-space.yaml": yaml.safe_dump(small_doc(), sort_keys=False, indent=2),
        "four-space.yaml": FOUR_SPACE,
        "flow.yaml": FLOW,
        "indented.json": json.dumps(small_doc(), indent=2) + "\n",
        "tabs.json": json.dumps(small_doc(), indent="\t"),
    }
    out = {}
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        os.chmod(path, 0o640)
        out[name] = path
    return out


NAMES = [
    "repo.yaml",
    "two-space.yaml",
    "four-space.yaml",
    "flow.yaml",
    "indented.json",
    "tabs.json",
]


@pytest.mark.parametrize("name", NAMES)
def test_set_changes_only_the_traffic_tokens(tmp_path: Path, name: str) -> None:
    path = layouts(tmp_path)[name]
    before = path.read_text()
    done = run("canary", "set", str(path), "main=75", "canary=25")
    assert done.returncode == 0, done.stderr
    after = path.read_text()
    pairs = changed_lines(before, after)
    assert pairs, "nothing changed"
    for old, new in pairs:
        assert swapped(old, {"90": "75", "10": "25"}) == new, (old, new)
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)
    assert run("validate", str(path)).returncode == 0


@pytest.mark.parametrize("name", NAMES)
def test_rollback_changes_only_the_traffic_tokens(tmp_path: Path, name: str) -> None:
    path = layouts(tmp_path)[name]
    before = path.read_text()
    assert run("canary", "rollback", str(path)).returncode == 0
    for old, new in changed_lines(before, path.read_text()):
        assert swapped(old, {"90": "100", "10": "0"}) == new, (old, new)


def test_promote_on_the_repo_manifest_is_exactly_the_expected_change(tmp_path: Path) -> None:
    path = layouts(tmp_path)["repo.yaml"]
    lines = MANIFEST.read_text().splitlines(keepends=True)
    canary_at = lines.index("    - name: canary\n")
    main = "".join(lines[:canary_at])
    expected = (
        main.replace("traffic: 90", "traffic: 100")
        .replace("version: v1", "version: v2")
        .replace("pvc://digits-models/v1", "pvc://digits-models/v2")
    )
    done = run("canary", "promote", str(path))
    assert done.returncode == 0, done.stderr
    assert path.read_text() == expected
    assert "&container-security" in expected and "*container-security" in expected


def test_promote_keep_canary_changes_only_main_values_and_traffic(tmp_path: Path) -> None:
    path = layouts(tmp_path)["four-space.yaml"]
    assert run("canary", "promote", str(path), "--keep-canary").returncode == 0
    pairs = changed_lines(FOUR_SPACE, path.read_text())
    assert [new for _, new in pairs] == [
        "        traffic: 100   # main share",
        '        labels: {version: "v2"}',
        "        graph: {name: classifier, type: MODEL, implementation: SKLEARN_SERVER, "
        'modelUri: "gs://bucket/v2", children: []}',
        "        traffic: 0",
    ]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["set", "nope=10", "main=90"], 1),  # unknown predictor
        (["set", "main=75", "canary=24"], 1),  # sum 99
        (["set", "main=-5", "canary=105"], 1),  # negative / over 100
        (["set", "main=7.5", "canary=92.5"], 2),  # bad value syntax
        (["set", "main"], 2),
        (["set", "--canary", "10", "main=90"], 2),
        (["promote", "--canary-name", "nope"], 1),
    ],
)
def test_invalid_edits_leave_the_file_untouched(tmp_path: Path, args: list[str], code: int) -> None:
    path = layouts(tmp_path)["repo.yaml"]
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    done = run("canary", args[0], str(path), *args[1:])
    assert done.returncode == code, done.stderr
    assert done.stderr.strip()
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".repo.yaml.")]


def test_shadow_misuse_is_refused_and_the_file_untouched(tmp_path: Path) -> None:
    doc = small_doc()
    doc["spec"]["predictors"][0]["traffic"] = 100
    doc["spec"]["predictors"][1].update(shadow=True, traffic=0)
    path = tmp_path / "shadow.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    before = path.read_bytes()
    for args in (
        ["set", "--canary", "20"],
        ["rollback"],
        ["promote"],
        ["set", "main=80", "canary=20"],
    ):
        done = run("canary", args[0], str(path), *args[1:])
        assert done.returncode == 1, (args, done.stderr)
        assert "shadow" in done.stderr
    assert path.read_bytes() == before
    assert run("canary", "set", str(path), "canary=30").returncode == 0  # the mirror percentage
    assert yaml.safe_load(path.read_text())["spec"]["predictors"][1]["traffic"] == 30


def test_status_prints_the_table(tmp_path: Path) -> None:
    done = run("canary", "status", str(MANIFEST))
    assert done.returncode == 0
    assert done.stdout.split("\n")[1].split() == ["main", "90%", "no", "v1", "main"]
    assert done.stdout.split("\n")[2].split() == ["canary", "10%", "no", "v2", "canary"]
