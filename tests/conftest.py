"""Session-wide fixtures: the default trained artifacts and a log directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """The default artifacts (v1, v2, examples); trained once when missing."""
    if not (ARTIFACTS / "v1" / "metadata.json").exists() or not (
        ARTIFACTS / "v2" / "metadata.json"
    ).exists():
        subprocess.run(
            [sys.executable, "-m", "model.train", "--out", str(ARTIFACTS)], check=True, cwd=ROOT
        )
    return ARTIFACTS


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the processes started by tests write their logs."""
    return tmp_path_factory.mktemp("logs")
