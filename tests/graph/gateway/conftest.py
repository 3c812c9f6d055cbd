"""Fixtures of the gateway tests: a toy manifest file, and a transport-free gateway over
executors with fixed replies for the deployment of such a file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from graph.canary.yamlfile import write_atomic
from graph.deployments import load_deployments
from graph.gateway.dispatch import DeploymentRuntime, Gateway
from graph.gateway.metrics import GatewayMetrics
from graph.gateway.traffic import Mirror, TrafficSplit
from graph.payload import JsonPayload, Payload
from tests.fixtures.graphs import toy_manifest_doc


class Tagging:
    """A predictor executor that answers with fixed tags."""

    def __init__(self, tags: dict[str, Any]) -> None:
        self.tags = tags

    async def predict(self, payload: Payload, puid: str, headers: Any = ()) -> Payload:
        reply = JsonPayload({"data": {"ndarray": [1]}})
        reply.update_tags(self.tags)
        return reply

    async def feedback(self, payload: Payload, puid: str, headers: Any = ()) -> Payload:
        return payload


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """The toy manifest (main 90, canary 10) in a file of its own."""
    path = tmp_path / "toy.yaml"
    write_atomic(path, yaml.safe_dump(toy_manifest_doc(90, 10, shadow=False)))
    return path


@pytest.fixture
def toy_gateway() -> Callable[..., Gateway]:
    """Builds a gateway for the toy deployment of a manifest whose predictors answer with
    fixed tags (``{predictor: tags}``), split 90/10."""

    def build(manifest: Path, tags: dict[str, dict[str, Any]] | None = None) -> Gateway:
        (spec,) = load_deployments(manifest)
        tags = tags or {}
        executors = {p.name: Tagging(tags.get(p.name, {})) for p in spec.predictors}
        split = TrafficSplit({"main": 90, "canary": 10}, seed=1)
        return Gateway([DeploymentRuntime(spec, executors, split, Mirror())], GatewayMetrics())

    return build
