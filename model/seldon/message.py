"""The one reader and writer of Seldon messages, REST dicts and gRPC ``SeldonMessage`` protos,
for all three components.

Readers return the message's data as ``bytes`` (``binData``) or a numeric numpy array
(``data.tensor``, ``data.ndarray``, ``data.tftensor``; see ``tensors``); anything else
(``strData``, ``jsonData``, ``customData``, strings, objects, ragged lists) is an
``InvalidInput``. Writers build a reply of the request's kind carrying the request's
``meta`` the way Seldon's wrapper does (``puid``, ``tags``, ``requestPath`` plus this
node): ``reply`` for numbers (``data.tensor`` over REST, float32 ``data.tftensor`` over
gRPC), ``json_reply`` for ``jsonData``; ``annotate`` adds tags and sets metrics on a
message that passes through.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Value
from seldon_core.proto import prediction_pb2
from seldon_core.proto.tensorflow.core.framework import tensor_pb2
from seldon_core.utils import get_request_path

from model.errors import InvalidInput
from model.seldon.tensors import (
    array_to_tensor_proto,
    check_limit,
    check_shape,
    checked_limit,
    numeric_array,
    tensor_array,
    tensor_proto_to_array,
)

MessageData: TypeAlias = bytes | np.ndarray
Message: TypeAlias = dict[str, Any] | prediction_pb2.SeldonMessage
_KINDS = ("data", "binData", "strData", "jsonData", "customData")
_HINT = "send binData (image bytes) or numbers in data.ndarray, data.tensor or data.tftensor"


def read_message(
    message: Any, *, max_values: int | None = None, limit: str = "max_values"
) -> MessageData:
    """The payload of a REST dict or a gRPC ``SeldonMessage`` (see the module docstring)."""
    if isinstance(message, prediction_pb2.SeldonMessage):
        return read_proto(message, max_values=max_values, limit=limit)
    return read_rest(message, max_values=max_values, limit=limit)


def read_rest(
    message: Any, *, max_values: int | None = None, limit: str = "max_values"
) -> MessageData:
    """The payload of a REST (JSON) Seldon message."""
    if not isinstance(message, Mapping):
        raise InvalidInput(f"the request must be a JSON object (a SeldonMessage); {_HINT}")
    kind = _only_kind([k for k in _KINDS if k in message])
    if kind == "binData":
        return _b64decode(message["binData"])
    if kind != "data":
        raise InvalidInput(f"{kind} is not accepted; {_HINT}")
    data = message["data"]
    if not isinstance(data, Mapping):
        raise InvalidInput("data must be an object holding tensor, ndarray or tftensor")
    field = _only_field([k for k in ("tensor", "ndarray", "tftensor") if k in data])
    if field == "tensor":
        tensor = data["tensor"]
        if not isinstance(tensor, Mapping):
            raise InvalidInput("data.tensor must be an object {shape, values}")
        return tensor_array(tensor.get("shape"), tensor.get("values"), max_values, limit)
    if field == "ndarray":
        return checked_limit(numeric_array(data["ndarray"], "data.ndarray"), max_values, limit)
    proto = tensor_pb2.TensorProto()
    try:
        json_format.ParseDict(data["tftensor"], proto)
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise InvalidInput(f"data.tftensor is not a valid TensorProto: {exc}") from None
    return tensor_proto_to_array(proto, max_values=max_values, limit=limit)


def read_proto(
    message: prediction_pb2.SeldonMessage,
    *,
    max_values: int | None = None,
    limit: str = "max_values",
) -> MessageData:
    """The payload of a gRPC ``SeldonMessage``."""
    kind = message.WhichOneof("data_oneof")
    if kind == "binData":
        return bytes(message.binData)
    if kind != "data":
        raise InvalidInput(f"{kind or 'an empty message'} is not accepted; {_HINT}")
    field = message.data.WhichOneof("data_oneof")
    if field == "tftensor":
        return tensor_proto_to_array(message.data.tftensor, max_values=max_values, limit=limit)
    if field == "tensor":
        tensor = message.data.tensor
        shape = list(tensor.shape)
        check_shape(shape, "data.tensor")
        check_limit(shape, max_values, limit)
        # values[:] is a plain list of floats: one C-level conversion, no Python loop.
        return tensor_array(shape, tensor.values[:], max_values, limit)
    if field == "ndarray":
        listed = json_format.MessageToDict(message.data.ndarray)
        return checked_limit(numeric_array(listed, "data.ndarray"), max_values, limit)
    raise InvalidInput(f"data holds no tensor, ndarray or tftensor; {_HINT}")


def reply(
    request: Any,
    array: np.ndarray,
    *,
    keep_form: bool = False,
    names: Sequence[str] = (),
    tags: Mapping[str, Any] | None = None,
    metrics: Sequence[Mapping[str, Any]] | None = None,
) -> Message:
    """A reply of the request's kind holding ``array``, with the request's meta.

    REST: ``data.tensor`` (``data.ndarray`` for an ndarray request when ``keep_form``);
    gRPC: float32 ``data.tftensor`` (``data.tensor`` for a tensor request when
    ``keep_form``). ``tags`` are added to the request's; ``metrics`` are the reply's own.
    """
    if isinstance(request, prediction_pb2.SeldonMessage):
        return _proto_reply(request, array, keep_form, names, tags or {}, metrics or ())
    return _rest_reply(request, array, keep_form, names, tags or {}, metrics)


def json_reply(request: Any, data: Mapping[str, Any]) -> Message:
    """A ``jsonData`` reply with the request's puid only."""
    if isinstance(request, prediction_pb2.SeldonMessage):
        out = prediction_pb2.SeldonMessage()
        out.jsonData.struct_value.update(dict(data))
        out.meta.puid = request.meta.puid
        return out
    meta = request.get("meta") if isinstance(request, Mapping) else None
    reply_meta = {"puid": meta["puid"]} if isinstance(meta, Mapping) and "puid" in meta else {}
    return {"jsonData": dict(data), "meta": reply_meta}


def annotate(
    message: Any, tags: Mapping[str, Any], metrics: Sequence[Mapping[str, Any]]
) -> Message:
    """``message`` itself, data untouched, with ``tags`` added, ``meta.metrics`` set and
    this node in ``meta.requestPath`` (``{PREDICTIVE_UNIT_ID: PREDICTIVE_UNIT_IMAGE}``
    under the incoming entries, as the wrapper adds it to a non-raw reply: it adds
    nothing to what a ``*_raw`` method returns, seldon_core/seldon_methods.py)."""
    if isinstance(message, prediction_pb2.SeldonMessage):
        _set_tags(message.meta, tags)
        incoming = dict(message.meta.requestPath)
        message.meta.requestPath.update({**get_request_path(), **incoming})
        del message.meta.metrics[:]
        _add_metrics(message.meta, metrics)
        return message
    meta = message.get("meta")
    if meta is None:
        meta = message["meta"] = {}
    if not isinstance(meta, dict) or not isinstance(meta.get("tags", {}), dict):
        raise InvalidInput("meta must be an object and meta.tags an object")
    meta.setdefault("tags", {}).update(tags)
    meta["metrics"] = [dict(m) for m in metrics]
    given: Any = meta.get("requestPath")
    path = {**get_request_path(), **(given if isinstance(given, Mapping) else {})}
    if path:
        meta["requestPath"] = path
    return message


def to_proto(
    body: Mapping[str, Any], *, ignore_unknown: bool = False
) -> prediction_pb2.SeldonMessage:
    """A REST message as a ``SeldonMessage`` (``json_format.ParseError`` if it is none)."""
    return json_format.ParseDict(
        dict(body), prediction_pb2.SeldonMessage(), ignore_unknown_fields=ignore_unknown
    )


def _rest_reply(
    request: Mapping[str, Any],
    array: np.ndarray,
    keep_form: bool,
    names: Sequence[str],
    tags: Mapping[str, Any],
    metrics: Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    data = request.get("data")
    if keep_form and isinstance(data, Mapping) and "ndarray" in data:
        out_data: dict[str, Any] = {"ndarray": array.tolist()}
    else:
        shape, values = list(array.shape), array.ravel().tolist()
        out_data = {"names": [], "tensor": {"shape": shape, "values": values}}
    if names:
        out_data["names"] = list(names)
    meta = request.get("meta")
    meta = meta if isinstance(meta, Mapping) else {}
    out: dict[str, Any] = {}
    if meta.get("puid"):
        out["puid"] = meta["puid"]
    old_tags, path = meta.get("tags"), meta.get("requestPath")
    merged = {**(old_tags if isinstance(old_tags, Mapping) else {}), **tags}
    if merged:
        out["tags"] = merged
    path = {**get_request_path(), **(path if isinstance(path, Mapping) else {})}
    if path:
        out["requestPath"] = path
    if metrics is not None:
        out["metrics"] = [dict(m) for m in metrics]
    return {"data": out_data, "meta": out}


def _proto_reply(
    request: prediction_pb2.SeldonMessage,
    array: np.ndarray,
    keep_form: bool,
    names: Sequence[str],
    tags: Mapping[str, Any],
    metrics: Sequence[Mapping[str, Any]],
) -> prediction_pb2.SeldonMessage:
    meta = prediction_pb2.Meta(puid=request.meta.puid)
    for key, value in request.meta.tags.items():
        meta.tags[key].CopyFrom(value)
    _set_tags(meta, tags)
    meta.requestPath.update(get_request_path())
    meta.requestPath.update(request.meta.requestPath)
    _add_metrics(meta, metrics)
    if keep_form and request.data.WhichOneof("data_oneof") == "tensor":
        values = np.asarray(array, dtype=np.float64).ravel().tolist()
        data = prediction_pb2.DefaultData(
            tensor=prediction_pb2.Tensor(shape=list(array.shape), values=values)
        )
    else:
        data = prediction_pb2.DefaultData(tftensor=array_to_tensor_proto(array))
    data.names.extend(names)
    return prediction_pb2.SeldonMessage(meta=meta, data=data)


def _set_tags(meta: prediction_pb2.Meta, tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        meta.tags[key].CopyFrom(_value(value))


def _value(value: Any) -> Value:
    if value is None:
        return Value(null_value=0)
    if isinstance(value, bool):
        return Value(bool_value=value)
    if isinstance(value, int | float):
        return Value(number_value=value)
    if isinstance(value, str):
        return Value(string_value=value)
    return json_format.ParseDict(value, Value())


def _add_metrics(meta: prediction_pb2.Meta, metrics: Iterable[Mapping[str, Any]]) -> None:
    for m in metrics:
        meta.metrics.add(
            key=m["key"],
            type=prediction_pb2.Metric.MetricType.Value(m.get("type", "COUNTER")),
            value=m["value"],
        )


def _only_kind(kinds: Sequence[str]) -> str:
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        raise InvalidInput(
            f"the message must hold exactly one of {', '.join(_KINDS)} (found {found}); {_HINT}"
        )
    return kinds[0]


def _only_field(fields: Sequence[str]) -> str:
    if len(fields) != 1:
        found = ", ".join(fields) or "none"
        raise InvalidInput(
            f"data must hold exactly one of tensor, ndarray, tftensor (found {found})"
        )
    return fields[0]


def _b64decode(value: Any) -> bytes:
    if not isinstance(value, str | bytes):
        raise InvalidInput("binData must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        try:
            return base64.urlsafe_b64decode(value)
        except (binascii.Error, ValueError):
            raise InvalidInput("binData is not valid base64") from None
