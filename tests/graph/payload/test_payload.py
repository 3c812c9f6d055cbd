"""The transport-neutral message: meta access and merge, routes, failures, bytes."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from seldon_core.proto import prediction_pb2
from seldon_core.utils import json_to_seldon_message

from graph.payload import JsonPayload, Payload, ProtoPayload, feedback_proto, message_proto
from model.errors import InvalidInput


def both(body: dict[str, Any]) -> list[Payload]:
    return [JsonPayload(body), ProtoPayload(json_to_seldon_message(body))]


@pytest.mark.parametrize("payload", both({"data": {"tensor": {"shape": [1], "values": [1]}}}))
def test_meta_setters_and_getters_agree_across_transports(payload: Payload) -> None:
    payload.set_puid("p1")
    payload.update_tags({"a": 1, "b": "x"})
    payload.update_tags({"a": 2})
    payload.add_metrics([{"key": "k", "type": "GAUGE", "value": 3}])
    payload.update_request_path({"node": "img:1"})
    payload.update_routing({"router": 1})
    assert payload.puid() == "p1"
    assert payload.tags() == {"a": 2, "b": "x"}
    assert [(m["key"], m["type"], m["value"]) for m in payload.metrics()] == [("k", "GAUGE", 3)]
    assert payload.request_path() == {"node": "img:1"}
    assert payload.routing() == {"router": 1}


@pytest.mark.parametrize(
    ("body", "route"),
    [
        ({"data": {"ndarray": [[2]]}}, 2),
        ({"data": {"ndarray": [1]}}, 1),
        ({"data": {"tensor": {"shape": [1, 1], "values": [-2]}}}, -2),
        ({"data": {"names": []}}, -1),
        ({"strData": "x"}, -1),
    ],
)
def test_route_value_reads_seldons_route_reply(body: dict[str, Any], route: int) -> None:
    for payload in both(body):
        assert payload.route_value() == route


def test_route_value_from_tftensor_and_bare_list() -> None:
    msg = prediction_pb2.SeldonMessage()
    msg.data.tftensor.dtype = 3  # DT_INT32
    msg.data.tftensor.int_val.append(1)
    assert ProtoPayload(msg).route_value() == 1
    assert JsonPayload({"data": {"tftensor": {"intVal": [0]}}}).route_value() == 0


def test_unreadable_route_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="empty route"):
        JsonPayload({"data": {"ndarray": []}}).route_value()
    with pytest.raises(InvalidInput, match="non-integer"):
        JsonPayload({"data": {"ndarray": ["a"]}}).route_value()


def test_failure_is_detected_in_both_spellings() -> None:
    ours = {"status": {"code": 400, "info": "bad", "reason": "R", "status": "FAILURE"}}
    seldons = {"status": {"code": -1, "info": "bad", "reason": "R", "status": 1}}
    for body in (ours, seldons):
        assert JsonPayload(body).failure() is not None
        assert ProtoPayload(json_to_seldon_message(body)).failure() is not None
    assert JsonPayload({"status": {"status": "SUCCESS"}}).failure() is None
    assert ProtoPayload(prediction_pb2.SeldonMessage()).failure() is None


def test_bytes_round_trip_and_bad_bytes() -> None:
    body = {"data": {"tensor": {"shape": [2], "values": [1.5, 2.5]}}, "meta": {"puid": "x"}}
    assert JsonPayload.from_bytes(JsonPayload(body).to_bytes()).message == body
    proto = ProtoPayload(json_to_seldon_message(body))
    assert ProtoPayload.from_bytes(proto.to_bytes()).message == proto.message
    with pytest.raises(InvalidInput, match="not valid JSON"):
        JsonPayload.from_bytes(b"{nope")
    with pytest.raises(InvalidInput, match="JSON object"):
        JsonPayload.from_bytes(b"[1, 2]")


def test_aggregate_bodies_list_the_children_in_order() -> None:
    replies = both({"data": {"ndarray": [1]}})[:1] + both({"data": {"ndarray": [2]}})[1:]
    as_json = JsonPayload.aggregate_body(replies)
    assert [m["data"]["ndarray"] for m in as_json["seldonMessages"]] == [[1], [2.0]]
    as_proto = ProtoPayload.aggregate_body(replies)
    assert len(as_proto.seldonMessages) == 2


def test_feedback_routing_and_detection() -> None:
    body = {"request": {"data": {"ndarray": [1]}}, "response": {"meta": {"routing": {"r": 1}}}}
    assert JsonPayload(body).is_feedback and JsonPayload(body).feedback_routing() == {"r": 1}
    proto = ProtoPayload(feedback_proto(body))
    assert proto.is_feedback and proto.feedback_routing() == {"r": 1}
    assert not JsonPayload({"data": {"ndarray": [1]}}).is_feedback


def test_copy_is_independent() -> None:
    for payload in both({"data": {"ndarray": [1]}}):
        clone = payload.copy()
        clone.update_tags({"x": 1})
        assert payload.tags() == {} and clone.tags() == {"x": 1}


def test_a_rest_body_that_is_no_seldon_message_is_invalid_input_for_a_grpc_node() -> None:
    body = {"data": {"tensor": {"shape": [1], "values": [1]}, "ndarray": [[1]]}}
    with pytest.raises(InvalidInput, match="not a valid SeldonMessage"):
        message_proto(JsonPayload(body))
    converted = message_proto(JsonPayload({"data": {"tensor": {"shape": [1], "values": [2.5]}}}))
    assert list(converted.data.tensor.values) == [2.5]


def test_json_bodies_round_trip_and_non_finite_numbers_survive_a_hop() -> None:
    body = b'{"data": {"tensor": {"shape": [1, 2], "values": [0.25, -1e-07]}}, "meta": {}}'
    assert json.loads(JsonPayload.from_bytes(body).to_bytes()) == json.loads(body)
    lenient = JsonPayload.from_bytes(b'{"data": {"ndarray": [NaN, Infinity]}}')
    assert lenient.lenient and lenient.copy().lenient
    assert b"NaN" in lenient.to_bytes() and b"Infinity" in lenient.to_bytes()


def test_undecodable_json_bodies_are_invalid_input() -> None:
    for raw in (b"{", b"[" * 100_000 + b"]" * 100_000, b"\xff"):
        with pytest.raises(InvalidInput):
            JsonPayload.from_bytes(raw)


def test_a_message_nested_too_deeply_to_encode_is_the_senders_error() -> None:
    deep: list[Any] = []
    for _ in range(sys.getrecursionlimit() + 100):
        deep = [deep]
    payload = JsonPayload({"data": {"ndarray": deep}})
    for encode in (payload.json_bytes, payload.to_bytes):
        with pytest.raises(InvalidInput, match="nested too deeply to encode"):
            encode()
