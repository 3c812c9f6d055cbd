"""Live weight reload from the watched manifest file.

The core (``WeightReloader``) is tested on a gateway whose executors answer with fixed
tags (``toy_gateway``); the end-to-end test runs ``seldon-graph serve`` on the toy graph
and rewrites its manifest (and calls the admin endpoint) several times under continuous
load: no request fails.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from graph.canary.target import ManifestTarget
from graph.canary.yamlfile import write_atomic
from graph.gateway import reload
from graph.gateway.dispatch import Gateway
from graph.gateway.metrics import RELOADS
from tests.fixtures.graphs import Served, serve_process, tensor, toy_manifest_doc


def write(path: Path, main: int, canary: int) -> None:
    write_atomic(path, yaml.safe_dump(toy_manifest_doc(main, canary, shadow=False)))


def reloads(gateway: Gateway, outcome: str) -> float:
    """The gateway's exported count of manifest reloads with ``outcome``."""
    value = gateway.metrics.registry.get_sample_value(RELOADS, {"outcome": outcome})
    return value or 0.0


def test_a_changed_file_sets_the_weights(
    manifest: Path, toy_gateway: Callable[..., Gateway]
) -> None:
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
    manifest: Path,
    toy_gateway: Callable[..., Gateway],
    edit: Any,
    why: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway = toy_gateway(manifest)
    reloader = reload.WeightReloader(gateway, manifest)
    write_atomic(manifest, edit(manifest.read_text()))
    assert not asyncio.run(reloader.reload_file())
    assert gateway.runtimes[0].split.weights == {"main": 90, "canary": 10}
    assert reloads(gateway, "failed") == 1 and "kept the current weights" in caplog.text


def test_the_watcher_notices_an_atomic_rewrite(
    manifest: Path, toy_gateway: Callable[..., Gateway]
) -> None:
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
