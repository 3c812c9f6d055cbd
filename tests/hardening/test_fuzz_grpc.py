"""Malformed gRPC requests to the gateway and to each node get INVALID_ARGUMENT or
RESOURCE_EXHAUSTED with a Seldon ``status`` naming the problem.

Hypothesis builds ``SeldonMessage`` protos with one defect each (tensor shapes that do not
match their values, negative, huge or too many dimensions, NaN/Inf, strings and nulls in
``ndarray``, unsupported ``tftensor`` dtypes and contents, ``strData``/``jsonData``,
undecodable image bytes, empty messages) plus raw bytes that are no protobuf at all and
``ndarray`` lists nested thousands deep. Each process still serves afterwards.
"""

from __future__ import annotations

import json
import math
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given
from hypothesis import strategies as st
from seldon_core.proto import prediction_pb2
from seldon_core.proto.tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from tests.fixtures.graphs import Served
from tests.hardening.conftest import FUZZ, SENT, Node

pytestmark = pytest.mark.slow
TARGETS = ("gateway", "transformer", "drift-detector", "classifier")
REFUSED = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
Msg: Any = prediction_pb2.SeldonMessage
finite = st.floats(-2.0, 2.0, allow_nan=False)
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])


def _tensor(shape: list[int], values: list[float]) -> Any:
    return Msg(
        data=prediction_pb2.DefaultData(tensor=prediction_pb2.Tensor(shape=shape, values=values))
    )


def _tftensor(dtype: int, dims: list[int], content: bytes = b"", **vals: Any) -> Any:
    shape = tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims]
    )
    proto = tensor_pb2.TensorProto(dtype=dtype, tensor_shape=shape, tensor_content=content, **vals)
    return Msg(data=prediction_pb2.DefaultData(tftensor=proto))


def _ndarray(rows: Any) -> Any:
    listed = struct_pb2.ListValue()
    listed.extend(rows)
    return Msg(data=prediction_pb2.DefaultData(ndarray=listed))


@st.composite
def mismatched_tensor(draw: st.DrawFn) -> bytes:
    shape = draw(st.lists(st.integers(-4, 40), max_size=6))
    values = draw(st.lists(finite, max_size=64))
    if len(values) == math.prod(shape) and all(n >= 0 for n in shape):
        values.append(0.0)
    return _tensor(shape, values).SerializeToString()


@st.composite
def absurd_dims(draw: st.DrawFn) -> bytes:
    # past every size limit (max_pixels 16,777,216): one broadcast float_val still fills it
    huge = st.integers(10**8, 2**31 - 1) | st.integers(-(2**31), -1)
    shape = draw(st.lists(st.integers(1, 3) | huge, min_size=1, max_size=6))
    if all(1 <= n <= 3 for n in shape):
        shape = [1] * draw(st.integers(33, 200))  # too many dimensions
    if draw(st.booleans()):
        return _tensor(shape, [1.0, 2.0]).SerializeToString()
    return _tftensor(types_pb2.DT_FLOAT, shape, float_val=[1.0]).SerializeToString()


@st.composite
def bad_tftensor(draw: st.DrawFn) -> bytes:
    """Unsupported dtypes, content that does not fill the shape, no values at all."""
    dims = draw(st.lists(st.integers(1, 8), min_size=1, max_size=4))
    count = math.prod(dims)
    kind = draw(st.sampled_from(["dtype", "short", "long", "none"]))
    if kind == "dtype":
        unsupported = [types_pb2.DT_STRING, types_pb2.DT_BOOL, types_pb2.DT_COMPLEX64, 0, 77]
        dtype = draw(st.sampled_from(unsupported))
        return _tftensor(dtype, dims, b"\x00" * count * 4).SerializeToString()
    if kind in ("short", "long"):
        extra = draw(st.integers(1, 16))
        n = max(count * 4 + (extra if kind == "long" else -extra), 0)
        content = draw(st.binary(min_size=n, max_size=n))
        if not content:
            return _tftensor(
                types_pb2.DT_FLOAT, dims, float_val=[1.0, 2.0] * count
            ).SerializeToString()
        return _tftensor(types_pb2.DT_FLOAT, dims, content).SerializeToString()
    return _tftensor(types_pb2.DT_UINT8, dims).SerializeToString()


@st.composite
def poisoned(draw: st.DrawFn, target: str) -> bytes:
    """The shape the target accepts, with a NaN/Inf (or, in ndarray, a string or null)."""
    if target in ("gateway", "transformer"):
        h, w = draw(st.integers(2, 8)), draw(st.integers(2, 8))
        shape, flat = [h, w], [draw(st.floats(0.0, 1.0)) for _ in range(h * w)]
    else:
        shape, flat = [1, 3, 32, 32], [0.1] * 3072
    at = draw(st.integers(0, len(flat) - 1))
    kind = draw(st.sampled_from(["tensor", "tftensor", "ndarray"]))
    if kind == "tensor":
        flat[at] = draw(non_finite)
        return _tensor(shape, flat).SerializeToString()
    if kind == "tftensor":
        flat[at] = draw(non_finite)
        content = np.asarray(flat, dtype="<f4").tobytes()
        return _tftensor(types_pb2.DT_FLOAT, shape, content).SerializeToString()
    values: list[Any] = list(flat)
    values[at] = draw(st.one_of(non_finite, st.text(max_size=4), st.none()))
    rows: Any = values
    for n in reversed(shape[1:]):
        rows = [rows[i : i + n] for i in range(0, len(rows), n)]
    return _ndarray(rows).SerializeToString()


def _varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])


def _field(number: int, body: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(body)) + body


@st.composite
def deep_ndarray(draw: st.DrawFn) -> bytes:
    """``data.ndarray`` lists nested ``n`` deep, as wire bytes (Python protobuf cannot
    even build such a message)."""
    inner = b""
    for _ in range(draw(st.integers(200, 5000))):
        inner = _field(1, _field(6, inner))  # ListValue.values -> Value.list_value
    return _field(3, _field(3, inner))  # SeldonMessage.data -> DefaultData.ndarray


def _json_value(value: Any) -> struct_pb2.Value:
    return json_format.ParseDict(value, struct_pb2.Value())


wrong_kind = st.one_of(
    st.builds(lambda t: Msg(strData=t), st.text(max_size=20)),
    st.builds(lambda v: Msg(jsonData=_json_value(v)), st.lists(st.integers(0, 9), max_size=3)),
    st.just(Msg()),
    st.just(Msg(data=prediction_pb2.DefaultData(names=["a"]))),
    st.builds(lambda b: Msg(binData=b), st.binary(max_size=200).filter(
        lambda b: not b.startswith((b"\x89PNG", b"\xff\xd8")))),
    st.builds(_ndarray, st.lists(st.text(max_size=3), min_size=1, max_size=4)),
    st.builds(_ndarray, st.lists(st.lists(st.floats(0, 1), min_size=1, max_size=4), min_size=2,
                                 max_size=4).filter(lambda r: len({len(x) for x in r}) > 1)),
).map(lambda m: m.SerializeToString())  # fmt: skip

not_protobuf = st.one_of(
    st.binary(min_size=1, max_size=64).filter(lambda b: _undecodable(b)),
    st.just(b"\xff\xff\xff\xff\x0f"),
    st.just(_field(3, b"\x0a\xff\xff\xff")),  # a length running past the end
)


def _undecodable(raw: bytes) -> bool:
    try:
        Msg.FromString(raw)
    except Exception:
        return True
    return False


def malformed(target: str) -> st.SearchStrategy[bytes]:
    return st.one_of(mismatched_tensor(), absurd_dims(), bad_tftensor(), poisoned(target),
                     deep_ndarray(), wrong_kind, not_protobuf)  # fmt: skip


# ------------------------------------------------------------------ tests
def endpoint(target: str, served: Served, nodes: dict[str, Node]) -> tuple[str, str]:
    if target == "gateway":
        return served.grpc_target, "/seldon.protos.Seldon/Predict"
    return nodes[target].grpc_target, nodes[target].grpc_method


def good_message(target: str, png: bytes) -> Any:
    if target in ("gateway", "transformer"):
        return Msg(binData=png)
    content = np.full((1, 3, 32, 32), 0.1, dtype="<f4").tobytes()
    return _tftensor(types_pb2.DT_FLOAT, [1, 3, 32, 32], content)


def assert_refused(exc: grpc.RpcError, what: str) -> None:
    code, details = exc.code(), exc.details() or ""
    assert code in REFUSED, f"{what}: {code} {details[:300]}"
    # gRPC's own message-size refusal is plain text, ours the Seldon status JSON
    info = json.loads(details)["status"]["info"] if details.startswith("{") else details
    assert info.strip(), f"{what}: {code} without details"


@pytest.mark.parametrize("target", TARGETS)
def test_malformed_grpc_requests_are_refused_naming_the_problem(
    target: str, digits_served: Served, digits_nodes: dict[str, Node], example_png: bytes
) -> None:
    address, method = endpoint(target, digits_served, digits_nodes)
    channel = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", -1)])
    raw_call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)

    @FUZZ
    @given(body=malformed(target))
    def fuzz(body: bytes) -> None:
        SENT[f"grpc:{target}"] += 1
        with pytest.raises(grpc.RpcError) as caught:
            raw_call(body, timeout=60)
        assert_refused(caught.value, f"{body[:120]!r}")

    try:
        fuzz()
        call = channel.unary_unary(method, Msg.SerializeToString, Msg.FromString)
        reply = call(good_message(target, example_png), timeout=60)
        assert reply.WhichOneof("data_oneof") == "data"
    finally:
        channel.close()


@pytest.mark.parametrize("target", TARGETS)
def test_a_message_over_the_receive_limit_is_resource_exhausted(
    target: str, digits_served: Served, digits_nodes: dict[str, Node], example_png: bytes
) -> None:
    address, method = endpoint(target, digits_served, digits_nodes)
    limit = 32 * 2**20 if target == "gateway" else 4 * 2**20  # --max-body-mb; gRPC default
    channel = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", -1)])
    call = channel.unary_unary(method, Msg.SerializeToString, Msg.FromString)
    try:
        SENT[f"grpc:{target}"] += 1
        with pytest.raises(grpc.RpcError) as caught:
            call(Msg(binData=b"\x00" * (limit + 1)), timeout=60)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "larger than max" in (caught.value.details() or "")
        assert call(good_message(target, example_png), timeout=60).WhichOneof("data_oneof")
    finally:
        channel.close()
