"""gRPC request bodies of the peers, serialised once by a tiny protobuf writer.

The load generator sends pre-serialised bytes, so the benchmark process needs neither
TorchServe's nor Triton's generated modules (they live in the peers' venvs). Two messages:

- KServe V2 ``inference.GRPCInferenceService/ModelInfer`` (Triton, KServe):
  ``ModelInferRequest{model_name=1, inputs=5: InferInputTensor{name=1, datatype=2,
  shape=3 (packed int64)}, raw_input_contents=7}``; the tensor goes as raw little-endian
  bytes, the form Triton's own client sends.
- TorchServe ``org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions``:
  ``PredictionsRequest{model_name=1, input=3: map<string, bytes>}``, whose ``body`` entry
  carries the same V2 JSON body as the REST scenarios.
"""

from __future__ import annotations

import numpy as np

V2_INFER = "/inference.GRPCInferenceService/ModelInfer"
TORCHSERVE_PREDICT = "/org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions"
_VARINT, _LENGTH = 0, 2


def varint(value: int) -> bytes:
    """``value`` (>= 0) as a protobuf base-128 varint."""
    if value < 0:
        raise ValueError("varint of a negative number")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field (string, bytes or embedded message)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | _LENGTH) + varint(len(data)) + data


def packed(number: int, values: list[int]) -> bytes:
    """A packed repeated varint field (``repeated int64`` of non-negative values)."""
    return field(number, b"".join(varint(v) for v in values))


def v2_infer_request(x: np.ndarray, model: str = "digits", name: str = "input") -> bytes:
    """A serialised ``ModelInferRequest`` with ``x`` as one FP32 input in raw contents."""
    tensor = field(1, name) + field(2, "FP32") + packed(3, [int(n) for n in x.shape])
    raw = np.ascontiguousarray(x, dtype="<f4").tobytes()
    return field(1, model) + field(5, tensor) + field(7, raw)


def torchserve_request(body: bytes, model: str = "digits") -> bytes:
    """A serialised ``PredictionsRequest`` whose ``input`` map holds ``body`` as ``body``."""
    return field(1, model) + field(3, field(1, "body") + field(2, body))
