"""How the runner starts a node: command, environment and CPU share (pure); free ports."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import socket
from pathlib import Path

import pytest
import yaml

from graph.runner import ports as ports_module
from graph.runner.launch import METRICS_PATH, command, environment, thread_share
from graph.runner.plan import plan_deployment
from graph.runner.ports import LOWEST, ephemeral_start, free_ports, port_is_free
from graph.spec import load_deployment
from tests.fixtures.graphs import ROOT

MANIFEST = ROOT / "graph" / "seldondeployment.yaml"


def digits_manifest() -> dict:
    return dict(yaml.safe_load(MANIFEST.read_text()))


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


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    """Ports handed to processes that bind them later come from below the range port-0
    binds and outgoing connections draw from (CI: a gateway port taken meanwhile)."""
    seeded = random.getstate()  # serve --seed seeds the module generator: not used here
    ports = free_ports(6)
    assert random.getstate() == seeded
    assert len(set(ports)) == 6 and all(port_is_free(p) for p in ports)
    assert all(LOWEST <= p < ephemeral_start() for p in ports)
    with socket.socket() as sock:  # what any process's port-0 bind gets
        sock.bind(("127.0.0.1", 0))
        assert sock.getsockname()[1] >= ephemeral_start()
    assert not set(ports) & set(free_ports(50))  # never handed out twice


def test_the_port_picker_forgets_the_oldest_ports_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-lived process (serve restarting runs) must not run out of ports to hand out."""
    monkeypatch.setattr(ports_module, "_REMEMBERED", 5)
    monkeypatch.setattr(ports_module, "_HANDED_OUT", {})
    first, rest = free_ports(1)[0], free_ports(7)
    assert list(ports_module._HANDED_OUT) == rest[-5:] and first not in ports_module._HANDED_OUT


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
