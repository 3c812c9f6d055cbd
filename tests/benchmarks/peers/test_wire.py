"""The hand-written protobuf requests parse as the peers' real messages.

The messages are declared here from the upstream ``.proto`` field numbers and built with
protobuf's own runtime, so a wrong tag or wire type in ``wire.py`` fails to parse.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from benchmarks.peers import wire

F = descriptor_pb2.FieldDescriptorProto


@functools.cache
def _message_classes() -> dict[str, Any]:
    proto = descriptor_pb2.FileDescriptorProto(name="peers_test.proto", package="t")

    def add(name: str, fields: list[tuple[str, int, int, int, str]]) -> Any:
        message = proto.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            message.field.add(name=field_name, number=number, type=kind, label=label,
                              type_name=type_name)  # fmt: skip
        return message

    one, many = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    add("Tensor", [("name", 1, F.TYPE_STRING, one, ""), ("datatype", 2, F.TYPE_STRING, one, ""),
                   ("shape", 3, F.TYPE_INT64, many, "")])  # fmt: skip
    add("Infer", [("model_name", 1, F.TYPE_STRING, one, ""),
                  ("inputs", 5, F.TYPE_MESSAGE, many, ".t.Tensor"),
                  ("raw_input_contents", 7, F.TYPE_BYTES, many, "")])  # fmt: skip
    predictions = add("Predictions", [("model_name", 1, F.TYPE_STRING, one, ""),
                                      ("input", 3, F.TYPE_MESSAGE, many,
                                       ".t.Predictions.InputEntry")])  # fmt: skip
    entry = predictions.nested_type.add(name="InputEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=one)
    entry.field.add(name="value", number=2, type=F.TYPE_BYTES, label=one)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    factory = message_factory.MessageFactory(pool)  # protobuf 3.20 (Seldon's pin)
    return {name: factory.GetPrototype(pool.FindMessageTypeByName(f"t.{name}"))
            for name in ("Infer", "Predictions")}  # fmt: skip


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**35])
def test_varint_round_trips_through_protobuf(value: int) -> None:
    shape_only = wire.field(5, wire.packed(3, [value]))
    parsed = _message_classes()["Infer"].FromString(shape_only)
    assert list(parsed.inputs[0].shape) == [value]


def test_negative_varint_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        wire.varint(-1)


def test_v2_infer_request_carries_the_tensor_as_raw_little_endian_floats() -> None:
    x = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4) / 7
    parsed = _message_classes()["Infer"].FromString(wire.v2_infer_request(x, "m", "in"))
    assert parsed.model_name == "m"
    (tensor,) = parsed.inputs
    assert (tensor.name, tensor.datatype, list(tensor.shape)) == ("in", "FP32", [2, 3, 4, 4])
    (raw,) = parsed.raw_input_contents
    np.testing.assert_array_equal(np.frombuffer(raw, dtype="<f4").reshape(x.shape), x)


def test_torchserve_request_puts_the_body_in_the_input_map() -> None:
    body = b'{"inputs": []}' * 20  # longer than 127 bytes: a two-byte length
    parsed = _message_classes()["Predictions"].FromString(wire.torchserve_request(body, "d"))
    assert parsed.model_name == "d"
    assert dict(parsed.input) == {"body": body}
