"""``seldon-graph serve --runtime containers`` end to end: the digits graph in containers
of the image (built once a session, ``tests/deploy/conftest.py``), one pod per rendered
Deployment, behind the gateway of this machine.

REST and gRPC predictions reach main and canary; a ``kill`` of the main classifier's
container gives fast 503s until the supervisor starts it again; a new traffic split in
the file is applied live; SIGTERM drains the requests in flight, then removes every
container of the run. Timings and the memory of each container go to the log folder
(``serve-containers.json``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import grpc
import numpy as np
import pytest
import requests
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from graph.containers import engine, launcher
from graph.containers.conf import engine_env
from graph.containers.pods import OWNER_LABEL, RUNTIME_LABEL, SERVE_LABEL
from model.seldon.tensors import tensor_proto_to_array
from tests.deploy.conftest import ROOT
from tests.fixtures.graphs import Served, serve_process, stop_serve

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # may build the image first
INGRESS = "/seldon/seldon/digits/api/v1.0"
# Six containers load torch and the detectors at once: minutes on 2 busy cores.
READY_TIMEOUT = 600.0
MEASURED: dict[str, Any] = {}


def _label(served: Served) -> str:
    found = re.search(r"labelled (seldon-graph/serve=\w+)", served.log())
    assert found, served.log()[-3000:]
    return found.group(1)


def _containers(container_engine: engine.Engine, label: str) -> list[Any]:
    return list(container_engine.client.containers.list(all=True, filters={"label": label}))


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of graph/seldondeployment.yaml (the reload test rewrites it) with the node
    timeouts at 30 s instead of 5 s: six containers on two shared CI cores answer the
    first requests slowly (a 5 s timeout failed a first request at a load average of 20)."""
    path = tmp_path_factory.mktemp("containers") / "seldondeployment.yaml"
    text = (ROOT / "graph" / "seldondeployment.yaml").read_text()
    path.write_text(re.sub(r'(seldon\.io/(rest|grpc)-timeout): "5000"', r'\1: "30000"', text))
    assert path.read_text().count('"30000"') == 2
    return path


@pytest.fixture(scope="module")
def served(image: str, manifest: Path, artifacts_dir: Path, log_dir: Path) -> Iterator[Served]:
    started = time.monotonic()
    with serve_process(
        manifest, log_dir, "--runtime", "containers", "--image", image,
        "--models-dir", str(artifacts_dir), "--ready-timeout", str(READY_TIMEOUT), "--quiet",
        ready_timeout=READY_TIMEOUT + 60,
    ) as running:  # fmt: skip
        MEASURED["start_to_ready_s"] = round(time.monotonic() - started, 1)
        yield running
    (log_dir / "serve-containers.json").write_text(json.dumps(MEASURED, indent=2) + "\n")


def _png(artifacts_dir: Path) -> tuple[bytes, int]:
    path = sorted((artifacts_dir / "examples" / "clean").glob("*.png"))[0]
    return path.read_bytes(), int(path.stem.split("-")[1])


def _predict(served: Served, png: bytes, timeout: float = 30) -> requests.Response:
    body = {"binData": base64.b64encode(png).decode()}
    return requests.post(f"{served.url}{INGRESS}/predictions", json=body, timeout=timeout)


def test_pods_run_from_the_image_as_the_rendering_says(
    served: Served, container_engine: engine.Engine, artifacts_dir: Path
) -> None:
    found = _containers(container_engine, _label(served))
    infra = {c.id: c for c in found if c.labels.get("seldon-graph/infra") == "1"}
    nodes = [c for c in found if c.id not in infra]
    assert len(infra) == 6 and len(nodes) == 6  # one pod per componentSpec and predictor
    for c in nodes:
        host = c.attrs["HostConfig"]
        assert host["NetworkMode"].split(":", 1)[1] in infra  # the pod's network namespace
        assert c.attrs["Config"]["User"] == "8888:8888" and host["ReadonlyRootfs"]
        version = "v1" if c.labels["seldon-graph/predictor"] == "main" else "v2"
        (mount,) = [m for m in c.attrs["Mounts"] if m["Destination"] == "/mnt/models"]
        assert not mount["RW"] and Path(mount["Source"]) == (artifacts_dir / version).resolve()
        assert host["Memory"] > 0 and host["NanoCpus"] > 0


def test_rest_and_grpc_predictions_reach_main_and_canary(
    served: Served, artifacts_dir: Path
) -> None:
    png, label = _png(artifacts_dir)
    seen: Counter[str] = Counter()
    for _ in range(60):
        reply = _predict(served, png)
        assert reply.status_code == 200, reply.text
        assert int(np.argmax(reply.json()["data"]["tensor"]["values"])) == label
        seen[reply.headers["Seldon-Predictor"]] += 1
    assert seen["main"] > seen["canary"] > 0, seen
    metadata = [("seldon", "digits"), ("namespace", "seldon")]
    with grpc.insecure_channel(served.grpc_target) as channel:
        stub = prediction_pb2_grpc.SeldonStub(channel)
        grpc_seen: Counter[str] = Counter()
        for _ in range(40):
            msg = prediction_pb2.SeldonMessage(binData=png)
            reply, call = stub.Predict.with_call(msg, metadata=metadata, timeout=30)
            assert int(np.argmax(tensor_proto_to_array(reply.data.tftensor))) == label
            grpc_seen[dict(call.trailing_metadata())["seldon-predictor"]] += 1
    assert grpc_seen["main"] > 0 and grpc_seen["canary"] > 0, grpc_seen


def test_memory_of_each_container_after_predictions_is_under_its_limit(
    served: Served, container_engine: engine.Engine
) -> None:
    usage = {}
    for c in _containers(container_engine, _label(served)):
        used = int((c.stats(stream=False).get("memory_stats") or {}).get("usage") or 0)
        usage[c.name] = used
        assert 0 < used < c.attrs["HostConfig"]["Memory"], (c.name, used)
    MEASURED["memory_bytes"] = usage


def _load(served: Served, png: bytes, stop: threading.Event, out: list[tuple]) -> None:
    with requests.Session() as session:
        body = {"binData": base64.b64encode(png).decode()}
        while not stop.is_set():
            start = time.monotonic()
            reply = session.post(f"{served.url}{INGRESS}/predictions", json=body, timeout=30)
            predictor = reply.headers.get("Seldon-Predictor", "")
            out.append((start, reply.status_code, predictor, time.monotonic() - start))


def test_a_killed_classifier_container_gives_fast_503s_then_comes_back(
    served: Served, container_engine: engine.Engine, artifacts_dir: Path
) -> None:
    label = _label(served)
    (victim,) = [
        c.name
        for c in _containers(container_engine, label)
        if c.labels.get("seldon-graph/node") == "classifier"
        and c.labels["seldon-graph/predictor"] == "main"
    ]
    png, _ = _png(artifacts_dir)
    results: list[tuple[float, int, str, float]] = []
    stop = threading.Event()
    threads = [threading.Thread(target=_load, args=(served, png, stop, results)) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        killed_at = time.monotonic()
        subprocess.run([container_engine.name, "kill", victim], env=engine_env(), check=True)
        back_at = None
        while time.monotonic() < killed_at + 480 and back_at is None:  # 196 s at load 20
            time.sleep(0.2)
            back = [r for r in results if r[0] > killed_at and r[1] == 200 and r[2] == "main"]
            back_at = back[0][0] if back else None
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert back_at is not None, served.log()[-3000:]
    MEASURED["killed_container_back_s"] = round(back_at - killed_at, 1)
    during = [r for r in results if killed_at <= r[0] < back_at]
    statuses = Counter((r[1], r[2]) for r in during)
    assert statuses[(503, "main")] > 0, statuses  # known down: answered at once
    assert {s for s, _ in statuses} <= {200, 500, 503}, statuses
    assert max(r[3] for r in during if r[1] == 503) < 1.0  # fast, not a timeout
    assert served.nodes()["digits/main/classifier"]["restarts"] == 1
    assert _predict(served, png).status_code == 200


def test_a_new_split_in_the_file_is_applied_live(
    served: Served, manifest: Path, artifacts_dir: Path
) -> None:
    text = manifest.read_text()
    changed = text.replace("traffic: 90", "traffic: 0").replace("traffic: 10", "traffic: 100")
    manifest.write_text(changed)
    try:
        deadline, weights = time.monotonic() + 30, {}
        while time.monotonic() < deadline and weights != {"main": 0, "canary": 100}:
            reply = requests.get(f"{served.url}/admin/traffic", timeout=5).json()
            weights = reply["deployments"][0]["weights"]
            time.sleep(0.2)
        assert weights == {"main": 0, "canary": 100}
        png, _ = _png(artifacts_dir)
        seen = Counter(_predict(served, png).headers["Seldon-Predictor"] for _ in range(20))
        assert seen == Counter({"canary": 20}), seen
    finally:
        manifest.write_text(text)


def test_sigterm_drains_in_flight_requests_then_removes_every_container(
    served: Served, container_engine: engine.Engine, artifacts_dir: Path
) -> None:
    """Last: it stops the module's serve. Requests in flight when SIGTERM arrives are
    answered by the containers (drain before the pods go); later ones find the port
    closed, none gets a 5xx."""
    label = _label(served)
    assert _containers(container_engine, label)
    png, _ = _png(artifacts_dir)
    statuses: Counter[int | str] = Counter()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                statuses[_predict(served, png).status_code] += 1
            except requests.ConnectionError:
                statuses["refused"] += 1
                time.sleep(0.05)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        while statuses[200] < 6:  # requests are flowing
            time.sleep(0.05)
        started = time.monotonic()
        assert stop_serve(served, timeout=120) == 0, served.log()[-3000:]
        MEASURED["stop_s"] = round(time.monotonic() - started, 1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not [k for k in statuses if isinstance(k, int) and k >= 500], statuses
    assert statuses[200] >= 6, statuses
    assert _containers(container_engine, label) == []


def test_containers_of_a_killed_serve_are_removed_by_the_next_run(
    container_engine: engine.Engine, image: str
) -> None:
    """``remove_orphans``: a container labelled with a dead serve process of this host goes,
    one of a live process stays."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    runs = {"dead": f"{socket.gethostname()}:{gone.pid}", "alive": launcher.owner()}
    made = {
        key: container_engine.client.containers.create(
            image,
            ["sleep", "infinity"],
            labels={
                RUNTIME_LABEL: "containers",
                SERVE_LABEL: f"orphan-test-{key}",
                OWNER_LABEL: owner,
            },
        )
        for key, owner in runs.items()
    }
    try:
        assert launcher.remove_orphans(container_engine) >= 1
        left = {c.id for c in _containers(container_engine, f"{RUNTIME_LABEL}=containers")}
        assert made["dead"].id not in left and made["alive"].id in left
    finally:
        for container in made.values():
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
