"""Fixtures of the runner tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """A ``--models-dir`` with the ``v1`` and ``v2`` directories the digits manifest maps to."""
    for version in ("v1", "v2"):
        (tmp_path / version).mkdir()
    return tmp_path
