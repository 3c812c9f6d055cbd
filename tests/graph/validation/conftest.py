"""Fixtures of the validation tests: the real SeldonDeployment CRD schema, compiled once."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from graph.validation.schema import load_schema

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def crd_path() -> Path:
    """The CRD schema shipped beside the repository (tests needing it skip without it)."""
    path = ROOT.parent / "shared" / "seldon" / "seldondeployment-v1.schema.json"
    if not path.is_file():
        pytest.skip(f"the CRD schema is not at {path}")
    return path


@pytest.fixture(scope="session")
def crd(crd_path: Path) -> Draft7Validator:
    return load_schema(crd_path)
