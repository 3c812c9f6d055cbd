"""``seldon-graph serve`` end to end: real CLI, real node processes, real requests.

The digits deployment (graph/seldondeployment.yaml with the trained artifacts) classifies
PNG digits over REST and gRPC with the 90/10 canary split; the toy deployment proves
restarts after kill -9; a one-node toy proves SIGTERM drains and leaves no process.
"""

from __future__ import annotations

import base64
import json
import math
import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
import yaml
from PIL import Image
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from model.seldon.tensors import tensor_proto_to_array
from tests.fixtures.graphs import (
    Served,
    marked_pids,
    serve_process,
    stop_serve,
    tensor,
    toy_container,
    toy_manifest_doc,
    toy_node,
)

pytestmark = pytest.mark.slow
INGRESS = "/seldon/seldon/digits/api/v1.0"


def examples(artifacts_dir: Path, n: int) -> list[tuple[Path, int]]:
    """The first ``n`` clean example PNGs and their labels (``<i>-<label>.png``)."""
    files = sorted((artifacts_dir / "examples" / "clean").glob("*.png"))[:n]
    return [(f, int(f.stem.split("-")[1])) for f in files]


def versions(artifacts_dir: Path) -> dict[str, str]:
    """The model version each predictor serves, from the artifacts' metadata."""
    read = lambda v: json.loads((artifacts_dir / v / "metadata.json").read_text())["version"]  # noqa: E731
    return {"main": read("v1"), "canary": read("v2")}


def post(
    served: Served, path: str, body: Any, session: requests.Session | None = None
) -> requests.Response:
    return (session or requests).post(f"{served.url}{INGRESS}/{path}", json=body, timeout=30)


def test_rest_png_digits_get_their_class_and_the_serving_model_version(
    digits_served: Served, artifacts_dir: Path
) -> None:
    expected_version = versions(artifacts_dir)
    correct = 0
    cases = examples(artifacts_dir, 20)
    for path, label in cases:
        reply = post(
            digits_served, "predictions", {"binData": base64.b64encode(path.read_bytes()).decode()}
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["data"]["names"] == [str(i) for i in range(10)]
        probabilities = np.asarray(body["data"]["tensor"]["values"]).reshape(
            body["data"]["tensor"]["shape"]
        )
        correct += int(probabilities.argmax(axis=1)[0] == label)
        predictor = reply.headers["Seldon-Predictor"]
        assert body["meta"]["tags"]["model_version"] == expected_version[predictor]
        assert "drift.is_drift" in body["meta"]["tags"]
        # the puid is a header only (Seldon's executor writes none into the body)
        assert reply.headers["Seldon-Puid"] and "puid" not in body["meta"]
    assert correct >= len(cases) - 1, f"{correct}/{len(cases)} right"


def test_rest_ndarray_pixels_are_classified(digits_served: Served, artifacts_dir: Path) -> None:
    ((path, label),) = examples(artifacts_dir, 1)
    pixels = np.asarray(Image.open(path)).tolist()
    reply = post(digits_served, "predictions", {"data": {"ndarray": pixels}})
    assert reply.status_code == 200, reply.text
    values = reply.json()["data"]["tensor"]["values"]
    assert int(np.argmax(values)) == label


def test_grpc_png_digits_get_their_class(digits_served: Served, artifacts_dir: Path) -> None:
    expected_version = versions(artifacts_dir)
    metadata = [("seldon", "digits"), ("namespace", "seldon")]
    with grpc.insecure_channel(digits_served.grpc_target) as channel:
        stub = prediction_pb2_grpc.SeldonStub(channel)
        correct = 0
        cases = examples(artifacts_dir, 10)
        for path, label in cases:
            msg = prediction_pb2.SeldonMessage(binData=path.read_bytes())
            reply, call = stub.Predict.with_call(msg, metadata=metadata, timeout=30)
            predictor = dict(call.trailing_metadata())["seldon-predictor"]
            assert reply.meta.tags["model_version"].string_value == expected_version[predictor]
            # every hop is gRPC: the classifier's own reply (its tftensor) comes back
            values = tensor_proto_to_array(reply.data.tftensor)
            correct += int(np.argmax(values) == label)
        assert correct >= len(cases) - 1
        with pytest.raises(grpc.RpcError) as info:
            stub.Predict(prediction_pb2.SeldonMessage(strData="x"), metadata=metadata, timeout=30)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_canary_gets_ten_percent_of_2000_requests(digits_served: Served) -> None:
    """Feedback is the lightest request through the real gateway and graph (the
    classifier's send_feedback); the split picks the predictor exactly as for predictions."""
    n = 2000
    with ThreadPoolExecutor(16) as pool, requests.Session() as session:
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))
        replies = list(
            pool.map(lambda _: post(digits_served, "feedback", {"reward": 1.0}, session), range(n))
        )
    assert all(r.status_code == 200 for r in replies), {r.status_code for r in replies}
    counts = Counter(r.headers["Seldon-Predictor"] for r in replies)
    assert set(counts) == {"main", "canary"}
    sigma = math.sqrt(n * 0.1 * 0.9)
    assert abs(counts["canary"] - n * 0.1) <= 4 * sigma, counts


def test_bad_requests_get_seldon_errors(digits_served: Served) -> None:
    reply = requests.post(
        f"{digits_served.url}/seldon/seldon/nope/api/v1.0/predictions", json={}, timeout=10
    )
    assert reply.status_code == 404 and reply.json()["status"]["status"] == "FAILURE"
    reply = requests.post(
        f"{digits_served.url}{INGRESS}/predictions", data=b"{oops",
        headers={"Content-Type": "application/json", "Seldon-Puid": "p-42"}, timeout=10,
    )  # fmt: skip
    assert reply.status_code == 400 and reply.headers["Seldon-Puid"] == "p-42"
    # the transformer's own 400 and body pass through unchanged (they used to be rewritten
    # with the node's name)
    reply = post(digits_served, "predictions", {"strData": "not an image"})
    assert reply.status_code == 400 and reply.json()["status"]["status"] == "FAILURE"


# ------------------------------------------------------------------------- faults
def test_kill_9_gives_fast_503s_then_recovery_without_restarting_the_gateway(
    toy_served: Served,
) -> None:
    victim = toy_served.nodes()["toy/main/scale"]["pid"]
    gateway_pid = toy_served.process.pid
    results: list[tuple[float, int, str, float]] = []
    stop = threading.Event()
    killed_at: list[float] = []

    def load() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                start = time.monotonic()
                reply = session.post(
                    f"{toy_served.url}/api/v1.0/predictions", json=tensor([1]), timeout=30
                )
                results.append((start, reply.status_code, reply.headers.get("Seldon-Predictor", ""),
                                time.monotonic() - start))  # fmt: skip

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        killed_at.append(time.monotonic())
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.2)
            recovered = [
                r for r in results if r[0] > killed_at[0] + 0.5 and r[1] == 200 and r[2] == "main"
            ]
            if toy_served.nodes()["toy/main/scale"]["restarts"] == 1 and len(recovered) > 20:
                break
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    after = [r for r in results if r[0] >= killed_at[0]]
    statuses = Counter((r[1], r[2]) for r in after)
    # 503: the node is known down (fast); 500: the executor's reply for a connection
    # refused before the runner noticed, as Seldon answers it
    assert set(s for s, _ in statuses) <= {200, 500, 503}, statuses
    assert statuses[(503, "main")] > 0, statuses  # requests routed to the dead node
    assert statuses[(503, "canary")] == statuses[(500, "canary")] == 0  # never affected
    assert max(r[3] for r in after) < 3.0 + 2.0  # nothing hangs beyond the node timeout (3 s)
    assert toy_served.process.poll() is None and toy_served.process.pid == gateway_pid
    assert toy_served.nodes()["toy/main/scale"]["restarts"] == 1
    reply = requests.post(
        f"{toy_served.url}/seldon/test/toy/api/v1.0/predictions", json=tensor([1, 2]), timeout=10
    )
    assert reply.status_code == 200
    assert requests.get(f"{toy_served.url}/health/ready", timeout=5).status_code == 200


def slow_manifest(tmp_path: Path) -> Path:
    doc = toy_manifest_doc(shadow=False)
    doc["spec"]["predictors"] = [{
        "name": "only", "traffic": 100,
        "graph": toy_node("slow", "MODEL", {"delay_s": ("FLOAT", "1.5")}),
        "componentSpecs": [{"spec": {"containers": [toy_container("slow", "Slow", "MODEL")]}}],
    }]  # fmt: skip
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_sigterm_drains_in_flight_requests_and_leaves_no_process(
    tmp_path: Path, log_dir: Path
) -> None:
    with serve_process(slow_manifest(tmp_path), log_dir) as served:
        assert len(marked_pids(served.marker)) > 2  # the gateway and the node's processes
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                requests.post, f"{served.url}/api/v1.0/predictions", json=tensor([2]), timeout=30
            )
            time.sleep(0.5)  # the request is in flight at the node
            code = stop_serve(served)
            reply = pending.result()
        assert code == 0, served.log()[-3000:]
        assert reply.status_code == 200 and reply.json()["data"]["tensor"]["values"] == [2.0]
        assert marked_pids(served.marker) == []
