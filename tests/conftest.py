"""Session-wide fixtures: the default trained artifacts, a log directory and the running
graphs (defined in ``tests.fixtures.graphs``, registered here once so every folder shares
one instance of each)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.graphs import digits_served, toy_manifest, toy_served

__all__ = ["artifacts_dir", "digits_served", "log_dir", "toy_manifest", "toy_served"]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """The default artifacts (v1, v2, examples); trained once when missing."""
    if not all((ARTIFACTS / v / "metadata.json").exists() for v in ("v1", "v2")):
        subprocess.run(
            [sys.executable, "-m", "model.training", "--out", str(ARTIFACTS)], check=True, cwd=ROOT
        )
    return ARTIFACTS


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the processes started by tests write their logs."""
    return tmp_path_factory.mktemp("logs")
