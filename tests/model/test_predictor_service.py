"""TorchPredictor served by a real ``seldon-core-microservice`` (REST and gRPC)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from model.artifacts import WEIGHTS, load_metadata
from model.errors import Unavailable
from model.images import normalise
from model.inference import InferenceModel, load_model
from model.seldon.tensors import array_to_tensor_proto, tensor_proto_to_array
from model.settings import PredictorSettings, build_settings
from tests.fixtures.processes import Microservice, microservice, scrape_until

pytestmark = pytest.mark.slow
PREDICTOR = "model.predictor.TorchPredictor"
THREADS = ["--threads", "32", "--grpc-threads", "32"]
CLASSES = [str(i) for i in range(10)]


def settings(model_uri: str, **params: Any) -> PredictorSettings:
    return build_settings(PredictorSettings, "TorchPredictor", {"model_uri": model_uri, **params})


@pytest.fixture(scope="module")
def inputs(artifacts_dir: Path) -> np.ndarray:
    """64 held-out digits, normalised as the transformer sends them."""
    meta = load_metadata(artifacts_dir / "v1")
    with np.load(artifacts_dir / "examples" / "heldout.npz") as data:
        images = data["images"][:64]
    x = images[:, None].astype(np.float32) / meta.pixel_scale
    return normalise(x, meta.mean, meta.std, meta.image_size)


@pytest.fixture(scope="module")
def reference(artifacts_dir: Path) -> InferenceModel:
    return load_model(settings(str(artifacts_dir / "v1"), device="cpu"))


@pytest.fixture(scope="module")
def service(artifacts_dir: Path, log_dir: Path) -> Iterator[Microservice]:
    params = [  # typed the way a SeldonDeployment's node parameters arrive
        {"name": "model_uri", "type": "STRING", "value": str(artifacts_dir / "v1")},
        {"name": "batching", "type": "BOOL", "value": "true"},
        {"name": "max_batch_size", "type": "INT", "value": "32"},
        {"name": "max_delay_ms", "type": "FLOAT", "value": "2.0"},
        {"name": "device", "type": "STRING", "value": "auto"},
    ]
    env = {"OMP_NUM_THREADS": "1"}  # as the manifest sets it from the container's CPU limit
    with microservice(
        PREDICTOR, "MODEL", params, log_dir=log_dir, env=env, extra_args=THREADS
    ) as svc:
        yield svc


@pytest.fixture(scope="module")
def stub(service: Microservice) -> Iterator[prediction_pb2_grpc.ModelStub]:
    with grpc.insecure_channel(service.grpc_target) as channel:
        yield prediction_pb2_grpc.ModelStub(channel)


def rest_predict(service: Microservice, body: Any) -> requests.Response:
    return requests.post(f"{service.url}/api/v1.0/predictions", json=body, timeout=60)


def tensor_body(x: np.ndarray) -> dict[str, Any]:
    return {"data": {"tensor": {"shape": list(x.shape), "values": x.ravel().tolist()}}}


def rest_probs(reply: dict[str, Any]) -> np.ndarray:
    tensor = reply["data"]["tensor"]
    return np.asarray(tensor["values"]).reshape(tensor["shape"])


def grpc_message(x: np.ndarray) -> prediction_pb2.SeldonMessage:
    return prediction_pb2.SeldonMessage(
        data=prediction_pb2.DefaultData(tftensor=array_to_tensor_proto(x))
    )


def metric(metrics: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(m for m in metrics if m["key"] == key)


def test_rest_reply_matches_in_process_model(
    service: Microservice, reference: InferenceModel, inputs: np.ndarray
) -> None:
    x = inputs[:4]
    reply = rest_predict(service, {**tensor_body(x), "meta": {"tags": {"caller": "test"}}})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    np.testing.assert_allclose(rest_probs(body), reference.run(x), atol=1e-4)
    assert body["data"]["names"] == CLASSES
    assert body["meta"]["tags"] == {"caller": "test", "model_version": "v1"}
    metrics = body["meta"]["metrics"]
    assert metric(metrics, "batch_size")["type"] == "GAUGE"
    assert metric(metrics, "batch_size")["value"] >= 4
    assert metric(metrics, "requests") == {"key": "requests", "type": "COUNTER", "value": 1}
    assert {metric(metrics, k)["type"] for k in ("queue_wait_ms", "inference_ms")} == {"TIMER"}


def test_health_status_reports_the_loaded_model(service: Microservice) -> None:
    reply = requests.get(f"{service.url}/health/status", timeout=10)
    assert reply.status_code == 200
    assert reply.json()["jsonData"]["model_version"] == "v1"
    assert reply.json()["jsonData"]["cpu_threads"] == 1  # torch follows the container's env


def test_grpc_tftensor_reply_matches_in_process_model(
    stub: prediction_pb2_grpc.ModelStub, reference: InferenceModel, inputs: np.ndarray
) -> None:
    x = inputs[4:7]
    reply = stub.Predict(grpc_message(x), timeout=60)
    np.testing.assert_allclose(
        tensor_proto_to_array(reply.data.tftensor), reference.run(x), atol=1e-4
    )
    assert list(reply.data.names) == CLASSES
    assert reply.meta.tags["model_version"].string_value == "v1"
    assert {m.key for m in reply.meta.metrics} >= {"batch_size", "queue_wait_ms", "inference_ms"}


def _in_parallel(n: int, call: Any) -> list[Any]:
    """Run ``call(i)`` for i < n in n threads released together; return results in order."""
    results: list[Any] = [None] * n
    start = threading.Barrier(n)

    def worker(i: int) -> None:
        start.wait()
        try:
            results[i] = call(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_parallel_requests_share_batches_and_each_gets_its_own_reply(
    transport: str,
    service: Microservice,
    stub: prediction_pb2_grpc.ModelStub,
    reference: InferenceModel,
    inputs: np.ndarray,
) -> None:
    expected = reference.run(inputs)

    def call(i: int) -> tuple[np.ndarray, float]:
        x = inputs[2 * i : 2 * i + 1 + i % 2]  # 1 or 2 different images per request
        if transport == "rest":
            reply = rest_predict(service, tensor_body(x))
            assert reply.status_code == 200, reply.text
            body = reply.json()
            return rest_probs(body), metric(body["meta"]["metrics"], "batch_size")["value"]
        proto = stub.Predict(grpc_message(x), timeout=60)
        size = next(m.value for m in proto.meta.metrics if m.key == "batch_size")
        return tensor_proto_to_array(proto.data.tftensor), size

    sizes = []
    for _ in range(2):  # two rounds of 32 parallel requests
        results = _in_parallel(32, call)
        for i, result in enumerate(results):
            assert not isinstance(result, Exception), result
            probs, size = result
            np.testing.assert_allclose(probs, expected[2 * i : 2 * i + 1 + i % 2], atol=1e-4)
            sizes.append(size)
    assert max(sizes) > 2  # more than one request's samples in one batch


BAD_REST = [
    ("wrong shape", tensor_body(np.zeros((1, 3, 28, 28))), "expected shape (N, 3, 32, 32)"),
    ("nan", {"data": {"ndarray": np.full((1, 3, 32, 32), np.nan).tolist()}}, "NaN"),
    ("strings", {"data": {"ndarray": [["a", "b"]]}}, "strings"),
    ("empty ndarray", {"data": {"ndarray": []}}, "expected shape"),
    ("empty tensor", {"data": {"tensor": {"shape": [0, 3, 32, 32], "values": []}}}, "at least"),
    ("ragged", {"data": {"ndarray": [[1.0, 2.0], [3.0]]}}, "ragged"),
    ("count mismatch", {"data": {"tensor": {"shape": [1, 3, 32, 32], "values": [1.0]}}}, "3072"),
    ("strData", {"strData": "hello"}, "strData"),
]


@pytest.mark.parametrize(("name", "body", "info"), BAD_REST, ids=[b[0] for b in BAD_REST])
def test_bad_rest_input_is_a_400_naming_the_problem(
    service: Microservice, inputs: np.ndarray, name: str, body: Any, info: str
) -> None:
    reply = requests.post(
        f"{service.url}/api/v1.0/predictions",
        data=json.dumps(body),  # allow_nan: the NaN case sends a bare NaN token
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert reply.status_code == 400, reply.text
    status = reply.json()["status"]
    assert info in status["info"]
    assert status["status"] == "FAILURE"
    assert rest_predict(service, tensor_body(inputs[:1])).status_code == 200


def test_too_many_samples_is_a_413(service: Microservice) -> None:
    reply = rest_predict(service, tensor_body(np.zeros((257, 3, 32, 32), np.float32)))
    assert reply.status_code == 413, reply.text
    assert "max_request_size" in reply.json()["status"]["info"]


@pytest.mark.parametrize(
    ("x", "info"),
    [
        (np.zeros((2, 1, 32, 32), np.float32), "got (2, 1, 32, 32)"),
        (np.full((1, 3, 32, 32), np.inf, np.float32), "NaN or infinite"),
        (np.zeros((0, 3, 32, 32), np.float32), "at least one sample"),
    ],
)
def test_bad_grpc_input_is_invalid_argument(
    stub: prediction_pb2_grpc.ModelStub, inputs: np.ndarray, x: np.ndarray, info: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(grpc_message(x), timeout=60)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info in json.loads(caught.value.details())["status"]["info"]
    assert stub.Predict(grpc_message(inputs[:1]), timeout=60).data.tftensor.tensor_content


def test_custom_metrics_reach_the_metrics_endpoint(
    service: Microservice, inputs: np.ndarray
) -> None:
    assert rest_predict(service, tensor_body(inputs[:1])).status_code == 200
    text = scrape_until(
        service.metrics_url,
        lambda text: "queue_wait_ms" in text and "batch_size" in text,
    )
    assert "queue_wait_ms" in text and "batch_size" in text


def test_tampered_weights_stop_the_server_from_starting(
    artifacts_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "v1"
    shutil.copytree(artifacts_dir / "v1", target)
    weights = target / WEIGHTS
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    logs = tmp_path / "logs"
    logs.mkdir()
    params = [{"name": "model_uri", "type": "STRING", "value": str(target)}]
    with (
        pytest.raises(Unavailable, match="exited with"),
        microservice(PREDICTOR, "MODEL", params, log_dir=logs, ready_timeout=120),
    ):
        pass
    log = "".join(p.read_text(errors="replace") for p in logs.iterdir())
    assert "sha256 mismatch" in log
