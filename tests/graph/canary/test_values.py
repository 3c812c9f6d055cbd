"""Canary edits on the Helm chart's values file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CLI = str(Path(sys.executable).parent / "seldon-graph")
CHART = ROOT / "charts" / "seldon-graph"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def values(tmp_path: Path) -> Path:
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    return chart / "values.yaml"


def test_set_on_values_changes_only_the_traffic_lines(values: Path) -> None:
    before = values.read_text().splitlines()
    done = run("canary", "set", "--values", str(values), "--canary", "30")
    assert done.returncode == 0, done.stderr
    after = values.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [
        ("    traffic: 90", "    traffic: 70"),
        (
            "    traffic: 10  # raise step by step to promote, 0 to roll back",
            "    traffic: 30  # raise step by step to promote, 0 to roll back",
        ),
    ]


def test_promote_on_values_removes_the_canary_and_keeps_comments(values: Path) -> None:
    text = values.read_text()
    done = run("canary", "promote", "--values", str(values))
    assert done.returncode == 0, done.stderr
    lines = text.splitlines(keepends=True)
    start = lines.index("  - name: canary  # the canary: model v2 on 10% of traffic\n")
    expected = "".join(lines[:start] + lines[start + 6 :])
    expected = (
        expected.replace("traffic: 90", "traffic: 100")
        .replace("modelVersion: v1", "modelVersion: v2")
        .replace("modelUri: pvc://digits-models/v1", "modelUri: pvc://digits-models/v2")
    )
    assert values.read_text() == expected
    status = run("canary", "status", "--values", str(values))
    assert status.stdout.split("\n")[1].split() == ["main", "100%", "no", "v2", "main"]


def test_invalid_values_edit_leaves_the_file_untouched(values: Path) -> None:
    before = values.read_bytes()
    done = run("canary", "set", "--values", str(values), "main=50", "canary=49")
    assert done.returncode == 1 and "must sum to 100" in done.stderr
    assert values.read_bytes() == before


def test_apply_with_values_is_a_usage_error(values: Path) -> None:
    done = run("canary", "rollback", "--values", str(values), "--apply")
    assert done.returncode == 2 and "helm upgrade" in done.stderr
