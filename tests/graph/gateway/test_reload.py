"""Live weight reload: from the watched manifest file and the admin endpoint.

The core (``WeightReloader``) is tested on a gateway whose executors are recorders; the
end-to-end test runs ``seldon-graph serve`` on the toy graph and rewrites its manifest
(and calls the admin endpoint) several times under continuous load: no request fails.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from graph.canary.target import ManifestTarget
from graph.canary.yamlfile import write_atomic
from graph.deployments import load_deployments
from graph.gateway import reload, rest
from graph.gateway.dispatch import DeploymentRuntime, Gateway
from graph.gateway.metrics import RELOADS, GatewayMetrics
from graph.gateway.traffic import Mirror, TrafficSplit
from graph.payload import JsonPayload, Payload
from tests.fixtures.graphs import Served, serve_process, tensor, toy_manifest_doc


class Tagging:
    """A predictor executor that answers with fixed tags."""

    def __init__(self, tags: dict[str, Any]) -> None:
        self.tags = tags

    async def predict(self, payload: Payload, puid: str) -> Payload:
        reply = JsonPayload({"data": {"ndarray": [1]}})
        reply.update_tags(self.tags)
        return reply

    async def feedback(self, payload: Payload, puid: str) -> Payload:
        return payload


def write(path: Path, main: int, canary: int, shadow: bool = False) -> None:
    write_atomic(path, yaml.safe_dump(toy_manifest_doc(main, canary, shadow=shadow)))


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "toy.yaml"
    write(path, 90, 10)
    return path


def toy_gateway(manifest: Path, tags: dict[str, dict[str, Any]] | None = None) -> Gateway:
    (spec,) = load_deployments(manifest)
    tags = tags or {}
    executors = {p.name: Tagging(tags.get(p.name, {})) for p in spec.predictors}
    split = TrafficSplit({"main": 90, "canary": 10}, seed=1)
    return Gateway([DeploymentRuntime(spec, executors, split, Mirror())], GatewayMetrics())


def reloads(gateway: Gateway, outcome: str) -> float:
    """The gateway's exported count of manifest reloads with ``outcome``."""
    value = gateway.metrics.registry.get_sample_value(RELOADS, {"outcome": outcome})
    return value or 0.0


def test_a_changed_file_sets_the_weights(manifest: Path) -> None:
    gateway = toy_gateway(manifest)
    reloader = reload.WeightReloader(gateway, manifest)
    write(manifest, 25, 75)
    assert asyncio.run(reloader.reload_file())
    assert gateway.runtimes[0].split.weights == {"main": 25, "canary": 75}
    assert reloads(gateway, "applied") == 1 and reloads(gateway, "failed") == 0


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda t: t.replace("traffic: 10", "traffic: 20"), "sum to 100"),  # invalid rules
        (lambda t: t + "\n  - [unclosed\n", "parse"),
        (lambda t: yaml.safe_dump(toy_manifest_doc(50, 50, shadow=True)), "predictors changed"),
    ],
)
def test_a_bad_file_keeps_the_current_weights(
    manifest: Path, edit: Any, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = toy_gateway(manifest)
    reloader = reload.WeightReloader(gateway, manifest)
    write_atomic(manifest, edit(manifest.read_text()))
    assert not asyncio.run(reloader.reload_file())
    assert gateway.runtimes[0].split.weights == {"main": 90, "canary": 10}
    assert reloads(gateway, "failed") == 1 and "kept the current weights" in caplog.text


def test_the_watcher_notices_an_atomic_rewrite(manifest: Path) -> None:
    gateway = toy_gateway(manifest)

    async def go() -> dict[str, int]:
        reloader = reload.WeightReloader(gateway, manifest, interval=0.05)
        reloader.start()
        try:
            await asyncio.sleep(0.1)
            write(manifest, 0, 100)
            for _ in range(100):
                await asyncio.sleep(0.05)
                if gateway.runtimes[0].split.weights["canary"] == 100:
                    break
            return gateway.runtimes[0].split.weights
        finally:
            await reloader.stop()

    assert asyncio.run(go()) == {"main": 0, "canary": 100}


async def _admin(gateway: Gateway, calls: list[tuple[str, Any]]) -> list[tuple[int, Any]]:
    app = rest.create_app(gateway)
    reload.add_admin_routes(app, reload.WeightReloader(gateway, None))
    out = []
    async with TestClient(TestServer(app)) as client:
        for method, body in calls:
            reply = await client.request(method, "/admin/traffic", json=body)
            out.append((reply.status, await reply.json()))
    return out


def test_admin_endpoint_validates_and_applies(manifest: Path) -> None:
    gateway = toy_gateway(manifest)
    replies = asyncio.run(_admin(gateway, [
        ("POST", {"main": 75, "canary": 25}),
        ("POST", {"main": 75, "canary": 20}),
        ("POST", {"main": 100}),
        ("POST", {"main": 50, "nope": 50}),
        ("POST", {"main": "50", "canary": 50}),
        ("GET", None),
    ]))  # fmt: skip
    expected = {"deployment": "test/toy", "weights": {"main": 75, "canary": 25},
                "shadow": None, "previous": {"main": 90, "canary": 10}}  # fmt: skip
    assert replies[0] == (200, expected)
    assert replies[1][0] == 400 and "sum to 100, not 95" in replies[1][1]["status"]["info"]
    assert replies[2][0] == 400 and "missing canary" in replies[2][1]["status"]["info"]
    assert (
        replies[3][0] == 400 and "unknown live predictor(s) nope" in replies[3][1]["status"]["info"]
    )
    assert replies[4][0] == 400
    assert replies[5][1]["deployments"][0]["weights"] == {"main": 75, "canary": 25}
    assert gateway.runtimes[0].split.weights == {"main": 75, "canary": 25}


def test_admin_endpoint_refuses_remote_clients(manifest: Path) -> None:
    gateway = toy_gateway(manifest)
    app = web.Application()
    reload.add_admin_routes(app, reload.WeightReloader(gateway, None))
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (
        ("10.1.2.3", 4321) if key == "peername" else default
    )
    request = make_mocked_request("POST", "/admin/traffic", app=app, transport=transport)
    reply = asyncio.run(reload._post_traffic(request))
    assert reply.status == 403
    assert gateway.runtimes[0].split.weights == {"main": 90, "canary": 10}


def test_replies_drift_tags_become_per_predictor_gauges(manifest: Path) -> None:
    gateway = toy_gateway(manifest, {"canary": {"drift.is_drift": True, "drift.window": 2,
                                                "drift.p_value": 0.002}})  # fmt: skip
    runtime = gateway.runtimes[0]
    runtime.split.set_weights({"main": 0, "canary": 100})
    asyncio.run(gateway.call(runtime, "predict", JsonPayload(tensor([1])), "p", "rest"))
    text = gateway.metrics.exposition().decode()
    assert 'seldon_graph_drift_is_drift{deployment="toy",predictor="canary"} 1.0' in text
    assert 'seldon_graph_drift_window{deployment="toy",predictor="canary"} 2.0' in text
    assert 'predictor="main"} ' not in text.split("seldon_graph_drift_is_drift", 1)[1][:300]


# ----------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Served]:
    path = tmp_path_factory.mktemp("reload") / "toy.yaml"
    write(path, 90, 10)
    with serve_process(path, log_dir, "--reload-interval", "0.2") as running:
        running.manifest = path  # type: ignore[attr-defined]
        yield running


def wait_weights(served: Served, weights: dict[str, int], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = requests.get(f"{served.url}/admin/traffic", timeout=5).json()
        if reply["deployments"][0]["weights"] == weights:
            return
        time.sleep(0.05)
    raise AssertionError(f"weights never became {weights}")


@pytest.mark.slow
def test_reloads_under_continuous_load_drop_no_request(served: Served) -> None:
    path: Path = served.manifest  # type: ignore[attr-defined]
    target = ManifestTarget(path)
    results: list[tuple[int, str, str]] = []  # (status, predictor, phase)
    phase = ["start"]
    stop = threading.Event()

    def load() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                started_in = phase[0]  # set only once the new weights are in place
                reply = session.post(f"{served.url}/seldon/test/toy/api/v1.0/predictions",
                                     json=tensor([1, 2]), timeout=30)  # fmt: skip
                # a request that outlived its phase may have been routed after the next
                # change (the gateway picks the predictor when it gets to the request)
                same_phase = started_in if phase[0] == started_in else "overlapping"
                results.append((reply.status_code, reply.headers.get("Seldon-Predictor", ""),
                                same_phase))  # fmt: skip

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for canary in (100, 0, 50, 100, 0):
            phase[0] = "changing"
            target.set_canary(canary)
            wait_weights(served, {"main": 100 - canary, "canary": canary})
            phase[0] = f"file {canary}"
            time.sleep(0.6)
        phase[0] = "changing"
        reply = requests.post(f"{served.url}/admin/traffic", json={"main": 0, "canary": 100},
                              timeout=5)  # fmt: skip
        assert reply.status_code == 200, reply.text
        phase[0] = "admin 100"
        time.sleep(0.6)
        write_atomic(path, path.read_text().replace("traffic: 100", "traffic: 60"))  # invalid
        time.sleep(1.0)  # several polls: the bad file must change nothing
        wait_weights(served, {"main": 0, "canary": 100}, timeout=1)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert results and all(status == 200 for status, _, _ in results), Counter(
        status for status, _, _ in results
    )
    by_phase = Counter((p, predictor) for _, predictor, p in results)
    assert by_phase[("file 100", "main")] == 0 and by_phase[("file 100", "canary")] > 0
    assert by_phase[("file 0", "canary")] == 0 and by_phase[("file 0", "main")] > 0
    assert by_phase[("file 50", "canary")] > 0 and by_phase[("file 50", "main")] > 0
    assert by_phase[("admin 100", "main")] == 0
    assert "not reloading" in served.log()
