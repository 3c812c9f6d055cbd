"""The drift detector as users run it: ``seldon-core-microservice model.drift.DriftDetector``.

One process for the module (REST, gRPC and metrics on free loopback ports), window 16.
The REST (Gunicorn) worker and the gRPC worker are separate processes, each with its own
buffer and detector, so each transport is driven to a verdict on its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from model.artifacts import load_metadata
from model.images import normalise
from model.seldon.tensors import array_to_tensor_proto
from tests.fixtures.processes import Microservice, microservice, scrape_until

pytestmark = pytest.mark.slow

WINDOW = 16
BATCH = 8
DRIFT_TAGS = {"drift.is_drift", "drift.p_value", "drift.distance", "drift.window"}
CE_HEADERS = {
    "ce-specversion": "1.0",
    "ce-id": "test-1",
    "ce-source": "http://executor/predictor",
    "ce-requestid": "test-1",
    "ce-modelid": "classifier",
    "ce-inferenceservicename": "digits",
    "ce-namespace": "default",
    "ce-endpoint": "default",
}


@pytest.fixture(scope="module")
def service(artifacts_dir: Path, log_dir: Path) -> Iterator[Microservice]:
    parameters = [
        {"name": "model_uri", "type": "STRING", "value": str(artifacts_dir / "v1")},
        {"name": "window_size", "type": "INT", "value": str(WINDOW)},
        {"name": "n_permutations", "type": "INT", "value": "100"},
    ]
    with microservice(
        "model.drift.DriftDetector", "TRANSFORMER", parameters, log_dir=log_dir
    ) as running:
        yield running


@pytest.fixture(scope="module")
def shifted(artifacts_dir: Path) -> np.ndarray:
    meta = load_metadata(artifacts_dir / "v1")
    with np.load(artifacts_dir / "examples" / "shifted.npz", allow_pickle=False) as npz:
        images = npz["images"]
    return normalise(images[:, None] / 255.0, meta.mean, meta.std, 32)


def tensor_message(x: np.ndarray) -> dict[str, Any]:
    return {"data": {"tensor": {"shape": list(x.shape), "values": x.ravel().tolist()}}}


def batches(x: np.ndarray, count: int) -> Iterator[np.ndarray]:
    for i in range(count):
        start = (i * BATCH) % (len(x) - BATCH)
        yield x[start : start + BATCH]


def status(service: Microservice) -> dict[str, Any]:
    reply = requests.get(f"{service.url}/health/status", timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["jsonData"]


def test_rest_transform_input_passes_data_through_and_tags_drift(
    service: Microservice, shifted: np.ndarray
) -> None:
    message = tensor_message(shifted[:BATCH])
    message["meta"] = {"puid": "abc", "tags": {"upstream": "kept"}}
    reply = requests.post(f"{service.url}/transform-input", json=message, timeout=10)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["data"] == message["data"]
    assert body["meta"]["puid"] == "abc"
    assert body["meta"]["tags"]["upstream"] == "kept"
    assert set(body["meta"]["tags"]) >= DRIFT_TAGS
    keys = {m["key"] for m in body["meta"]["metrics"]}
    assert {"seldon_metric_drift_threshold", "drift_windows_tested"} <= keys


def drive_rest_to_drift(service: Microservice, shifted: np.ndarray) -> dict[str, Any]:
    """Send shifted batches until a reply's tags show a drift verdict (bounded); its tags."""
    tags: dict[str, Any] = {}
    for x in batches(shifted, 40):
        reply = requests.post(f"{service.url}/transform-input", json=tensor_message(x), timeout=10)
        assert reply.status_code == 200, reply.text
        tags = reply.json()["meta"]["tags"]
        if tags["drift.is_drift"] and tags["drift.window"] >= 1:
            break
        time.sleep(0.25)
    return tags


def test_rest_replies_report_drift_after_enough_shifted_instances(
    service: Microservice, shifted: np.ndarray
) -> None:
    tags = drive_rest_to_drift(service, shifted)
    assert tags["drift.is_drift"] is True, tags
    assert tags["drift.window"] >= 1
    assert tags["drift.p_value"] < 0.05


def test_grpc_transform_input_passes_tftensor_through_and_tags_drift(
    service: Microservice, shifted: np.ndarray
) -> None:
    with grpc.insecure_channel(service.grpc_target) as channel:
        stub = prediction_pb2_grpc.TransformerStub(channel)
        tags: dict[str, Any] = {}
        for x in batches(shifted, 40):
            request = prediction_pb2.SeldonMessage(
                data=prediction_pb2.DefaultData(tftensor=array_to_tensor_proto(x))
            )
            reply = stub.TransformInput(request, timeout=10)
            assert reply.data.tftensor == request.data.tftensor
            tags = {k: _value(v) for k, v in reply.meta.tags.items()}
            assert set(tags) >= DRIFT_TAGS
            if tags["drift.is_drift"] and tags["drift.window"] >= 1:
                break
            time.sleep(0.25)
    assert tags["drift.is_drift"] is True, tags
    assert tags["drift.window"] >= 1


def test_grpc_bad_input_is_invalid_argument(service: Microservice) -> None:
    bad = np.zeros((2, 1, 32, 32), np.float32)
    with grpc.insecure_channel(service.grpc_target) as channel:
        stub = prediction_pb2_grpc.TransformerStub(channel)
        request = prediction_pb2.SeldonMessage(
            data=prediction_pb2.DefaultData(tftensor=array_to_tensor_proto(bad))
        )
        with pytest.raises(grpc.RpcError) as err:
            stub.TransformInput(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "does not match (N, 3, 32, 32)" in json.loads(err.value.details())["status"]["info"]


def _post_logged(service: Microservice, images: np.ndarray, ce_type: str) -> requests.Response:
    """What Seldon's request logger posts: the message with CloudEvents headers."""
    return requests.post(
        f"{service.url}/api/v1.0/predictions",
        json=tensor_message(images),
        headers={**CE_HEADERS, "ce-type": ce_type},
        timeout=10,
    )


def test_logged_request_cloudevent_is_accepted_and_counted(
    service: Microservice, shifted: np.ndarray
) -> None:
    before = status(service)["instances_received"]
    reply = _post_logged(service, shifted[:BATCH], "io.seldon.serving.inference.request")
    assert reply.status_code == 200, reply.text
    assert set(reply.json()["jsonData"]) >= DRIFT_TAGS
    assert status(service)["instances_received"] == before + BATCH


def test_logged_response_cloudevent_is_acknowledged_but_not_added(
    service: Microservice, shifted: np.ndarray
) -> None:
    before = status(service)["instances_received"]
    reply = _post_logged(service, shifted[:BATCH], "io.seldon.serving.inference.response")
    assert reply.status_code == 200, reply.text
    assert status(service)["instances_received"] == before


def test_metrics_endpoint_exposes_drift_gauges_and_counters(
    service: Microservice, shifted: np.ndarray
) -> None:
    assert drive_rest_to_drift(service, shifted)["drift.is_drift"] is True
    text = scrape_until(
        service.metrics_url,
        lambda text: _samples(text).get("drift_windows_tested_total", 0) >= 1,
    )
    samples = _samples(text)
    for gauge in ("p_val", "distance", "is_drift", "threshold"):
        assert f"seldon_metric_drift_{gauge}" in samples, text[:2000]
    assert samples["seldon_metric_drift_threshold"] == pytest.approx(0.05)
    assert samples["seldon_metric_drift_is_drift"] == 1.0
    assert samples["drift_windows_tested_total"] >= 1
    assert samples["seldon_metric_drift_counter_total"] >= 1
    assert "drift_instances_dropped_total" in samples


def test_bad_input_gets_400_with_status_and_the_service_keeps_answering(
    service: Microservice, shifted: np.ndarray
) -> None:
    bad: dict[str, Any] = {"data": {"tensor": {"shape": [1, 3, 32, 32], "values": [0.0, 1.0]}}}
    reply = requests.post(f"{service.url}/transform-input", json=bad, timeout=10)
    assert reply.status_code == 400
    body = reply.json()["status"]
    assert body["status"] == "FAILURE" and "holds 2 values" in body["info"]
    reply = requests.post(f"{service.url}/transform-input", json={"strData": "x"}, timeout=10)
    assert reply.status_code == 400 and "no data object" in reply.json()["status"]["info"]
    good = requests.post(
        f"{service.url}/transform-input", json=tensor_message(shifted[:1]), timeout=10
    )
    assert good.status_code == 200
    assert requests.get(f"{service.url}/health/ping", timeout=10).text == "pong"


def _value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    return {"bool_value": value.bool_value, "number_value": value.number_value}.get(kind)


def _samples(text: str) -> dict[str, float]:
    """Metric name -> the value of its series in this process's inputtransform method."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or "drift" not in line or 'method="inputtransform"' not in line:
            continue
        name = line.split("{", 1)[0]
        out[name] = float(line.rsplit(" ", 1)[1])
    return out
