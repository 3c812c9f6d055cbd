"""``replicas``: N copies of a predictor's nodes, requests spread over them as a Service
would, and a killed copy fails no request while another one is up."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.fixtures.graphs import Served, serve_process, tensor, toy_manifest_doc
from tests.fixtures.processes import scrape_until

COUNTER = "calls_main_total"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Served]:
    """The toy graph, all traffic on main, main's componentSpec with replicas: 2."""
    doc = toy_manifest_doc(main=100, canary=0, shadow=False)
    doc["spec"]["predictors"][0]["componentSpecs"][0]["replicas"] = 2
    path = tmp_path_factory.mktemp("replicas") / "toy.yaml"
    path.write_text(yaml.safe_dump(doc))
    with serve_process(path, log_dir) as running:
        yield running


def calls(served: Served, key: str) -> float:
    port = served.nodes()[key]["metrics_port"]
    text = scrape_until(f"http://127.0.0.1:{port}/prometheus", lambda t: COUNTER in t)
    found = re.findall(rf"^{COUNTER}{{[^}}]*}} (\S+)$", text, re.MULTILINE)
    return sum(float(v) for v in found)


def predict(served: Served, count: int) -> list[int]:
    with requests.Session() as session:
        return [
            session.post(f"{served.url}/api/v1.0/predictions", json=tensor([1]), timeout=10)
            .status_code
            for _ in range(count)
        ]  # fmt: skip


def test_each_node_runs_once_per_replica(served: Served) -> None:
    keys = sorted(k for k in served.nodes() if k.startswith("toy/main/"))
    assert keys == ["toy/main/offset", "toy/main/offset#1", "toy/main/scale", "toy/main/scale#1"]
    assert [k for k in served.nodes() if k.startswith("toy/canary/")] == ["toy/canary/scale"]


def test_requests_are_spread_over_the_copies(served: Served) -> None:
    assert predict(served, 20) == [200] * 20
    assert calls(served, "toy/main/scale") >= 5
    assert calls(served, "toy/main/scale#1") >= 5


def test_a_killed_copy_fails_no_request(served: Served) -> None:
    """The whole process group of copy 1 is killed (nothing listens on its ports any
    more): calls go to copy 0, before and after the supervisor notices."""
    os.killpg(served.nodes()["toy/main/scale#1"]["pid"], signal.SIGKILL)
    assert predict(served, 20) == [200] * 20
