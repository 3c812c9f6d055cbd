"""The message that travels between graph nodes, whatever the transport.

``JsonPayload`` wraps a parsed REST body (a dict, parsed once, encoded once per hop);
``ProtoPayload`` wraps a gRPC ``SeldonMessage`` (or a ``Feedback`` for feedback calls).
Both give the executor the same view of ``meta`` (puid, tags, metrics, requestPath,
routing), the failure ``status``, the route a router replied with, and the aggregate
request body (``{"seldonMessages": [...]}`` / ``SeldonMessageList``). The data part is
never touched: a node's tensor, tftensor or binary reply goes on as it came.
"""

from __future__ import annotations

import copy
import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.struct_pb2 import Value
from seldon_core.proto import prediction_pb2

from model import fastjson
from model.errors import InvalidInput

JSON_CONTENT_TYPE = "application/json"
PROTO_CONTENT_TYPE = "application/protobuf"
PUID_HEADER = "Seldon-Puid"  # REST header; gRPC metadata keys are lower case
PUID_METADATA = "seldon-puid"
_FEEDBACK_KEYS = ("request", "response", "reward", "truth")


class Payload(ABC):
    """A Seldon message with transport-neutral access to its ``meta``."""

    content_type: str
    lenient = False  # parsed by json's fallback: may hold NaN (``fastjson.dumps``)

    @property
    @abstractmethod
    def message(self) -> Any:
        """The transport-native message: a dict (REST) or a proto (gRPC)."""

    @abstractmethod
    def to_bytes(self) -> bytes: ...

    @classmethod
    @abstractmethod
    def from_bytes(cls, data: bytes) -> Payload: ...

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The message as a JSON dict (for logs and errors; REST payloads return theirs)."""

    def json_bytes(self) -> bytes:
        """The message as a JSON body (REST), whatever its transport."""
        return fastjson.dumps(self.to_json(), self.lenient)

    @abstractmethod
    def copy(self) -> Payload: ...

    @property
    @abstractmethod
    def is_feedback(self) -> bool: ...

    # meta ---------------------------------------------------------------------------
    @abstractmethod
    def puid(self) -> str: ...

    @abstractmethod
    def set_puid(self, puid: str) -> None: ...

    @abstractmethod
    def tags(self) -> dict[str, Any]: ...

    @abstractmethod
    def update_tags(self, tags: Mapping[str, Any]) -> None:
        """Add ``tags``; on equal keys the given value wins."""

    @abstractmethod
    def metrics(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def add_metrics(self, metrics: Sequence[Mapping[str, Any]]) -> None: ...

    @abstractmethod
    def set_metrics(self, metrics: Sequence[Mapping[str, Any]]) -> None: ...

    @abstractmethod
    def request_path(self) -> dict[str, str]: ...

    @abstractmethod
    def update_request_path(self, path: Mapping[str, str]) -> None: ...

    @abstractmethod
    def routing(self) -> dict[str, int]: ...

    @abstractmethod
    def update_routing(self, routing: Mapping[str, int]) -> None: ...

    def merge_meta(self, others: Sequence[Payload]) -> None:
        """Carry the meta of ``others`` (the messages this reply answers) into it.

        Tags, requestPath and routing: union, this reply's values win (later wins).
        Metrics: the others' concatenated, then this reply's own; metrics the reply
        already carries (the Seldon wrapper copies the request's) are not doubled.
        """
        tags: dict[str, Any] = {}
        path: dict[str, str] = {}
        routing: dict[str, int] = {}
        incoming: list[dict[str, Any]] = []
        for other in others:
            tags.update(other.tags())
            path.update(other.request_path())
            routing.update(other.routing())
            incoming.extend(other.metrics())
        if tags:
            self.update_tags({**tags, **self.tags()})
        if path:
            self.update_request_path({**path, **self.request_path()})
        if routing:
            self.update_routing({**routing, **self.routing()})
        if incoming:
            own = self.metrics()
            present = Counter(_metric_key(m) for m in own)
            missing = []
            for metric in incoming:
                key = _metric_key(metric)
                if present[key]:
                    present[key] -= 1
                else:
                    missing.append(metric)
            if missing:
                self.set_metrics(missing + own)

    # replies -----------------------------------------------------------------------
    @abstractmethod
    def failure(self) -> dict[str, Any] | None:
        """The ``status`` dict when the message reports a FAILURE, else None."""

    @abstractmethod
    def route_value(self) -> int:
        """The child index a router replied with (first value; -1 when it has no data)."""

    @abstractmethod
    def feedback_routing(self) -> dict[str, int]:
        """``response.meta.routing`` of a feedback message."""


# ------------------------------------------------------------------------------ JSON
class JsonPayload(Payload):
    """A REST message: the parsed JSON dict, shared with the node clients."""

    content_type = JSON_CONTENT_TYPE

    def __init__(self, body: dict[str, Any], lenient: bool = False) -> None:
        if not isinstance(body, dict):
            raise InvalidInput(f"a Seldon message must be a JSON object, got {type(body).__name__}")
        self._body = body
        self.lenient = lenient

    @property
    def message(self) -> dict[str, Any]:
        return self._body

    def to_bytes(self) -> bytes:
        return fastjson.dumps(self._body, self.lenient)

    @classmethod
    def from_bytes(cls, data: bytes) -> JsonPayload:
        try:
            body, lenient = fastjson.loads_checked(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"body is not valid JSON: {exc}") from exc
        except RecursionError:
            raise InvalidInput("body is nested too deeply to decode") from None
        return cls(body, lenient)

    def to_json(self) -> dict[str, Any]:
        return self._body

    def copy(self) -> JsonPayload:
        return JsonPayload(copy.deepcopy(self._body), self.lenient)

    @property
    def is_feedback(self) -> bool:
        return any(key in self._body for key in _FEEDBACK_KEYS)

    def _meta(self, create: bool = False) -> dict[str, Any]:
        meta = self._body.get("meta")
        if not isinstance(meta, dict):
            meta = {}
            if create:
                self._body["meta"] = meta
        return meta

    def puid(self) -> str:
        return str(self._meta().get("puid") or "")

    def set_puid(self, puid: str) -> None:
        self._meta(create=True)["puid"] = puid

    def tags(self) -> dict[str, Any]:
        return dict(self._meta().get("tags") or {})

    def update_tags(self, tags: Mapping[str, Any]) -> None:
        if tags:
            self._meta(create=True).setdefault("tags", {}).update(tags)

    def metrics(self) -> list[dict[str, Any]]:
        return list(self._meta().get("metrics") or [])

    def add_metrics(self, metrics: Sequence[Mapping[str, Any]]) -> None:
        if metrics:
            self._meta(create=True).setdefault("metrics", []).extend(dict(m) for m in metrics)

    def set_metrics(self, metrics: Sequence[Mapping[str, Any]]) -> None:
        self._meta(create=True)["metrics"] = [dict(m) for m in metrics]

    def request_path(self) -> dict[str, str]:
        return dict(self._meta().get("requestPath") or {})

    def update_request_path(self, path: Mapping[str, str]) -> None:
        if path:
            self._meta(create=True).setdefault("requestPath", {}).update(path)

    def routing(self) -> dict[str, int]:
        return {k: int(v) for k, v in (self._meta().get("routing") or {}).items()}

    def update_routing(self, routing: Mapping[str, int]) -> None:
        if routing:
            self._meta(create=True).setdefault("routing", {}).update(routing)

    def failure(self) -> dict[str, Any] | None:
        status = self._body.get("status")
        # our errors say "FAILURE"; Seldon's own exceptions serialise the enum as 1
        if isinstance(status, dict) and status.get("status") in ("FAILURE", 1):
            return status
        return None

    def route_value(self) -> int:
        return _first_route(self._body)

    def feedback_routing(self) -> dict[str, int]:
        response = self._body.get("response") or {}
        routing = (response.get("meta") or {}).get("routing") or {}
        return {str(k): int(v) for k, v in routing.items()}

    @staticmethod
    def aggregate_body(payloads: Sequence[Payload]) -> dict[str, Any]:
        """The REST ``/aggregate`` body for the children's replies."""
        return {"seldonMessages": [p.to_json() for p in payloads]}


def _metric_key(metric: Mapping[str, Any]) -> str:
    """A comparable form of a metric (JSON and proto spell COUNTER/values alike)."""
    m = dict(metric)
    return json.dumps(
        {
            "key": m.get("key"),
            "type": m.get("type", "COUNTER"),
            "value": float(m.get("value", 0)),
            "tags": m.get("tags") or {},
        },
        sort_keys=True,
    )


def _first_route(body: Any) -> int:
    """Seldon's reading of a route reply: a list of ints, or data ndarray/tensor/tftensor."""
    if isinstance(body, list):
        values: list[Any] = body
    else:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return -1
        if "ndarray" in data:
            values = data["ndarray"]
        elif "tensor" in data:
            values = (data["tensor"] or {}).get("values") or []
        elif "tftensor" in data:
            values = (data["tftensor"] or {}).get("intVal") or []
        else:
            return -1
    if not values:
        raise InvalidInput("router replied with an empty route")
    first = values[0]
    if isinstance(first, list):
        if not first:
            raise InvalidInput("router replied with an empty route")
        first = first[0]
    try:
        return int(first)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"router replied with a non-integer route: {first!r}") from exc


# ----------------------------------------------------------------------------- proto
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
            return _first_route({"data": {"tensor": {"values": list(msg.data.tensor.values)}}})
        if kind == "ndarray":
            ndarray = json_format.MessageToDict(msg.data.ndarray)
            return _first_route({"data": {"ndarray": ndarray}})
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
        return json_format.ParseDict(payload.to_json(), prediction_pb2.SeldonMessage())
    except json_format.ParseError as exc:
        raise InvalidInput(f"not a valid SeldonMessage: {exc}") from exc


def feedback_proto(body: Mapping[str, Any]) -> prediction_pb2.Feedback:
    """A ``Feedback`` proto from its JSON form (what the wrapper's REST handler does)."""
    try:
        return json_format.ParseDict(dict(body), prediction_pb2.Feedback())
    except json_format.ParseError as exc:
        raise InvalidInput(f"invalid feedback message: {exc}") from exc
