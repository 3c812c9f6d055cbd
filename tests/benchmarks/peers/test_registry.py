"""Peer definitions, venv bookkeeping and report rows, without installing any peer."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from benchmarks import payloads, report, scenarios, servers
from benchmarks.peer_env import (
    TORCH,
    PeerEnv,
    cache_dir,
    link_distribution,
    pip_command,
    project_site_packages,
    requirement_closure,
)
from benchmarks.peers import registry, wire
from benchmarks.peers.pytriton import peer as pytriton
from benchmarks.peers.torchserve import peer as torchserve


def test_every_peer_is_a_scenario_over_rest_and_its_grpc() -> None:
    cases = scenarios.cases_for(registry.NAMES, (1, 32), quick=True)
    pairs = {(p.name, t) for p in registry.PEERS.values() for t in p.transports}
    assert {(c.name, c.transport) for c in cases} == pairs
    assert {n for n, p in registry.PEERS.items() if "grpc" in p.transports} == {
        "torchserve", "pytriton", "kserve"}  # fmt: skip
    assert all(c.target == c.name and c.only_level is None for c in cases)
    assert set(registry.NAMES) <= set(scenarios.SCENARIOS)
    assert set(registry.SINGLE_MODEL) | set(registry.COMPOSITIONS) == set(registry.NAMES)
    assert "mlserver" in registry.SINGLE_MODEL and "graph" not in registry.NAMES


def test_requests_use_the_mlserver_body_over_rest_and_the_peer_message_over_grpc(
    artifacts_dir: Path,
) -> None:
    inputs = payloads.load_inputs(artifacts_dir)
    server = servers.Server("kserve", [], http_port=1234, grpc_port=5678)
    url, method, body = registry.request("kserve", "rest", server, inputs)
    assert (url, method, body) == (
        "http://127.0.0.1:1234/v2/models/digits/infer", None, payloads.v2_rest(inputs))  # fmt: skip
    target, method, body = registry.request("torchserve", "grpc", server, inputs)
    assert (target, method) == ("127.0.0.1:5678", wire.TORCHSERVE_PREDICT)
    assert body == wire.torchserve_request(payloads.v2_rest(inputs))
    _, method, body = registry.request("pytriton", "grpc", server, inputs)
    assert (method, body) == (wire.V2_INFER, wire.v2_infer_request(inputs.normalised))


def test_pip_installs_under_the_torch_constraints(tmp_path: Path) -> None:
    argv = pip_command(tmp_path / "python", ("kserve==0.21.0",), tmp_path / "c.txt", quiet=True)
    assert argv[-3:] == ["-c", str(tmp_path / "c.txt"), "kserve==0.21.0"]
    assert TORCH == ("torch==2.14.1", "torchvision==0.29.1")  # the project's constraints.txt
    pinned = Path(__file__).resolve().parents[3] / "constraints.txt"
    assert all(pin in pinned.read_text().splitlines() for pin in TORCH)


def test_venvs_live_in_the_user_cache_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SELDON_GRAPH_BENCH_VENVS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "seldon-graph" / "bench"
    monkeypatch.setenv("SELDON_GRAPH_BENCH_VENVS", str(tmp_path / "venvs"))
    assert cache_dir() == tmp_path / "venvs"
    root = Path(__file__).resolve().parents[3]
    assert root not in PeerEnv("toy", (), "toy").venv.parents  # outside the work tree


def test_a_venv_is_ready_only_with_the_same_pins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("benchmarks.peer_env.WORK", tmp_path)
    env = PeerEnv("toy", ("toy==1.0",), "toy")
    assert env.venv == tmp_path / "toy-venv" and not env.is_ready()
    assert env.version() is None  # never installs to answer
    env.venv.mkdir()
    env.stamp.write_text(env.stamp_text())
    assert env.is_ready()
    assert not PeerEnv("toy", ("toy==2.0",), "toy").is_ready()  # a changed pin rebuilds


def test_pytriton_gets_the_interpreter_libdir_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/x")
    assert pytriton.library_path() == f"{sysconfig.get_config_var('LIBDIR')}:/opt/x"


def test_torchserve_properties_bind_loopback_and_load_the_archive(tmp_path: Path) -> None:
    text = torchserve.properties(tmp_path, 1, 2, 3, 4)
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert props["inference_address"] == "http://127.0.0.1:1"
    assert (props["grpc_inference_address"], props["grpc_inference_port"]) == ("127.0.0.1", "2")
    assert props["load_models"] == "digits.mar" and props["model_store"] == str(tmp_path)
    assert props["disable_token_authorization"] == "true"


def _row(name: str, transport: str, rps: float) -> dict:
    return {"name": name, "target": name, "transport": transport, "payload": "p",
            "concurrency": 32, "throughput_rps": rps, "p50_ms": 1.0, "p90_ms": 1.0,
            "p99_ms": 1.0, "errors": 0}  # fmt: skip


def test_batched_is_compared_with_the_fastest_peer_per_transport() -> None:
    rows = [_row("batched", "rest", 500.0), _row("batched", "grpc", 600.0),
            _row("torchserve", "rest", 400.0), _row("pytriton", "rest", 625.0),
            _row("kserve", "grpc", 200.0), _row("pytriton", "grpc", 300.0),
            _row("graph", "rest", 9000.0)]  # fmt: skip
    assert report.fastest_peer(rows, "rest", 32)["name"] == "pytriton"
    values = report.ratios(rows)
    assert values["batched/fastest peer throughput @32 rest"] == 0.8
    assert values["batched/fastest peer throughput @32 grpc"] == 2.0
    assert values["batched/torchserve throughput @32 rest"] == 1.25
    verdicts = {t["target"]: t["result"] for t in report.targets(values)}
    assert verdicts["batched >= fastest peer @32 (REST)"] == "MISS"
    assert verdicts["batched >= fastest peer @32 (gRPC)"] == "PASS"
    assert report.fastest_peer(rows[:2], "rest", 32) is None


def test_peer_settings_are_listed_in_the_markdown() -> None:
    lines = report.peer_lines({"kserve": {"version": "0.21.0", "batching": "none"}})
    assert lines[-1] == '- `kserve` 0.21.0: batching: "none"'
    assert report.peer_lines({}) == []


def _install_toy(site: Path, files: dict[str, bytes]) -> None:
    """A fake installed wheel ``toy-1.0`` whose RECORD lists ``files`` with their hashes."""
    import base64
    import hashlib

    record = []
    for name, data in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    (site / "toy-1.0.dist-info").mkdir(parents=True, exist_ok=True)
    (site / "toy-1.0.dist-info" / "RECORD").write_text("\n".join(record) + "\n")


def test_identical_wheel_files_become_hard_links(tmp_path: Path) -> None:
    from benchmarks.peer_env import share_identical

    first, second = tmp_path / "a", tmp_path / "b"
    _install_toy(first, {"toy/big.so": b"x" * 1000, "toy/conf.py": b"a = 1\n"})
    _install_toy(second, {"toy/big.so": b"x" * 1000, "toy/conf.py": b"a = 2\n"})
    assert share_identical(second, first) == 1000
    assert (second / "toy/big.so").samefile(first / "toy/big.so")
    assert not (second / "toy/conf.py").samefile(first / "toy/conf.py")  # differs: kept
    assert (second / "toy/conf.py").read_bytes() == b"a = 2\n"
    assert share_identical(second, first) == 0  # already shared


def test_torch_and_what_it_requires_come_from_the_project_venv() -> None:
    names = requirement_closure(Path(project_site_packages()), ["torch", "torchvision"])
    assert {"torch", "torchvision", "numpy", "pillow", "typing-extensions"} <= set(names)
    assert "seldon-core" not in names and "pytest" not in names


def test_a_distribution_is_installed_as_hard_links(tmp_path: Path) -> None:
    source, target = tmp_path / "project", tmp_path / "peer"
    _install_toy(source, {"toy/big.so": b"x" * 1000, "toy/__init__.py": b""})
    link_distribution(source, target, "toy")
    assert (target / "toy/big.so").samefile(source / "toy/big.so")
    assert (target / "toy-1.0.dist-info" / "RECORD").samefile(
        source / "toy-1.0.dist-info" / "RECORD"
    )
    with pytest.raises(KeyError):
        link_distribution(source, target, "absent")


def test_single_model_peers_only_compete_with_batched() -> None:
    rows = [_row("batched", "rest", 500.0), _row("ray_graph", "rest", 900.0),
            _row("bentoml", "rest", 400.0), _row("mlserver", "rest", float("nan"))]  # fmt: skip
    assert report.fastest_peer(rows, "rest", 32)["name"] == "bentoml"
    assert report.ratios(rows)["batched/fastest peer throughput @32 rest"] == 1.25
