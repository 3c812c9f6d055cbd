"""The BentoML and Ray Serve peers' own code, without installing a peer: requests, the
drift pieces the compositions run, the window-test helper process, stopping Ray's
launcher and the graph-vs-composition ratios."""

from __future__ import annotations

import io
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks import payloads, procs, report, scenarios, servers
from benchmarks.peers import components, registry, window_test
from benchmarks.peers.ray.peer import LeaderFirstServer


@pytest.fixture(scope="module")
def inputs(artifacts_dir: Path) -> payloads.Inputs:
    return payloads.load_inputs(artifacts_dir)


SERVER = servers.Server("peer", [], http_port=1234)


# ----- scenarios and requests -----
def test_compositions_are_the_bentoml_and_ray_graphs_over_rest() -> None:
    assert set(registry.COMPOSITIONS) == {"bentoml_graph", "ray_graph"}
    cases = scenarios.cases_for(registry.COMPOSITIONS, (1, 32), quick=True)
    assert sorted((c.name, c.transport, c.payload) for c in cases) == [
        ("bentoml_graph", "rest", "binData"), ("ray_graph", "rest", "binData")]  # fmt: skip


def test_single_model_peers_get_the_classifiers_input(inputs: payloads.Inputs) -> None:
    import json

    url, _, bento = registry.request("bentoml", "rest", SERVER, inputs)
    assert url == "http://127.0.0.1:1234/predict"
    np.testing.assert_array_equal(np.asarray(json.loads(bento)["x"], np.float32),
                                  inputs.normalised)  # fmt: skip
    _, _, ray = registry.request("ray_serve", "rest", SERVER, inputs)
    assert ray == payloads.seldon_rest("tensor", inputs)
    np.testing.assert_array_equal(components.read_tensor(ray), inputs.normalised)


def test_graph_peers_get_the_graphs_png(inputs: payloads.Inputs) -> None:
    for name in registry.COMPOSITIONS:
        _, method, body = registry.request(name, "rest", SERVER, inputs)
        assert method is None and components.read_png(body) == inputs.png


def test_peer_transformer_matches_the_benchmark_input(
    artifacts_dir: Path, inputs: payloads.Inputs
) -> None:
    settings = components.PeerSettings(str(artifacts_dir / "v1"), sys.executable)
    x = components.Transformer(settings)(inputs.png)
    np.testing.assert_allclose(x, inputs.normalised, rtol=0, atol=1e-6)


def test_tensor_reply_carries_probabilities_and_tags() -> None:
    probs = np.array([[0.25, 0.75]], dtype=np.float32)
    reply = components.tensor_reply(probs, {"drift.window": 3})
    assert reply["data"]["tensor"] == {"shape": [1, 2], "values": [0.25, 0.75]}
    assert reply["meta"]["tags"] == {"drift.window": 3}
    assert "meta" not in components.tensor_reply(probs)


def test_settings_are_recorded_only_for_peers_that_ran() -> None:
    assert registry.report_settings(("batched",)) == {}
    chosen = registry.report_settings(("ray_graph", "batched"))
    assert set(chosen) == {"ray_graph"} and chosen["ray_graph"]["composition"] is True
    bento = registry.report_settings(("bentoml_graph",))["bentoml_graph"]
    assert "max_requests" in bento["runner_connection"]


# ----- the drift pieces -----
def test_window_frames_round_trip() -> None:
    x = np.random.default_rng(0).normal(size=(5, 3, 4, 4)).astype(np.float32)
    stream = io.BytesIO(window_test.encode(x) + window_test.encode(x[:2]))
    np.testing.assert_array_equal(window_test.read_window(stream), x)
    np.testing.assert_array_equal(window_test.read_window(stream), x[:2])
    assert window_test.read_window(stream) is None


def test_drift_worker_loads_from_its_file_alone() -> None:
    module = components._worker_module()
    assert module.__name__ == "peer_drift_worker"
    assert components.tags(None)["drift.window"] == 0
    verdict = module.Verdict(is_drift=True, p_value=0.01, distance=0.3, threshold=0.05,
                             window=2)  # fmt: skip
    assert components.tags(verdict) == {"drift.is_drift": True, "drift.p_value": 0.01,
                                        "drift.distance": 0.3, "drift.window": 2}  # fmt: skip


def test_helper_process_gives_the_in_process_window_test_result(artifacts_dir: Path) -> None:
    from model.drift.mmd import build_window_test
    from model.settings import DriftSettings

    uri = str(artifacts_dir / "v1")
    window = np.load(artifacts_dir / "v1" / "drift_reference.npy")[: window_test.WINDOW_SIZE]
    local = build_window_test(DriftSettings(model_uri=uri, window_size=64, p_val=0.05))(window)
    remote = window_test.RemoteWindowTest(
        sys.executable, uri, components._worker_module().WindowResult
    )
    try:
        result = remote(window)
    finally:
        remote.close()
    assert result.p_value == pytest.approx(local.p_value)
    assert result.distance == pytest.approx(local.distance)
    assert result.is_drift == local.is_drift


# ----- stopping: SIGTERM to the leader first -----
LEADER = textwrap.dedent("""
    import pathlib, signal, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    def stop(*_):
        child.terminate(); child.wait()
        pathlib.Path(sys.argv[1]).write_text("stopped its child")
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    print("up", flush=True)
    time.sleep(600)
""")


def test_leader_first_server_lets_the_leader_stop_its_group(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    server = LeaderFirstServer(
        "leader", [sys.executable, "-c", LEADER, str(marker)], servers.free_port()
    )
    server.start()
    try:
        deadline = time.monotonic() + 30
        while not server.log_path.read_text().startswith("up"):
            assert time.monotonic() < deadline, "leader did not start"
            time.sleep(0.1)
        server._remember_children()
        children = set(server._seen)
        assert children
    finally:
        server.stop()
    assert marker.read_text() == "stopped its child"
    assert all(procs.start_time(pid) != started for pid, started in children)


# ----- the report -----
def test_graph_is_compared_with_the_fastest_peer_graph() -> None:
    def row(name: str, level: int, rps: float) -> dict:
        return {"name": name, "transport": "rest", "payload": "binData",
                "concurrency": level, "throughput_rps": rps}  # fmt: skip

    rows = [row("graph", 1, 100.0), row("graph", 32, 300.0), row("ray_graph", 1, 50.0),
            row("bentoml_graph", 1, 80.0), row("ray_graph", 32, 400.0),
            row("bentoml_graph", 32, float("nan"))]  # fmt: skip
    out = report.ratios(rows)
    assert out["graph/fastest peer graph throughput @1 rest"] == pytest.approx(1.25)
    assert out["graph/fastest peer graph throughput @32 rest"] == pytest.approx(0.75)
    verdicts = {t["target"]: t["result"] for t in report.targets(out)}
    assert verdicts["graph >= fastest peer graph @1 (REST)"] == "PASS"
    assert verdicts["graph >= fastest peer graph @32 (REST)"] == "MISS"
    assert "graph/fastest peer graph throughput @1 rest" not in report.ratios(rows[:2])
