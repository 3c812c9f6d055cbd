"""Faults under load: killed nodes, slow nodes, per-node timeouts, SIGTERM.

- kill -9 of node processes of the real digits graph (every main node and the canary's
  classifier) while clients send requests: the affected requests fail fast with 503,
  nothing hangs beyond the node timeout, the runner restarts each node and the same
  gateway serves again;
- a node slower than its ``seldon.io/rest-timeout`` gives the executor's 500 (gRPC
  DEADLINE_EXCEEDED) around the timeout instead of hanging, and does not hold up another deployment;
- SIGTERM while requests are in flight: they complete, new ones are refused, the process
  exits 0 and leaves no child behind.
"""

from __future__ import annotations

import base64
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
import yaml
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from tests.fixtures.graphs import (
    Served,
    marked_pids,
    serve_process,
    tensor,
    toy_container,
    toy_manifest_doc,
    toy_node,
)
from tests.hardening.conftest import nodes_of

pytestmark = pytest.mark.slow
NODE_TIMEOUT_S = 5.0  # graph/seldondeployment.yaml: seldon.io/rest-timeout "5000"
SLOW_TIMEOUT_MS = 2500
SLOW_DELAY_S = 6.0


# ------------------------------------------------------------------ kill -9 (digits graph)
def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_kill_9_of_nodes_of_both_predictors_fails_fast_and_recovers(
    digits_served: Served, example_png: bytes
) -> None:
    """Every main node (transformer, drift detector, classifier) and the canary's
    classifier are killed at once: one recovery covers each component and predictor."""
    body = {"binData": base64.b64encode(example_png).decode()}
    url = f"{digits_served.url}/api/v1.0/predictions"
    gateway_pid = digits_served.process.pid
    before = {k: v["restarts"] for k, v in digits_served.nodes().items()}
    victims = {f"digits/main/{n}": node for n, node in nodes_of(digits_served, "main").items()}
    victims["digits/canary/classifier"] = nodes_of(digits_served, "canary")["classifier"]
    results: list[tuple[float, int, str, float]] = []  # (start, status, predictor, seconds)
    stop = threading.Event()

    def load() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                start = time.monotonic()
                try:
                    reply = session.post(url, json=body, timeout=NODE_TIMEOUT_S + 25)
                    status, who = reply.status_code, reply.headers.get("Seldon-Predictor", "")
                except requests.RequestException:
                    status, who = -1, ""
                results.append((start, status, who, time.monotonic() - start))

    def recovered() -> bool:
        nodes = digits_served.nodes()
        restarted = all(
            nodes[key]["restarts"] > before[key] and nodes[key]["ready"] for key in victims
        )
        fresh = Counter(r[2] for r in results if r[0] > killed_at + 1 and r[1] == 200)
        return restarted and fresh["main"] >= 2 and fresh["canary"] >= 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(2.0)
        killed_at = time.monotonic()
        for node in victims.values():
            os.kill(node.pid, signal.SIGKILL)
        ok = _wait(recovered, 240)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    after = [r for r in results if r[0] >= killed_at]
    statuses = Counter((r[1], r[2]) for r in after)
    assert ok, f"no recovery: {statuses}\n{digits_served.log()[-3000:]}"
    # 503: the node is known down (fast); 500: the executor's reply for a refused
    # connection or a node timeout (a starved restarting machine), as Seldon answers them
    assert {s for s, _ in statuses} <= {200, 500, 503}, statuses
    assert statuses[(503, "main")] > 0 and statuses[(503, "canary")] > 0, statuses
    assert max(r[3] for r in after) < NODE_TIMEOUT_S + 5, "a request hung"
    assert digits_served.process.poll() is None and digits_served.process.pid == gateway_pid
    assert requests.get(f"{digits_served.url}/health/ready", timeout=10).status_code == 200


# ------------------------------------------------------------------ slow nodes and timeouts
def _deployment(name: str, node: dict, container: dict, timeout_ms: int) -> dict[str, Any]:
    doc = toy_manifest_doc(shadow=False)
    doc["metadata"] = {"name": name, "namespace": "test"}
    doc["spec"]["name"] = name
    # where the 1.17.1 executor reads it: its pod's annotations (graph/executor_annotations.py)
    doc["spec"]["annotations"] = {
        "seldon.io/rest-timeout": str(timeout_ms),
        "seldon.io/grpc-timeout": str(timeout_ms),
    }
    doc["spec"]["predictors"] = [{
        "name": "only", "traffic": 100, "graph": node,
        "componentSpecs": [{"spec": {"containers": [container]}}],
    }]  # fmt: skip
    return doc


@pytest.fixture(scope="module")
def slow_and_fast(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Served]:
    """Deployment ``slow`` (a node sleeping 6 s, rest-timeout 2.5 s) and ``fast`` (scale)."""
    slow = _deployment(
        "slow",
        toy_node("slow", "MODEL", {"delay_s": ("FLOAT", str(SLOW_DELAY_S))}),
        toy_container("slow", "Slow", "MODEL"),
        SLOW_TIMEOUT_MS,
    )
    fast = _deployment(
        "fast",
        toy_node("scale", "MODEL", {"factor": ("FLOAT", "2")}),
        toy_container("scale", "Scale", "MODEL"),
        3000,
    )
    path = tmp_path_factory.mktemp("faults") / "slow-fast.yaml"
    path.write_text(yaml.safe_dump_all([slow, fast]))
    with serve_process(path, log_dir) as served:
        yield served


def test_a_node_slower_than_its_rest_timeout_gives_the_executors_500_at_the_timeout(
    slow_and_fast: Served,
) -> None:
    """Seldon's executor answers a REST timeout with 500 and Go's url.Error text
    (executor/api/rest/client.go); this used to be a 504 with reason TIMEOUT."""
    start = time.monotonic()
    reply = requests.post(
        f"{slow_and_fast.url}/seldon/test/slow/api/v1.0/predictions", json=tensor([1]), timeout=30
    )
    elapsed = time.monotonic() - start
    assert reply.status_code == 500, reply.text
    status = reply.json()["status"]
    assert status["code"] == 500 and status["status"] == "FAILURE", status
    assert "/predict" in status["info"] and "context deadline exceeded" in status["info"]
    assert elapsed < SLOW_DELAY_S, f"waited {elapsed:.1f}s: the node's sleep, not the timeout"


def test_a_node_slower_than_its_timeout_gives_deadline_exceeded_over_grpc(
    slow_and_fast: Served,
) -> None:
    with grpc.insecure_channel(slow_and_fast.grpc_target) as channel:
        stub = prediction_pb2_grpc.SeldonStub(channel)
        request = prediction_pb2.SeldonMessage(
            data=prediction_pb2.DefaultData(tensor=prediction_pb2.Tensor(shape=[1], values=[1]))
        )
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(request, metadata=[("seldon", "slow"), ("namespace", "test")], timeout=30)
        elapsed = time.monotonic() - start
    # the node call's own DEADLINE_EXCEEDED, passed through (grpc/seldon/server.go)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < SLOW_DELAY_S


def test_a_slow_deployment_does_not_hold_up_another(slow_and_fast: Served) -> None:
    base = f"{slow_and_fast.url}/seldon/test"
    finished: dict[str, float] = {}

    def call(name: str, key: str) -> int:
        reply = requests.post(f"{base}/{name}/api/v1.0/predictions", json=tensor([1]), timeout=30)
        finished[key] = time.monotonic()
        return reply.status_code

    with ThreadPoolExecutor(8) as pool:
        slow = [pool.submit(call, "slow", f"slow{i}") for i in range(6)]
        time.sleep(0.3)  # the slow requests are in flight (and queue at the slow node)
        fast = [pool.submit(call, "fast", f"fast{i}") for i in range(3)]
        fast_codes = [f.result() for f in fast]
        slow_codes = [f.result() for f in slow]
    assert fast_codes == [200, 200, 200]
    assert set(slow_codes) == {500}  # the executor's timeout reply
    last_fast = max(finished[f"fast{i}"] for i in range(3))
    first_slow = min(finished[f"slow{i}"] for i in range(6))
    assert last_fast < first_slow  # fast answered while every slow request was waiting


# ------------------------------------------------------------------ SIGTERM under load
def test_sigterm_under_load_completes_in_flight_refuses_new_and_leaves_nothing(
    tmp_path: Path, log_dir: Path
) -> None:
    doc = _deployment(
        "drain",
        toy_node("slow", "MODEL", {"delay_s": ("FLOAT", "1.0"), "factor": ("FLOAT", "3")}),
        toy_container("slow", "Slow", "MODEL"),  # 2 Gunicorn threads: requests queue
        10_000,
    )
    path = tmp_path / "drain.yaml"
    path.write_text(yaml.safe_dump(doc))
    with serve_process(path, log_dir) as served:
        url = f"{served.url}/api/v1.0/predictions"
        with ThreadPoolExecutor(6) as pool:
            in_flight = [
                pool.submit(requests.post, url, json=tensor([i]), timeout=30) for i in range(6)
            ]
            time.sleep(0.5)
            served.process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            try:
                late = requests.post(url, json=tensor([9]), timeout=10).status_code
            except requests.ConnectionError:
                late = 0  # the listening socket is closed: refused
            replies = [f.result() for f in in_flight]
        code = served.process.wait(timeout=60)  # one SIGTERM only: a second one kills
        assert late in (0, 503), late
        assert [r.status_code for r in replies] == [200] * 6, [r.text[:200] for r in replies]
        assert [r.json()["data"]["tensor"]["values"] for r in replies] == [
            [3.0 * i] for i in range(6)
        ]
        assert code == 0, served.log()[-3000:]
        assert marked_pids(served.marker) == []
