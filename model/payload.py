"""Read and write the data of Seldon messages: REST dicts and gRPC ``SeldonMessage`` protos.

Readers return the payload as ``bytes`` (``binData``) or a numeric numpy array
(``data.tensor``, ``data.ndarray``, ``data.tftensor``); anything else (``strData``,
``jsonData``, ``customData``, strings, objects, ragged lists) is an ``InvalidInput``.
``max_values`` refuses an array before it is materialised where the message states its
shape (``tensor``, ``tftensor``). Writers reply with ``data.tensor`` (REST) or a float32
``data.tftensor`` with ``tensor_content`` (gRPC), and carry the request's ``meta`` the way
Seldon's wrapper does (``puid``, ``tags``, ``requestPath`` plus this node).

The gRPC ``tftensor`` is handled here without TensorFlow: ``tensor_content`` is read with
``np.frombuffer`` (little-endian), the typed ``*_val`` fields are the fallback.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2
from seldon_core.proto.tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from seldon_core.utils import get_request_path

from model.errors import InvalidInput, PayloadTooLarge

Payload = bytes | np.ndarray
MAX_DIMS = 32
_KINDS = ("data", "binData", "strData", "jsonData", "customData")
_HINT = "send binData (image bytes) or numbers in data.ndarray, data.tensor or data.tftensor"
# TensorProto dtype -> (numpy dtype of tensor_content, the repeated *_val field).
_TF_DTYPES: dict[int, tuple[str, str]] = {
    types_pb2.DT_FLOAT: ("<f4", "float_val"),
    types_pb2.DT_DOUBLE: ("<f8", "double_val"),
    types_pb2.DT_HALF: ("<f2", "half_val"),
    types_pb2.DT_UINT8: ("u1", "int_val"),
    types_pb2.DT_INT8: ("i1", "int_val"),
    types_pb2.DT_UINT16: ("<u2", "int_val"),
    types_pb2.DT_INT16: ("<i2", "int_val"),
    types_pb2.DT_INT32: ("<i4", "int_val"),
    types_pb2.DT_UINT32: ("<u4", "uint32_val"),
    types_pb2.DT_INT64: ("<i8", "int64_val"),
    types_pb2.DT_UINT64: ("<u8", "uint64_val"),
}


def read_message(
    message: Any, *, max_values: int | None = None, limit: str = "max_values"
) -> Payload:
    """The payload of a REST dict or a gRPC ``SeldonMessage`` (see the module docstring)."""
    if isinstance(message, prediction_pb2.SeldonMessage):
        return read_proto(message, max_values=max_values, limit=limit)
    return read_rest(message, max_values=max_values, limit=limit)


def read_rest(message: Any, *, max_values: int | None = None, limit: str = "max_values") -> Payload:
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
        return _tensor_array(tensor.get("shape"), tensor.get("values"), max_values, limit)
    if field == "ndarray":
        return _checked_limit(numeric_array(data["ndarray"], "data.ndarray"), max_values, limit)
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
) -> Payload:
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
        _check_shape(shape, "data.tensor")
        _check_limit(shape, max_values, limit)
        # values[:] is a plain list of floats: one C-level conversion, no Python loop.
        return _tensor_array(shape, tensor.values[:], max_values, limit)
    if field == "ndarray":
        listed = json_format.MessageToDict(message.data.ndarray)
        return _checked_limit(numeric_array(listed, "data.ndarray"), max_values, limit)
    raise InvalidInput(f"data holds no tensor, ndarray or tftensor; {_HINT}")


def numeric_array(values: Any, where: str) -> np.ndarray:
    """A nested list of numbers -> array; ragged lists, strings and objects are refused."""
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"{where} is ragged or not numeric (rows of unequal length?): {exc}"
        ) from None
    if array.dtype.kind not in "iuf":
        found = {"U": "strings", "S": "bytes", "O": "objects or nulls", "b": "booleans"}
        raise InvalidInput(
            f"{where} must hold numbers, got {found.get(array.dtype.kind, array.dtype)}"
        )
    return array


def tensor_proto_to_array(
    proto: tensor_pb2.TensorProto, *, max_values: int | None = None, limit: str = "max_values"
) -> np.ndarray:
    """A TensorFlow ``TensorProto`` -> numpy array, without TensorFlow.

    Reads ``tensor_content`` with ``np.frombuffer`` when present, else the typed value
    field (one value is broadcast to the whole shape, as TensorFlow does).
    """
    if proto.dtype not in _TF_DTYPES:
        name = (
            types_pb2.DataType.Name(proto.dtype)
            if proto.dtype in types_pb2.DataType.values()
            else proto.dtype
        )
        raise InvalidInput(
            f"tftensor dtype {name} is not supported; use a numeric dtype (e.g. DT_UINT8, DT_FLOAT)"
        )
    shape = [int(d.size) for d in proto.tensor_shape.dim]
    _check_shape(shape, "tftensor")
    count = _check_limit(shape, max_values, limit)
    dtype, field = _TF_DTYPES[proto.dtype]
    if proto.tensor_content:
        width = np.dtype(dtype).itemsize
        if len(proto.tensor_content) != count * width:
            raise InvalidInput(
                f"tftensor tensor_content holds {len(proto.tensor_content)} bytes, "
                f"shape {shape} of {np.dtype(dtype).name} needs {count * width}"
            )
        return np.frombuffer(proto.tensor_content, dtype=dtype).reshape(shape)
    values = getattr(proto, field)[:]
    if proto.dtype == types_pb2.DT_HALF:
        raw = np.asarray(values, dtype=np.uint16).view(np.float16)
    else:
        raw = np.asarray(values, dtype=np.dtype(dtype).newbyteorder("="))
    if raw.size == count:
        return raw.reshape(shape)
    if raw.size == 1:
        return np.full(shape, raw[0], dtype=raw.dtype)
    raise InvalidInput(f"tftensor {field} holds {raw.size} values, shape {shape} needs {count}")


def array_to_tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """A float32 ``TensorProto`` with ``tensor_content`` (little-endian) for ``array``."""
    data = np.ascontiguousarray(array, dtype="<f4")
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=int(n)) for n in data.shape]
    return tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims),
        tensor_content=data.tobytes(),
    )


def rest_reply(request: Mapping[str, Any], array: np.ndarray) -> dict[str, Any]:
    """A REST reply: ``data.tensor`` of ``array`` and the request's meta, as Seldon keeps it."""
    reply: dict[str, Any] = {
        "data": {
            "names": [],
            "tensor": {"shape": list(array.shape), "values": array.ravel().tolist()},
        }
    }
    meta = request.get("meta")
    meta = meta if isinstance(meta, Mapping) else {}
    out: dict[str, Any] = {}
    if meta.get("puid"):
        out["puid"] = meta["puid"]
    tags, path = meta.get("tags"), meta.get("requestPath")
    if isinstance(tags, Mapping) and tags:
        out["tags"] = dict(tags)
    path = {**get_request_path(), **(path if isinstance(path, Mapping) else {})}
    if path:
        out["requestPath"] = path
    reply["meta"] = out
    return reply


def proto_reply(
    request: prediction_pb2.SeldonMessage, array: np.ndarray
) -> prediction_pb2.SeldonMessage:
    """A gRPC reply: float32 ``data.tftensor`` of ``array`` and the request's meta."""
    meta = prediction_pb2.Meta(puid=request.meta.puid)
    for key, value in request.meta.tags.items():
        meta.tags[key].CopyFrom(value)
    meta.requestPath.update(get_request_path())
    meta.requestPath.update(request.meta.requestPath)
    return prediction_pb2.SeldonMessage(
        meta=meta, data=prediction_pb2.DefaultData(tftensor=array_to_tensor_proto(array))
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


def _check_shape(shape: Any, where: str) -> None:
    if not isinstance(shape, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in shape
    ):
        raise InvalidInput(f"{where} shape must be a list of integers, got {shape!r}")
    if len(shape) > MAX_DIMS:  # numpy's own limit; more would fail in reshape
        raise InvalidInput(f"{where} shape has {len(shape)} dimensions, at most {MAX_DIMS}")
    if any(n < 0 for n in shape):
        raise InvalidInput(f"{where} shape {shape} has a negative dimension")


def _check_limit(shape: Sequence[int], max_values: int | None, limit: str) -> int:
    count = math.prod(shape)
    if max_values is not None and count > max_values:
        raise PayloadTooLarge(
            f"shape {list(shape)} holds {count} values, over {limit}={max_values}"
        )
    return count


def _checked_limit(array: np.ndarray, max_values: int | None, limit: str) -> np.ndarray:
    _check_limit(array.shape, max_values, limit)
    return array


def _tensor_array(shape: Any, values: Any, max_values: int | None, limit: str) -> np.ndarray:
    _check_shape(shape, "data.tensor")
    count = _check_limit(shape, max_values, limit)
    if not isinstance(values, list):
        raise InvalidInput("data.tensor values must be a flat list of numbers")
    if len(values) != count:
        raise InvalidInput(f"data.tensor has {len(values)} values, shape {shape} needs {count}")
    array = numeric_array(values, "data.tensor values")
    if array.ndim != 1:
        raise InvalidInput("data.tensor values must be a flat list of numbers")
    return array.reshape(shape)
