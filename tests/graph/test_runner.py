"""The local runner: node plans (pure) and supervised node processes (slow, real)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import time
from pathlib import Path

import pytest
import requests
import yaml

from graph.runner.launch import (
    METRICS_PATH,
    command,
    environment,
    model_dir,
    plan_deployment,
    resolve_parameters,
    thread_share,
)
from graph.runner.ports import free_ports, port_is_free
from graph.runner.supervisor import RunnerSettings, Supervisor
from graph.spec import load_deployment
from model.errors import ConfigError, ManifestError, Unavailable
from tests.fixtures.graphs import ROOT, tensor, toy_container, toy_manifest_doc, toy_node

MANIFEST = ROOT / "graph" / "seldondeployment.yaml"


def digits_manifest() -> dict:
    return dict(yaml.safe_load(MANIFEST.read_text()))


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    for version in ("v1", "v2"):
        (tmp_path / version).mkdir()
    return tmp_path


# ------------------------------------------------------------------------ plans
def test_model_uri_maps_to_its_last_path_segment(tmp_path: Path) -> None:
    assert model_dir("pvc://digits-models/v1", tmp_path) == tmp_path / "v1"
    assert model_dir("gs://bucket/models/v2/", tmp_path) == tmp_path / "v2"
    with pytest.raises(ConfigError):
        model_dir("pvc://", tmp_path)


def test_models_dir_rewrites_mnt_models_parameters(models_dir: Path) -> None:
    spec = load_deployment(digits_manifest())
    plans = {p.key: p for p in plan_deployment(spec, models_dir)}
    assert len(plans) == 6  # three nodes per predictor
    main = dict((p["name"], p["value"]) for p in plans["digits/main/classifier"].parameters)
    canary = dict((p["name"], p["value"]) for p in plans["digits/canary/transformer"].parameters)
    assert main["model_uri"] == str((models_dir / "v1").resolve())
    assert canary["model_uri"] == str((models_dir / "v2").resolve())
    assert main["device"] == "auto"  # other parameters pass unchanged


def test_without_models_dir_parameters_pass_unchanged() -> None:
    spec = load_deployment(digits_manifest())
    node = spec.predictors[0].graph
    assert list(resolve_parameters(node, None)) == node.parameters_json()


def test_a_path_under_mnt_models_keeps_its_tail(models_dir: Path) -> None:
    doc = toy_manifest_doc(shadow=False)
    graph = doc["spec"]["predictors"][1]["graph"]
    graph["modelUri"] = "s3://models/v2"
    graph["parameters"].append({"name": "extra", "type": "STRING", "value": "/mnt/models/sub/x"})
    (params,) = [p.parameters for p in plan_deployment(load_deployment(doc), models_dir)
                 if p.predictor == "canary"]  # fmt: skip
    assert {
        "name": "extra",
        "type": "STRING",
        "value": f"{models_dir.resolve()}/v2/sub/x",
    } in params


def test_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="v1"):
        plan_deployment(load_deployment(digits_manifest()), tmp_path)


def test_class_and_environment_come_from_the_container(models_dir: Path) -> None:
    spec = load_deployment(digits_manifest())
    plan = {p.key: p for p in plan_deployment(spec, models_dir)}["digits/main/classifier"]
    assert plan.model_name == "model.predictor.TorchPredictor" and plan.service_type == "MODEL"
    ports = (9100, 9101, 9102)
    argv = command(plan, "seldon-core-microservice", ports)
    assert argv[:4] == ["seldon-core-microservice", "model.predictor.TorchPredictor",
                        "--service-type", "MODEL"]  # fmt: skip
    assert argv[4:] == ["--http-port", "9100", "--grpc-port", "9101", "--metrics-port", "9102"]
    env = environment(plan, ports, base={"PATH": "/bin"}, cwd=Path("/src"))
    assert json.loads(env["PREDICTIVE_UNIT_PARAMETERS"]) == [dict(p) for p in plan.parameters]
    assert env["PREDICTIVE_UNIT_ID"] == "classifier" and env["PREDICTOR_ID"] == "main"
    assert env["SELDON_DEPLOYMENT_ID"] == "digits"
    assert env["PREDICTIVE_UNIT_METRICS_ENDPOINT"] == METRICS_PATH
    assert env["GUNICORN_THREADS"] == "32" and env["GRPC_THREADS"] == "32"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == "/src"


@pytest.mark.parametrize(
    ("processes", "cpus", "share"), [(6, 2, 1), (6, 16, 2), (3, 16, 5), (1, 4, 4), (0, 2, 2)]
)
def test_each_node_gets_its_share_of_the_cpus(processes: int, cpus: int, share: int) -> None:
    assert thread_share(processes, cpus) == share


@pytest.mark.parametrize(
    ("caller", "container", "expected"),
    [(None, None, "2"), (None, "8", "2"), (None, "1", "1"), (None, "x", "2"), ("6", "1", "6")],
)
def test_torch_threads_are_capped_by_the_share_unless_the_caller_chose(
    models_dir: Path, caller: str | None, container: str | None, expected: str
) -> None:
    spec = load_deployment(digits_manifest())
    plan = {p.key: p for p in plan_deployment(spec, models_dir)}["digits/main/classifier"]
    if container is not None:
        plan = dataclasses.replace(
            plan, container_env={**plan.container_env, "OMP_NUM_THREADS": container}
        )
    base = {"PATH": "/bin"} | ({"OMP_NUM_THREADS": caller} if caller else {})
    env = environment(plan, (9100, 9101, 9102), base=base, threads=2)
    assert env["OMP_NUM_THREADS"] == expected


@pytest.mark.parametrize(("threads", "transformer", "classifier"), [(8, "1", "2"), (1, "1", "1")])
def test_the_manifests_cpu_limit_caps_torch_threads_as_the_kubelet_resolves_it(
    models_dir: Path, threads: int, transformer: str, classifier: str
) -> None:
    """OMP_NUM_THREADS comes from resourceFieldRef limits.cpu (transformer 1, classifier
    2 cores in graph/seldondeployment.yaml); the machine's share caps it further."""
    doc = digits_manifest()
    env = {
        c["name"]: {e["name"]: e for e in c["env"]}
        for component in doc["spec"]["predictors"][0]["componentSpecs"]
        for c in component["spec"]["containers"]
    }
    assert env["classifier"]["OMP_NUM_THREADS"]["valueFrom"]["resourceFieldRef"] == {
        "resource": "limits.cpu",
        "divisor": "1",
    }
    plans = {p.key: p for p in plan_deployment(load_deployment(doc), models_dir)}
    got = {
        node: environment(plans[f"digits/main/{node}"], (1, 2, 3), base={}, threads=threads)
        for node in ("transformer", "classifier")
    }
    assert got["transformer"]["OMP_NUM_THREADS"] == transformer
    assert got["classifier"]["OMP_NUM_THREADS"] == classifier


def test_a_node_without_container_must_be_a_builtin() -> None:
    doc = toy_manifest_doc(shadow=False)
    doc["spec"]["predictors"][1]["componentSpecs"] = []
    with pytest.raises(
        ManifestError, match=r"spec\.predictors\[1\]\.graph.*no container named 'scale'"
    ):
        plan_deployment(load_deployment(doc), None)
    doc["spec"]["predictors"][1]["graph"] = {
        "name": "ab", "type": "ROUTER", "implementation": "RANDOM_ABTEST",
        "children": [toy_node("a", "MODEL", {}), toy_node("b", "MODEL", {})],
    }  # fmt: skip
    doc["spec"]["predictors"][1]["componentSpecs"] = [
        {"spec": {"containers": [toy_container(n, "Scale", "MODEL") for n in ("a", "b")]}}
    ]
    nodes = [p.node for p in plan_deployment(load_deployment(doc), None) if p.predictor == "canary"]
    assert nodes == ["a", "b"]  # the built-in router runs inside the executor


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(6)
    assert len(set(ports)) == 6 and all(port_is_free(p) for p in ports)


# ----------------------------------------------------------- supervised processes
def one_node_plans(tmp_path: Path, model: str = "Scale") -> list:
    doc = toy_manifest_doc(shadow=False)
    doc["spec"]["predictors"] = [doc["spec"]["predictors"][1]]
    doc["spec"]["predictors"][0]["traffic"] = 100
    doc["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"] = [
        toy_container("scale", model, "MODEL")
    ]
    return plan_deployment(load_deployment(doc), None)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_dead_node_is_marked_down_restarted_and_everything_stops(tmp_path: Path) -> None:
    settings = RunnerSettings(run_dir=tmp_path / "run", cwd=ROOT, ready_timeout=60,
                              backoff_start=0.2, poll_interval=0.05)  # fmt: skip
    changes: list[tuple[str, bool]] = []
    supervisor = Supervisor(
        one_node_plans(tmp_path), settings, lambda p, r: changes.append((p.node, r))
    )
    pgids: list[int] = []

    async def go() -> None:
        await supervisor.start()
        try:
            (endpoint,) = supervisor.endpoints("toy", "canary").values()
            url = f"http://127.0.0.1:{endpoint.http_port}/predict"
            reply = await asyncio.to_thread(requests.post, url, json=tensor([1, 2]), timeout=10)
            assert reply.json()["data"]["tensor"]["values"] == [3.0, 6.0]
            proc = supervisor.processes["toy/canary/scale"]
            assert proc.pid is not None
            pgids.append(proc.pid)
            os.kill(proc.pid, signal.SIGKILL)  # the main process only: its children linger
            deadline = time.monotonic() + 10
            while supervisor.is_ready() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert supervisor.not_ready("toy", "canary") == ["scale"]
            assert not group_alive(pgids[0]) or await _gone_soon(pgids[0])
            deadline = time.monotonic() + 60
            while not supervisor.is_ready() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert supervisor.is_ready() and supervisor.restarts("toy/canary/scale") == 1
            assert proc.pid is not None and proc.pid != pgids[0]
            pgids.append(proc.pid)
            reply = await asyncio.to_thread(requests.post, url, json=tensor([1]), timeout=10)
            assert reply.status_code == 200  # same ports after the restart
            state = json.loads((settings.run_dir / "nodes.json").read_text())
            assert state["toy/canary/scale"]["restarts"] == 1
        finally:
            await supervisor.stop()

    try:
        asyncio.run(go())
    finally:
        supervisor.kill_all()
    assert changes == [("scale", True), ("scale", False), ("scale", True)]
    assert not any(group_alive(pgid) for pgid in pgids)
    assert "=== start 2" in (settings.run_dir / "toy.canary.scale.log").read_text()


async def _gone_soon(pgid: int) -> bool:
    for _ in range(50):
        if not group_alive(pgid):
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.slow
def test_a_node_that_cannot_start_fails_fast_with_its_log(tmp_path: Path) -> None:
    settings = RunnerSettings(run_dir=tmp_path / "run", cwd=ROOT, ready_timeout=60)
    supervisor = Supervisor(one_node_plans(tmp_path, model="NoSuchClass"), settings)
    with pytest.raises(Unavailable, match=r"(?s)exited with code .*NoSuchClass"):
        asyncio.run(supervisor.start())
    (proc,) = supervisor.processes.values()
    assert proc.pid is not None and not group_alive(proc.pid)
