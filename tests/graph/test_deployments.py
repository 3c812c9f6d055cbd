"""graph.deployments: serve loads what a cluster would accept.

What the operator or Kubernetes refuses stops ``serve`` (and a live reload) with the YAML
path; the project's stricter rules (``validate`` warnings, errors only with ``--strict``)
are logged and the deployment is served, as the operator would admit it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from graph.deployments import load_deployments
from model.errors import ManifestError

MANIFESTS = Path(__file__).parent / "validation" / "manifests"


@pytest.mark.parametrize("path", sorted((MANIFESTS / "warning").glob("*.yaml")), ids=str)
def test_a_manifest_with_warnings_only_is_served_and_the_warnings_logged(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="seldon-graph.deployments"):
        deployments = load_deployments(path)
    assert deployments
    assert any("spec." in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("traffic-not-100.yaml", "traffic"),
        ("two-shadows.yaml", "shadow"),
        ("duplicate-predictor-names.yaml", "name"),
    ],
)
def test_what_the_operator_refuses_is_not_served(name: str, where: str) -> None:
    with pytest.raises(ManifestError, match=where):
        load_deployments(MANIFESTS / "invalid" / name)
