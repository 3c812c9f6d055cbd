"""The drift node's cheap request-path check of its input, and the deferred decoding.

``instances(message, shape)`` reads only what a message says about itself (the stated
shape and the number of values or bytes) and returns ``(count, decode)``: the number of
instances and a callable that decodes them with ``model.seldon.message`` later, in the drift
worker thread. So a pass-through request costs microseconds, not a float-list parse.

Accepted: float NCHW instances of ``shape`` in ``data.tensor``, ``data.tftensor``
(``DT_FLOAT``, REST JSON or gRPC) or ``data.ndarray``. Anything else is ``InvalidInput``
naming the problem. ``tensor`` values are checked to be finite numbers in one C-level
pass; an ``ndarray`` (no cheap check exists) is decoded at once. The worker drops (and counts)
anything whose full decode does not fit or is not finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from seldon_core.proto import prediction_pb2

from model.errors import InvalidInput

Decode = Callable[[], np.ndarray]
_HINT = "the drift detector takes float32 NCHW inputs in data.tensor, data.tftensor or data.ndarray"


def instances(message: Any, shape: tuple[int, ...]) -> tuple[int, Decode]:
    """``(count, decode)`` for a REST dict or gRPC ``SeldonMessage``; InvalidInput if unusable."""
    if isinstance(message, prediction_pb2.SeldonMessage):
        dims, decode = _proto(message)
    elif isinstance(message, Mapping):
        dims, decode = _rest(message)
    else:
        raise InvalidInput(f"the request must be a SeldonMessage JSON object; {_HINT}")
    expected = "(N, " + ", ".join(map(str, shape)) + ")"
    if len(dims) != len(shape) + 1 or tuple(dims[1:]) != tuple(shape):
        raise InvalidInput(f"input shape {list(dims)} does not match {expected}; {_HINT}")

    def checked() -> np.ndarray:
        array = decode()
        if array.ndim != len(shape) + 1 or tuple(array.shape[1:]) != tuple(shape):
            raise ValueError(f"decoded shape {array.shape} does not match {expected}")
        array = array.astype(np.float32, copy=False)
        if not np.isfinite(array).all():  # e.g. NaN in a base64 tensorContent: dropped
            raise ValueError("decoded instances hold NaN or infinite values")
        return array

    return int(dims[0]), checked


def _rest(message: Mapping[str, Any]) -> tuple[list[int], Decode]:
    from model.seldon.message import read_rest

    data = message.get("data")
    if not isinstance(data, Mapping):
        raise InvalidInput(f"the message has no data object; {_HINT}")
    fields = [k for k in ("tensor", "tftensor", "ndarray") if k in data]
    if len(fields) != 1:
        raise InvalidInput(f"data must hold exactly one of tensor, tftensor, ndarray; {_HINT}")
    field, value = fields[0], data[fields[0]]
    if field == "tensor":
        if not isinstance(value, Mapping) or not isinstance(value.get("values"), list):
            raise InvalidInput("data.tensor must be an object {shape, values} with a values list")
        dims = _int_dims(value.get("shape"), "data.tensor shape")
        _same_count(len(value["values"]), dims, "data.tensor values")
        _finite(value["values"], "data.tensor values")
    elif field == "tftensor":
        dims = _rest_tftensor_dims(value)
    else:
        dims = _list_dims(value, "data.ndarray")
        return dims, _eager(lambda: read_rest({"data": {"ndarray": value}}), "data.ndarray")
    only = {field: value}
    return dims, lambda: _array(read_rest({"data": only}))


def _proto(message: prediction_pb2.SeldonMessage) -> tuple[list[int], Decode]:
    from model.seldon.message import read_proto

    if message.WhichOneof("data_oneof") != "data":
        raise InvalidInput(f"the message has no data; {_HINT}")
    data = message.data
    field = data.WhichOneof("data_oneof")
    if field == "tftensor":
        tensor = data.tftensor
        if tensor.dtype != 1:  # DT_FLOAT
            raise InvalidInput(f"data.tftensor dtype must be DT_FLOAT (1), got {tensor.dtype}")
        dims = [int(d.size) for d in tensor.tensor_shape.dim]
        if tensor.tensor_content:
            _same_count(len(tensor.tensor_content) // 4, dims, "data.tftensor tensor_content")
            if len(tensor.tensor_content) % 4:
                raise InvalidInput("data.tftensor tensor_content is not a whole number of float32")
            if not np.isfinite(np.frombuffer(tensor.tensor_content, "<f4")).all():
                raise InvalidInput("data.tftensor tensor_content holds NaN or infinite values")
        else:
            _same_count(len(tensor.float_val), dims, "data.tftensor float_val")
            _finite(tensor.float_val, "data.tftensor float_val")
    elif field == "tensor":
        dims = [int(n) for n in data.tensor.shape]
        _same_count(len(data.tensor.values), dims, "data.tensor values")
        _finite(data.tensor.values, "data.tensor values")
    elif field == "ndarray":
        rows = data.ndarray.values
        dims = [len(rows)]
        node = rows[0] if len(rows) else None
        while node is not None and node.WhichOneof("kind") == "list_value":
            dims.append(len(node.list_value.values))
            node = node.list_value.values[0] if len(node.list_value.values) else None
        only = prediction_pb2.SeldonMessage(data=data)
        return dims, _eager(lambda: read_proto(only), "data.ndarray")
    else:
        raise InvalidInput(f"data holds no tensor, tftensor or ndarray; {_HINT}")
    return dims, lambda: _array(read_proto(prediction_pb2.SeldonMessage(data=data)))


def _finite(values: Any, where: str) -> None:
    """Numbers only, all finite: one C-level pass (``fsum`` raises on strings and nulls,
    and is NaN/infinite, or raises, when a value is)."""
    try:
        total = math.fsum(values)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{where} must be finite numbers") from None
    if not math.isfinite(total):
        raise InvalidInput(f"{where} hold NaN or infinite values")


def _eager(decode: Callable[[], Any], where: str) -> Decode:
    """Decode now (``ndarray``: no cheap check exists); refuse non-finite values."""
    array = decode()  # InvalidInput for strings, nulls, ragged rows
    if not isinstance(array, np.ndarray):
        raise InvalidInput(f"{where} must hold numbers")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidInput(f"{where} holds NaN or infinite values")
    return lambda: array


def _rest_tftensor_dims(value: Any) -> list[int]:
    if not isinstance(value, Mapping):
        raise InvalidInput("data.tftensor must be a TensorProto JSON object")
    if value.get("dtype") not in ("DT_FLOAT", 1):
        raise InvalidInput(f"data.tftensor dtype must be DT_FLOAT, got {value.get('dtype')!r}")
    dim = (value.get("tensorShape") or {}).get("dim", [])
    try:
        dims = [int(d.get("size", 0)) for d in dim]
    except (AttributeError, TypeError, ValueError):
        raise InvalidInput("data.tftensor tensorShape.dim must be a list of {size}") from None
    content = value.get("tensorContent")
    if isinstance(content, str) and content:
        size = len(content) // 4 * 3 - content[-2:].count("=")
        _same_count(size // 4, dims, "data.tftensor tensorContent")
    elif isinstance(value.get("floatVal"), list):
        _same_count(len(value["floatVal"]), dims, "data.tftensor floatVal")
    else:
        raise InvalidInput("data.tftensor needs tensorContent (base64) or floatVal")
    return dims


def _list_dims(value: Any, where: str) -> list[int]:
    dims = []
    node = value
    while isinstance(node, list):
        dims.append(len(node))
        node = node[0] if node else None
    if not dims:
        raise InvalidInput(f"{where} must be a nested list of numbers")
    return dims


def _int_dims(shape: Any, where: str) -> list[int]:
    if not isinstance(shape, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise InvalidInput(f"{where} must be a list of non-negative integers, got {shape!r}")
    return shape


def _same_count(found: int, dims: list[int], where: str) -> None:
    if any(n < 0 for n in dims) or found != math.prod(dims):
        raise InvalidInput(f"{where} holds {found} values, shape {dims} needs {math.prod(dims)}")


def _array(payload: Any) -> np.ndarray:
    if not isinstance(payload, np.ndarray):
        raise ValueError("the payload is not numeric")
    return payload
