"""Fixtures of the canary tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

AuditReader = Callable[[Path], list[dict[str, Any]]]


@pytest.fixture
def read_audit() -> AuditReader:
    """Reads every record of a rollout's audit file (JSON lines), in order."""

    def read(path: Path) -> list[dict[str, Any]]:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    return read
