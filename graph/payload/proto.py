"""``ProtoPayload``: a gRPC ``SeldonMessage`` (or a ``Feedback`` for feedback calls), and
the conversions of a payload to those protos.

The data part is never touched: a node's tensor, tftensor or binary reply goes on as it came.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.struct_pb2 import Value
from seldon_core.proto import prediction_pb2

from graph.payload.base import PROTO_CONTENT_TYPE, Payload, first_route
from model.errors import InvalidInput
from model.seldon.message import to_proto


class ProtoPayload(Payload):
    """A gRPC message: a ``SeldonMessage`` (or a ``Feedback`` for feedback calls)."""

    content_type = PROTO_CONTENT_TYPE

    def __init__(self, msg: prediction_pb2.SeldonMessage | prediction_pb2.Feedback) -> None:
        self._msg = msg

    @property
    def message(self) -> prediction_pb2.SeldonMessage | prediction_pb2.Feedback:
        return self._msg

    def to_bytes(self) -> bytes:
        return bytes(self._msg.SerializeToString())

    @classmethod
    def from_bytes(cls, data: bytes) -> ProtoPayload:
        try:
            return cls(prediction_pb2.SeldonMessage.FromString(data))
        except Exception as exc:  # protobuf raises DecodeError (a plain Exception)
            raise InvalidInput(f"body is not a SeldonMessage: {exc}") from exc

    def to_json(self) -> dict[str, Any]:
        return dict(json_format.MessageToDict(self._msg))

    def copy(self) -> ProtoPayload:
        clone = type(self._msg)()
        clone.CopyFrom(self._msg)
        return ProtoPayload(clone)

    @property
    def is_feedback(self) -> bool:
        return isinstance(self._msg, prediction_pb2.Feedback)

    @property
    def _meta(self) -> prediction_pb2.Meta:
        if isinstance(self._msg, prediction_pb2.Feedback):
            raise TypeError("a Feedback message has no meta of its own")
        return self._msg.meta

    def puid(self) -> str:
        return str(self._meta.puid)

    def set_puid(self, puid: str) -> None:
        self._meta.puid = puid

    def tags(self) -> dict[str, Any]:
        return {k: json_format.MessageToDict(v) for k, v in self._meta.tags.items()}

    def update_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self._meta.tags[key].CopyFrom(json_format.ParseDict(value, Value()))

    def metrics(self) -> list[dict[str, Any]]:
        return [dict(json_format.MessageToDict(m)) for m in self._meta.metrics]

    def add_metrics(self, metrics: Sequence[Mapping[str, Any]]) -> None:
        for metric in metrics:
            json_format.ParseDict(dict(metric), self._meta.metrics.add())

    def set_metrics(self, metrics: Sequence[Mapping[str, Any]]) -> None:
        del self._meta.metrics[:]
        self.add_metrics(metrics)

    def request_path(self) -> dict[str, str]:
        return dict(self._meta.requestPath)

    def update_request_path(self, path: Mapping[str, str]) -> None:
        self._meta.requestPath.update(path)

    def routing(self) -> dict[str, int]:
        return dict(self._meta.routing)

    def update_routing(self, routing: Mapping[str, int]) -> None:
        self._meta.routing.update(routing)

    def failure(self) -> dict[str, Any] | None:
        msg = self._msg
        if (
            isinstance(msg, prediction_pb2.SeldonMessage)
            and msg.HasField("status")
            and msg.status.status == prediction_pb2.Status.FAILURE
        ):
            return dict(json_format.MessageToDict(self._msg.status))
        return None

    def route_value(self) -> int:
        msg = self._msg
        if not isinstance(msg, prediction_pb2.SeldonMessage) or not msg.HasField("data"):
            return -1
        kind = msg.data.WhichOneof("data_oneof")
        if kind == "tftensor":
            values: list[Any] = list(msg.data.tftensor.int_val)
            if not values:
                raise InvalidInput("router replied with an empty route")
            return int(values[0])
        if kind == "tensor":
            return first_route({"data": {"tensor": {"values": list(msg.data.tensor.values)}}})
        if kind == "ndarray":
            ndarray = json_format.MessageToDict(msg.data.ndarray)
            return first_route({"data": {"ndarray": ndarray}})
        return -1

    def feedback_routing(self) -> dict[str, int]:
        if isinstance(self._msg, prediction_pb2.Feedback):
            return dict(self._msg.response.meta.routing)
        return {}

    @staticmethod
    def aggregate_body(payloads: Sequence[Payload]) -> prediction_pb2.SeldonMessageList:
        """The gRPC ``Aggregate`` request for the children's replies."""
        out = prediction_pb2.SeldonMessageList()
        for payload in payloads:
            out.seldonMessages.append(message_proto(payload))
        return out


def message_proto(payload: Payload) -> prediction_pb2.SeldonMessage:
    """The payload as a ``SeldonMessage`` (a REST request on its way to a gRPC node); a body
    that is valid JSON but no valid SeldonMessage is the client's error."""
    msg = payload.message
    if isinstance(msg, prediction_pb2.SeldonMessage):
        return msg
    try:
        return to_proto(payload.to_json())
    except json_format.ParseError as exc:
        raise InvalidInput(f"not a valid SeldonMessage: {exc}") from exc


def feedback_proto(body: Mapping[str, Any]) -> prediction_pb2.Feedback:
    """A ``Feedback`` proto from its JSON form (what the wrapper's REST handler does)."""
    try:
        return json_format.ParseDict(dict(body), prediction_pb2.Feedback())
    except json_format.ParseError as exc:
        raise InvalidInput(f"invalid feedback message: {exc}") from exc
