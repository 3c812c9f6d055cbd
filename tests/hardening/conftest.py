"""Shared pieces of the hardening tests: the running graphs, hypothesis profiles, checks.

The digits graph (``digits_served``) is the session-wide one of ``tests/fixtures/graphs``:
its gateway is fuzzed and so is each node of its main predictor, which is a real
``seldon-core-microservice`` on its own REST and gRPC ports (``nodes.json``).

Hypothesis runs the ``hardening-ci`` profile (a few hundred examples per test, no
deadline); ``HYPOTHESIS_PROFILE=thorough`` runs thousands. Every malformed request sent
is counted and the total printed at the end of the run.
"""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, settings

from tests.fixtures.graphs import Served
from tests.fixtures.processes import LoopbackPorts

settings.register_profile(
    "hardening-ci",
    max_examples=int(os.environ.get("HARDENING_MAX_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
    database=None,
)
settings.register_profile(
    "hardening-thorough",
    parent=settings.get_profile("hardening-ci"),
    max_examples=3000,
    derandomize=False,
)
FUZZ = settings.get_profile(
    "hardening-thorough" if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else "hardening-ci"
)
SENT: Counter[str] = Counter()  # malformed requests sent, by target


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SENT:
        total = sum(SENT.values())
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(SENT.items()))
        terminalreporter.write_line(f"hardening: {total} malformed requests sent ({detail})")


# ------------------------------------------------------------------ the digits graph
@dataclass(frozen=True)
class Node(LoopbackPorts):
    """One node process of the served graph."""

    name: str
    pid: int
    http_port: int
    grpc_port: int

    @property
    def rest_path(self) -> str:
        return "/predict" if self.name == "classifier" else "/transform-input"

    @property
    def grpc_method(self) -> str:
        if self.name == "classifier":
            return "/seldon.protos.Model/Predict"
        return "/seldon.protos.Transformer/TransformInput"


def nodes_of(served: Served, predictor: str = "main") -> dict[str, Node]:
    """The node processes of one predictor, by node name."""
    found = {}
    for key, node in served.nodes().items():
        _, pred, name = key.split("/")
        if pred == predictor:
            found[name] = Node(name, node["pid"], node["http_port"], node["grpc_port"])
    return found


@pytest.fixture(scope="session")
def digits_nodes(digits_served: Served) -> dict[str, Node]:
    return nodes_of(digits_served)


@pytest.fixture(scope="session")
def example_png(artifacts_dir: Path) -> bytes:
    index = json.loads((artifacts_dir / "examples" / "index.json").read_text())
    return (artifacts_dir / "examples" / index["clean"][0]["file"]).read_bytes()


def good_rest_body(target: str, png: bytes) -> dict[str, Any]:
    """A request the target accepts: a PNG for the gateway/transformer, a normalised
    (1, 3, 32, 32) tensor for the drift detector and the classifier."""
    if target in ("gateway", "transformer"):
        return {"binData": base64.b64encode(png).decode()}
    return {"data": {"tensor": {"shape": [1, 3, 32, 32], "values": [0.1] * 3072}}}


# ------------------------------------------------------------------ checks
def assert_rejected(status: int, body: bytes, what: str) -> None:
    """A 4xx whose Seldon ``status`` body names the problem (Seldon's own 400 included)."""
    assert 400 <= status < 500, f"{what}: HTTP {status}: {body[:300]!r}"
    try:
        reply = json.loads(body)
    except ValueError:
        raise AssertionError(f"{what}: HTTP {status} without a JSON body: {body[:300]!r}") from None
    info = reply.get("status", {}).get("info") if isinstance(reply, dict) else None
    assert isinstance(info, str) and info.strip(), f"{what}: no status.info: {reply!r}"


def assert_still_serves(url: str, path: str, body: dict[str, Any], health: str) -> None:
    """The process answers its health check and one good request."""
    assert requests.get(f"{url}{health}", timeout=30).status_code == 200
    reply = requests.post(f"{url}{path}", json=body, timeout=60)
    assert reply.status_code == 200, reply.text[:500]
