"""Numbers in Seldon messages: TensorFlow ``TensorProto`` <-> numpy without TensorFlow, and the
checks every numeric field gets (numeric dtype, shape, a value budget).

``tensor_content`` is read with ``np.frombuffer`` (little-endian), the typed ``*_val``
fields are the fallback; replies use float32 ``tensor_content``. ``max_values`` refuses an
array before it is materialised where the message states its shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from seldon_core.proto.tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from model.errors import InvalidInput, PayloadTooLarge

MAX_DIMS = 32

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
    check_shape(shape, "tftensor")
    count = check_limit(shape, max_values, limit)
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


def check_shape(shape: Any, where: str) -> None:
    if not isinstance(shape, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in shape
    ):
        raise InvalidInput(f"{where} shape must be a list of integers, got {shape!r}")
    if len(shape) > MAX_DIMS:  # numpy's own limit; more would fail in reshape
        raise InvalidInput(f"{where} shape has {len(shape)} dimensions, at most {MAX_DIMS}")
    if any(n < 0 for n in shape):
        raise InvalidInput(f"{where} shape {shape} has a negative dimension")


def check_limit(shape: Sequence[int], max_values: int | None, limit: str) -> int:
    count = math.prod(shape)
    if max_values is not None and count > max_values:
        raise PayloadTooLarge(
            f"shape {list(shape)} holds {count} values, over {limit}={max_values}"
        )
    return count


def checked_limit(array: np.ndarray, max_values: int | None, limit: str) -> np.ndarray:
    check_limit(array.shape, max_values, limit)
    return array


def tensor_array(shape: Any, values: Any, max_values: int | None, limit: str) -> np.ndarray:
    check_shape(shape, "data.tensor")
    count = check_limit(shape, max_values, limit)
    if not isinstance(values, list):
        raise InvalidInput("data.tensor values must be a flat list of numbers")
    if len(values) != count:
        raise InvalidInput(f"data.tensor has {len(values)} values, shape {shape} needs {count}")
    array = numeric_array(values, "data.tensor values")
    if array.ndim != 1:
        raise InvalidInput("data.tensor values must be a flat list of numbers")
    return array.reshape(shape)
