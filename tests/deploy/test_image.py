"""The real image, built once by a container engine and run as the pod spec says.

The session builds the image with ``scripts.image.build`` (``make image``: Docker where a
daemon answers, else Podman) and runs the three containers of the manifest's ``main``
predictor from it through the Docker API (``graph.containers.engine``): uid 8888, read-only
root, a tmpfs at /tmp, every capability dropped, no-new-privileges, the CPU and memory
limits and the env of the manifest, model v1 read-only at /mnt/models. Then REST and gRPC
predictions against each, compared with the same components in this process, the
memory of each and the time each takes to stop on SIGTERM. Minutes: a cold build (torch
and its CUDA wheels) takes far longer than the rest.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
import yaml
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from graph.containers import engine
from graph.containers.podspec import container_runs
from model.inference import InferenceModel, load_model
from model.seldon.tensors import array_to_tensor_proto, tensor_proto_to_array
from model.settings import PredictorSettings, build_settings
from model.transformer import ImageTransformer
from tests.deploy.conftest import ROOT

# The first test builds the image: a cold build (torch and its CUDA wheels) takes 10-15
# minutes on 2 cores, more than setup.cfg's 300 s per test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
MANIFEST = ROOT / "graph" / "seldondeployment.yaml"
NODES = ("transformer", "drift-detector", "classifier")
# The pod's grace period: the manifest sets no terminationGracePeriodSeconds, so
# Kubernetes' default (`docker stop` and `podman stop` give 10 s).
GRACE_S = 30.0


@pytest.fixture(scope="module")
def running(
    container_engine: engine.Engine, image: str, artifacts_dir: Path
) -> Iterator[dict[str, engine.Running]]:
    """The main predictor's three containers, started together, ready."""
    runs = container_runs(yaml.safe_load(MANIFEST.read_text()), "main")
    started: dict[str, engine.Running] = {}
    try:
        for node in NODES:
            started[node] = engine.start(container_engine, runs[node], artifacts_dir / "v1", image)
        for each in started.values():
            engine.wait_ready(each)
        yield started
    finally:
        for each in started.values():
            engine.remove(each)


def _exec(running: engine.Running, command: str) -> tuple[int, str]:
    code, output = running.container.exec_run(["sh", "-c", command])
    return int(code), output.decode(errors="replace").strip()


def _status(running: engine.Running, pid: int = 1) -> dict[str, str]:
    code, text = _exec(running, f"cat /proc/{pid}/status")
    assert code == 0, text
    return {k: v.strip() for k, v in (line.split(":", 1) for line in text.splitlines())}


def _wrapper_pid(running: engine.Running) -> int:
    """The seldon-core-microservice process (tini is PID 1)."""
    code, text = _exec(running, "grep -l seldon-core-microservice /proc/[0-9]*/cmdline")
    assert code == 0, text
    return min(int(path.split("/")[2]) for path in text.split())


@pytest.mark.parametrize("node", NODES)
def test_each_container_runs_as_the_pod_spec_says(
    running: dict[str, engine.Running], node: str
) -> None:
    each = running[node]
    spec = each.run
    assert _exec(each, "id -u; id -g") == (0, "8888\n8888")
    code, text = _exec(each, "touch /opt/venv/x")
    assert code != 0 and "Read-only file system" in text, text
    assert _exec(each, "touch /tmp/x && rm /tmp/x")[0] == 0
    code, text = _exec(each, "touch /mnt/models/x")
    assert code != 0 and "Read-only file system" in text, text
    status = _status(each, _wrapper_pid(each))
    assert status["NoNewPrivs"] == "1"
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0
    limit = (  # cgroup v2, else v1
        "cat /sys/fs/cgroup/memory.max 2>/dev/null"
        " || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
    )
    assert _exec(each, limit) == (0, str(spec.mem_limit))
    each.container.reload()
    assert each.container.attrs["HostConfig"]["NanoCpus"] == spec.nano_cpus
    env = dict(item.split("=", 1) for item in each.container.attrs["Config"]["Env"])
    assert {k: env[k] for k in spec.environment} == dict(spec.environment)
    assert json.loads(env["PREDICTIVE_UNIT_PARAMETERS"])[0]["value"] == "/mnt/models"
    published = each.container.attrs["NetworkSettings"]["Ports"]
    hosts = {b["HostIp"] for bindings in published.values() if bindings for b in bindings}
    assert hosts == {"127.0.0.1"}, published  # REST and gRPC, on loopback only


@pytest.fixture(scope="module")
def local_transformer(artifacts_dir: Path) -> ImageTransformer:
    """The transformer in this process: the reference for the containers' replies."""
    component = ImageTransformer(model_uri=str(artifacts_dir / "v1"))
    component.load()
    return component


@pytest.fixture(scope="module")
def local_model(artifacts_dir: Path) -> InferenceModel:
    settings = build_settings(
        PredictorSettings,
        "TorchPredictor",
        {"model_uri": str(artifacts_dir / "v1"), "device": "cpu"},
    )
    return load_model(settings)


@pytest.fixture(scope="module")
def png(artifacts_dir: Path) -> bytes:
    return sorted((artifacts_dir / "examples" / "clean").glob("*.png"))[0].read_bytes()


def _array(tensor: dict[str, Any]) -> np.ndarray:
    return np.asarray(tensor["values"], dtype=np.float32).reshape(tensor["shape"])


def _post(url: str, body: dict[str, Any]) -> np.ndarray:
    reply = requests.post(url, json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    return _array(reply.json()["data"]["tensor"])


def _tensor_body(x: np.ndarray) -> dict[str, Any]:
    return {"data": {"tensor": {"shape": list(x.shape), "values": x.ravel().tolist()}}}


def _grpc_message(x: np.ndarray) -> prediction_pb2.SeldonMessage:
    return prediction_pb2.SeldonMessage(
        data=prediction_pb2.DefaultData(tftensor=array_to_tensor_proto(x))
    )


def test_rest_and_grpc_through_the_three_containers(
    running: dict[str, engine.Running],
    local_transformer: ImageTransformer,
    local_model: InferenceModel,
    png: bytes,
) -> None:
    """transformer -> drift detector -> classifier, each hop over REST and over gRPC, each
    reply equal to the same component's in this process."""
    body = {"binData": base64.b64encode(png).decode()}
    expected = _array(local_transformer.transform_input_raw(body)["data"]["tensor"])
    t = running["transformer"]
    x = _post(f"{t.url}/transform-input", body)
    np.testing.assert_allclose(x, expected, atol=1e-6)
    with grpc.insecure_channel(t.grpc_target) as channel:
        reply = prediction_pb2_grpc.TransformerStub(channel).TransformInput(
            prediction_pb2.SeldonMessage(binData=png), timeout=60
        )
    np.testing.assert_allclose(tensor_proto_to_array(reply.data.tftensor), expected, atol=1e-6)

    d = running["drift-detector"]
    np.testing.assert_allclose(_post(f"{d.url}/transform-input", _tensor_body(x)), x, atol=1e-6)
    with grpc.insecure_channel(d.grpc_target) as channel:
        reply = prediction_pb2_grpc.TransformerStub(channel).TransformInput(
            _grpc_message(x), timeout=60
        )
    np.testing.assert_allclose(tensor_proto_to_array(reply.data.tftensor), x, atol=1e-6)

    c = running["classifier"]
    probs = _post(f"{c.url}/predict", _tensor_body(x))
    np.testing.assert_allclose(probs, local_model.run(x), atol=1e-4)
    with grpc.insecure_channel(c.grpc_target) as channel:
        reply = prediction_pb2_grpc.ModelStub(channel).Predict(_grpc_message(x), timeout=60)
    np.testing.assert_allclose(tensor_proto_to_array(reply.data.tftensor), probs, atol=1e-4)


def test_memory_of_each_container_is_measured_and_under_its_limit(
    running: dict[str, engine.Running], log_dir: Path
) -> None:
    measured = {node: engine.memory(each) for node, each in running.items()}
    (log_dir / "image-memory.json").write_text(json.dumps(measured, indent=2) + "\n")
    for node, each in running.items():
        usage = measured[node]
        assert usage["processes"] >= 2, usage  # tini and the wrapper at least
        assert 0 < usage["pss"] <= usage["rss"], usage
        assert each.run.mem_limit is not None and usage["pss"] < each.run.mem_limit, usage


def test_sigterm_stops_each_container_well_within_the_grace_period(
    running: dict[str, engine.Running], log_dir: Path
) -> None:
    """Last: it stops the containers. tini passes SIGTERM to the wrapper's process group."""
    stopped = {node: engine.stop_seconds(each, GRACE_S) for node, each in running.items()}
    (log_dir / "image-sigterm.json").write_text(json.dumps(stopped, indent=2) + "\n")
    for node, (seconds, code) in stopped.items():
        assert code != 137, f"{node} needed SIGKILL after {seconds:.1f} s"
        assert seconds < GRACE_S / 2, f"{node} took {seconds:.1f} s"
