"""The request bodies of every scenario, built once from one clean example image.

All scenarios send the same image: ``artifacts/examples/clean/<first in index.json>``.
The classifier scenarios send its model input (normalised float32 (1, 3, 32, 32), made by
the transformer's own ``model.images.prepare_bytes``); the graph gets the PNG itself
(``binData``) or its pixels (``data.ndarray`` / ``data.tensor`` of uint8 values).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.artifacts import load_metadata


@dataclass(frozen=True)
class Inputs:
    png: bytes
    pixels: np.ndarray  # uint8 (H, W): the decoded PNG
    normalised: np.ndarray  # float32 (1, 3, 32, 32): the classifier's input
    image_name: str


def load_inputs(artifacts: Path, version: str = "v1") -> Inputs:
    """The first clean example of ``artifacts/examples`` and its model input."""
    from model.images import decode_image, prepare_bytes

    index = json.loads((artifacts / "examples" / "index.json").read_text())
    name = index["clean"][0]["file"]
    png = (artifacts / "examples" / name).read_bytes()
    meta = load_metadata(artifacts / version)
    limit = 1 << 24
    x = prepare_bytes(
        png,
        mean=meta.mean,
        std=meta.std,
        size=meta.image_size,
        max_batch_size=1,
        max_pixels=limit,
    )
    pixels = np.asarray(decode_image(png, limit))
    return Inputs(png=png, pixels=pixels, normalised=x.astype(np.float32), image_name=name)


# ----- Seldon REST (JSON) -----
def seldon_rest(kind: str, inputs: Inputs) -> bytes:
    """A Seldon REST body: classifier ``tensor``/``ndarray``; graph ``binData``/``pixels-*``."""
    x, px = inputs.normalised, inputs.pixels
    body: dict[str, object]
    if kind == "tensor":
        body = {"data": {"tensor": {"shape": list(x.shape), "values": x.ravel().tolist()}}}
    elif kind == "ndarray":
        body = {"data": {"ndarray": x.tolist()}}
    elif kind == "binData":
        body = {"binData": base64.b64encode(inputs.png).decode("ascii")}
    elif kind == "pixels-ndarray":  # one grayscale image, NHWC integers 0..255
        body = {"data": {"ndarray": px.reshape(1, *px.shape[:2], -1).tolist()}}
    elif kind == "pixels-tensor":
        shape = [1, *px.shape[:2], px.size // (px.shape[0] * px.shape[1])]
        body = {"data": {"tensor": {"shape": shape, "values": px.ravel().tolist()}}}
    else:
        raise ValueError(f"unknown REST payload {kind!r}")
    return json.dumps(body).encode()


# ----- Seldon gRPC (serialised SeldonMessage) -----
def seldon_grpc(kind: str, inputs: Inputs) -> bytes:
    """A serialised ``SeldonMessage``: classifier ``tftensor`` or ``tensor``; graph ``binData``."""
    from seldon_core.proto import prediction_pb2

    from model.seldon.tensors import array_to_tensor_proto

    if kind == "tftensor":
        data = prediction_pb2.DefaultData(tftensor=array_to_tensor_proto(inputs.normalised))
        message = prediction_pb2.SeldonMessage(data=data)
    elif kind == "tensor":  # repeated doubles, for comparison with tftensor's raw bytes
        x = inputs.normalised
        tensor = prediction_pb2.Tensor(shape=list(x.shape), values=x.ravel().tolist())
        message = prediction_pb2.SeldonMessage(data=prediction_pb2.DefaultData(tensor=tensor))
    elif kind == "binData":
        message = prediction_pb2.SeldonMessage(binData=inputs.png)
    else:
        raise ValueError(f"unknown gRPC payload {kind!r}")
    return message.SerializeToString()


def batch_size_of(reply: bytes) -> float | None:
    """The ``batch_size`` GAUGE of a serialised ``SeldonMessage`` reply, if it has one."""
    from seldon_core.proto import prediction_pb2

    message = prediction_pb2.SeldonMessage.FromString(reply)
    for metric in message.meta.metrics:
        if metric.key == "batch_size":
            return float(metric.value)
    return None


# ----- MLServer (V2 REST) -----
def v2_rest(inputs: Inputs) -> bytes:
    """A V2 inference request: one FP32 tensor ``input`` (1, 3, 32, 32)."""
    x = inputs.normalised
    tensor = {"name": "input", "shape": list(x.shape), "datatype": "FP32"}
    return json.dumps({"inputs": [{**tensor, "data": x.ravel().tolist()}]}).encode()
