"""DriftDetector adapter and its input check, in process, with a fake window test.

The real detector (alibi-detect) is exercised in test_drift_quality.py and
test_drift_service.py; here ``build_window_test`` is replaced so the adapter's own logic
(pass-through, tags, metric deltas, the logger sink, errors) is tested quickly.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from flask import Flask
from seldon_core.proto import prediction_pb2

import model.drift.mmd
from model.drift import DriftDetector
from model.drift.instances import instances
from model.drift.worker import WindowResult
from model.errors import InvalidInput, Unavailable
from model.seldon.tensors import array_to_tensor_proto

SHAPE = (3, 4, 4)
WINDOW = 4


class FakeTest:
    """Drift when the window mean is positive; p-value and distance derived from it."""

    input_shape = SHAPE
    reference_size = 10

    def __call__(self, x: np.ndarray) -> WindowResult:
        mean = float(x.mean())
        return WindowResult(mean > 0, 0.01 if mean > 0 else 0.8, mean, 0.05)


@pytest.fixture
def detector(monkeypatch: pytest.MonkeyPatch) -> Iterator[DriftDetector]:
    monkeypatch.setattr(model.drift.mmd, "build_window_test", lambda settings: FakeTest())
    component = DriftDetector(model_uri="unused", window_size=WINDOW, buffer_windows=2)
    component.load()
    yield component
    component.close()


def rest(x: np.ndarray) -> dict[str, Any]:
    return {"data": {"tensor": {"shape": list(x.shape), "values": x.ravel().tolist()}}}


def proto(x: np.ndarray) -> prediction_pb2.SeldonMessage:
    return prediction_pb2.SeldonMessage(
        data=prediction_pb2.DefaultData(tftensor=array_to_tensor_proto(x))
    )


def settle(component: DriftDetector) -> None:
    assert component._worker is not None and component._worker.wait_idle(30)


def test_health_and_methods_are_unavailable_before_load() -> None:
    component = DriftDetector(model_uri="unused")
    with pytest.raises(Unavailable):
        component.health_status()
    with pytest.raises(Unavailable):
        component.transform_input_raw(rest(np.zeros((1, *SHAPE), np.float32)))


def test_rest_reply_is_the_request_with_drift_tags_and_only_our_metrics(
    detector: DriftDetector,
) -> None:
    message = rest(np.ones((WINDOW, *SHAPE), np.float32))
    message["meta"] = {"tags": {"keep": 1}, "metrics": [{"key": "upstream", "value": 1}]}
    data = json.loads(json.dumps(message["data"]))
    reply = detector.transform_input_raw(message)
    assert reply is message and reply["data"] == data
    assert reply["meta"]["tags"]["keep"] == 1
    assert reply["meta"]["tags"]["drift.window"] == 0
    assert "upstream" not in {m["key"] for m in reply["meta"]["metrics"]}
    settle(detector)
    tags = detector.transform_input_raw(rest(np.zeros((1, *SHAPE), np.float32)))["meta"]["tags"]
    assert tags == {
        "drift.is_drift": True,
        "drift.p_value": 0.01,
        "drift.distance": 1.0,
        "drift.window": 1,
    }


def test_counters_are_increments_that_add_up_to_the_totals(detector: DriftDetector) -> None:
    totals: dict[str, float] = {}
    for sign in (1, -1, 1, 1):
        reply = detector.transform_input_raw(rest(sign * np.ones((WINDOW, *SHAPE), np.float32)))
        for metric in reply["meta"]["metrics"]:
            if metric["type"] == "COUNTER":
                totals[metric["key"]] = totals.get(metric["key"], 0) + metric["value"]
        settle(detector)
    final = detector.transform_input_raw(rest(np.zeros((0, *SHAPE), np.float32)))
    for metric in final["meta"]["metrics"]:
        if metric["type"] == "COUNTER":
            totals[metric["key"]] = totals.get(metric["key"], 0) + metric["value"]
    assert totals["drift_windows_tested"] == 4
    assert totals["seldon_metric_drift_counter"] == 3
    assert totals["drift_instances_dropped"] == 0
    gauges = {m["key"]: m["value"] for m in final["meta"]["metrics"] if m["type"] == "GAUGE"}
    assert gauges["seldon_metric_drift_is_drift"] == 1.0


def test_grpc_reply_is_the_same_proto_with_tags(detector: DriftDetector) -> None:
    message = proto(np.ones((2, *SHAPE), np.float32))
    content = message.data.tftensor.tensor_content
    reply = detector.transform_input_raw(message)
    assert reply is message and reply.data.tftensor.tensor_content == content
    assert reply.meta.tags["drift.window"].number_value == 0
    assert reply.meta.tags["drift.p_value"].WhichOneof("kind") == "null_value"
    assert {m.key for m in reply.meta.metrics} >= {"drift_windows_tested"}


def test_logger_sink_adds_requests_and_ignores_logged_responses(detector: DriftDetector) -> None:
    app = Flask(__name__)
    x = np.ones((WINDOW, *SHAPE), np.float32)
    with app.test_request_context(headers={"ce-type": "io.seldon.serving.inference.response"}):
        reply = detector.predict_raw(rest(x))
    assert reply["jsonData"]["drift.window"] == 0
    assert detector.health_status()["instances_received"] == 0
    event = {"specversion": "1.0", "type": "io.seldon.serving.inference.request", "data": rest(x)}
    with app.test_request_context(headers={"ce-type": "io.seldon.serving.inference.request"}):
        detector.predict_raw(event)  # structured mode: the message is in data
    assert detector.health_status()["instances_received"] == WINDOW


def test_logger_sink_takes_a_passthrough_protobuf_body(detector: DriftDetector) -> None:
    app = Flask(__name__)
    body = proto(np.ones((3, *SHAPE), np.float32)).SerializeToString()
    with app.test_request_context(content_type="application/protobuf"):
        reply = detector.predict_raw(body)
    parsed = prediction_pb2.SeldonMessage.FromString(reply)
    assert parsed.jsonData.struct_value["drift.window"] == 0
    assert detector.health_status()["instances_received"] == 3


def test_a_full_buffer_drops_instead_of_failing_the_request(detector: DriftDetector) -> None:
    big = rest(np.zeros((5 * WINDOW, *SHAPE), np.float32))
    assert detector.transform_input_raw(big)["data"] is big["data"]
    settle(detector)
    assert detector.health_status()["instances_dropped"] == 3 * WINDOW


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"strData": "hello"}, "no data object"),
        ({"data": {"tensor": {"shape": [1, 3, 4, 4], "values": [0.0]}}}, "holds 1 values"),
        ({"data": {"tensor": {"shape": [1, 3, 16], "values": [0.0] * 48}}}, "does not match"),
        ({"data": {"tensor": {"shape": [1, 1, 4, 4], "values": [0.0] * 16}}}, "does not match"),
        ({"data": {"ndarray": [[[1.0]]]}}, "does not match"),
        ({"data": {"tensor": {"shape": "x", "values": []}}}, "non-negative integers"),
        ({"data": {"tftensor": {"dtype": "DT_STRING"}}}, "DT_FLOAT"),
        ({"data": {"tensor": {}, "ndarray": []}}, "exactly one"),
        ([1, 2], "JSON object"),
    ],
)
def test_unusable_inputs_are_invalid_input_naming_the_problem(message: Any, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        instances(message, SHAPE)


@pytest.mark.parametrize("kind", ["tensor", "ndarray", "rest-tftensor", "grpc-tftensor"])
def test_every_accepted_encoding_decodes_to_the_instances(kind: str) -> None:
    x = np.arange(2 * 48, dtype=np.float32).reshape(2, *SHAPE)
    if kind == "tensor":
        message: Any = rest(x)
    elif kind == "ndarray":
        message = {"data": {"ndarray": x.tolist()}}
    elif kind == "rest-tftensor":
        content = base64.b64encode(x.astype("<f4").tobytes()).decode()
        dims = [{"size": str(n)} for n in x.shape]
        message = {
            "data": {
                "tftensor": {
                    "dtype": "DT_FLOAT",
                    "tensorShape": {"dim": dims},
                    "tensorContent": content,
                }
            }
        }
    else:
        message = proto(x)
    count, decode = instances(message, SHAPE)
    assert count == 2
    np.testing.assert_array_equal(decode(), x)


@pytest.fixture
def node_ids(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The ids the operator gives the drift node's container (PREDICTIVE_UNIT_ID/IMAGE)."""
    monkeypatch.setenv("PREDICTIVE_UNIT_ID", "drift")
    monkeypatch.setenv("PREDICTIVE_UNIT_IMAGE", "reg:5000/digits:1.0")
    return {"drift": "reg:5000/digits:1.0"}


def test_rest_pass_through_adds_itself_to_request_path(
    detector: DriftDetector, node_ids: dict[str, str]
) -> None:
    """seldon_core/utils.py get_request_path + seldon_methods.py: the wrapper adds nothing
    to a *_raw reply, so the node adds {PREDICTIVE_UNIT_ID: PREDICTIVE_UNIT_IMAGE} itself,
    under the incoming entries (incoming wins on a clash, as utils.construct_response)."""
    message = rest(np.zeros((1, *SHAPE)))
    message["meta"] = {"requestPath": {"transformer": "img:2", "drift": "upstream:9"}}
    reply = detector.transform_input_raw(message)
    assert reply["meta"]["requestPath"] == {"transformer": "img:2", "drift": "upstream:9"}
    reply = detector.transform_input_raw(rest(np.zeros((1, *SHAPE))))
    assert reply["meta"]["requestPath"] == node_ids


def test_grpc_pass_through_adds_itself_to_request_path(
    detector: DriftDetector, node_ids: dict[str, str]
) -> None:
    message = proto(np.zeros((1, *SHAPE), dtype=np.float32))
    message.meta.requestPath["transformer"] = "img:2"
    reply = detector.transform_input_raw(message)
    assert dict(reply.meta.requestPath) == {**node_ids, "transformer": "img:2"}


def test_logger_sink_reply_names_the_node(
    detector: DriftDetector, node_ids: dict[str, str]
) -> None:
    reply = detector.predict_raw(rest(np.zeros((1, *SHAPE))))
    assert reply["meta"]["requestPath"] == node_ids
