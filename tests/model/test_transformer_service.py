"""ImageTransformer served by a real seldon-core-microservice, over REST and gRPC."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from seldon_core.proto.tensorflow.core.framework import tensor_pb2, types_pb2

from model.seldon.tensors import tensor_proto_to_array
from model.transformer import ImageTransformer
from tests.fixtures.processes import Microservice, microservice

pytestmark = pytest.mark.slow
MAX_BATCH = 16


@pytest.fixture(scope="module")
def service(artifacts_dir: Path, log_dir: Path) -> Iterator[Microservice]:
    params = [
        {"name": "model_uri", "type": "STRING", "value": str(artifacts_dir / "v1")},
        {"name": "max_batch_size", "type": "INT", "value": str(MAX_BATCH)},
    ]
    with microservice(
        "model.transformer.ImageTransformer", "TRANSFORMER", params, log_dir=log_dir
    ) as svc:
        yield svc


@pytest.fixture(scope="module")
def local(artifacts_dir: Path) -> ImageTransformer:
    """The same component in-process: the reference for the served replies."""
    component = ImageTransformer(model_uri=str(artifacts_dir / "v1"))
    component.load()
    return component


@pytest.fixture(scope="module")
def stub(service: Microservice) -> Iterator[prediction_pb2_grpc.TransformerStub]:
    with grpc.insecure_channel(service.grpc_target) as channel:
        yield prediction_pb2_grpc.TransformerStub(channel)


@pytest.fixture(scope="module")
def pngs(artifacts_dir: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted((artifacts_dir / "examples" / "clean").glob("*.png"))]


@pytest.fixture(scope="module")
def heldout(artifacts_dir: Path) -> np.ndarray:
    with np.load(artifacts_dir / "examples" / "heldout.npz") as data:
        return np.asarray(data["images"][:8])


def post(service: Microservice, body: Any) -> requests.Response:
    return requests.post(f"{service.url}/transform-input", json=body, timeout=30)


def rest_array(reply: dict[str, Any]) -> np.ndarray:
    assert set(reply["data"]) <= {"names", "tensor"}, "REST replies carry data.tensor only"
    tensor = reply["data"]["tensor"]
    return np.asarray(tensor["values"], dtype=np.float32).reshape(tensor["shape"])


def reference(local: ImageTransformer, body: dict[str, Any]) -> np.ndarray:
    return rest_array(local.transform_input_raw(body))


def uint8_tftensor(array: np.ndarray) -> prediction_pb2.SeldonMessage:
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_UINT8, tensor_content=array.tobytes())
    for n in array.shape:
        proto.tensor_shape.dim.add(size=n)
    return prediction_pb2.SeldonMessage(data=prediction_pb2.DefaultData(tftensor=proto))


def test_rest_png_bindata_matches_in_process(
    service: Microservice, local: ImageTransformer, pngs: list[bytes]
) -> None:
    for data in pngs[:5]:
        body = {
            "binData": base64.b64encode(data).decode(),
            "meta": {"puid": "r-1", "tags": {"a": 1}},
        }
        reply = post(service, body)
        assert reply.status_code == 200, reply.text
        out = rest_array(reply.json())
        assert out.shape == (1, 3, 32, 32)
        np.testing.assert_allclose(out, reference(local, body), atol=1e-6, rtol=0)
        assert reply.json()["meta"]["puid"] == "r-1"
        assert reply.json()["meta"]["tags"] == {"a": 1}


@pytest.mark.parametrize("kind", ["ndarray", "tensor"])
def test_rest_batches_match_in_process(
    kind: str, service: Microservice, local: ImageTransformer, heldout: np.ndarray
) -> None:
    batch = heldout[..., None]  # N x H x W x 1, pixel values as JSON integers
    data = (
        {"ndarray": batch.tolist()}
        if kind == "ndarray"
        else {"tensor": {"shape": list(batch.shape), "values": batch.ravel().tolist()}}
    )
    reply = post(service, {"data": data})
    assert reply.status_code == 200, reply.text
    out = rest_array(reply.json())
    assert out.shape == (len(heldout), 3, 32, 32)
    np.testing.assert_allclose(out, reference(local, {"data": data}), atol=1e-6, rtol=0)


def test_grpc_bindata_and_tftensor_reply_float32_tftensor(
    stub: prediction_pb2_grpc.TransformerStub,
    local: ImageTransformer,
    pngs: list[bytes],
    heldout: np.ndarray,
) -> None:
    cases = [(prediction_pb2.SeldonMessage(binData=pngs[0]), 1)]
    cases.append((uint8_tftensor(heldout[..., None]), len(heldout)))
    for request, count in cases:
        request.meta.puid = "g-1"
        reply = stub.TransformInput(request, timeout=30)
        assert reply.data.WhichOneof("data_oneof") == "tftensor"
        assert reply.data.tftensor.dtype == types_pb2.DT_FLOAT
        out = tensor_proto_to_array(reply.data.tftensor)
        expected = tensor_proto_to_array(local.transform_input_raw(request).data.tftensor)  # type: ignore[union-attr]
        assert out.shape == (count, 3, 32, 32)
        np.testing.assert_allclose(out, expected, atol=1e-6, rtol=0)
        assert reply.meta.puid == "g-1"


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (with almost no pixel data)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 8)
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
        for k, d in ((b"IHDR", ihdr), (b"IDAT", idat))
    )


BAD_REST = [
    ({"binData": base64.b64encode(b"garbage").decode()}, 400, "not a PNG or JPEG"),
    ({"binData": base64.b64encode(_png_header(5000, 5000)).decode()}, 413, "max_pixels"),
    ({"strData": "hello"}, 400, "strData is not accepted"),
    ({"data": {"ndarray": [[1, 2], [3]]}}, 400, "ragged"),
    ({"data": {"ndarray": [["a", "b"]]}}, 400, "strings"),
    ({"data": {"ndarray": [1, 2, 3]}}, 400, "rank 1"),
    ({"data": {"ndarray": [[]]}}, 400, "zero-size"),
    ({"data": {"ndarray": [[0.5, 2.0]]}}, 400, "[0, 1]"),
    ({"data": {"ndarray": [[1, 999]]}}, 400, "0..255"),
    ({"data": {"tensor": {"shape": [2, 2], "values": [1.0, "NaN", 0.0, 0.0]}}}, 400, "strings"),
    ({"data": {"tensor": {"shape": [5, 32, 32], "values": [0] * 5120}}}, 400, "channels"),
    ({"data": {"tensor": {"shape": [1, 1, 5000, 5000], "values": []}}}, 413, "max_pixels"),
    ({"data": {"ndarray": np.zeros((MAX_BATCH + 1, 2, 2, 1), int).tolist()}}, 413, "max_batch"),
]


@pytest.mark.parametrize(("body", "code", "phrase"), BAD_REST)
def test_bad_rest_input_gets_4xx_with_a_seldon_status(
    body: Any, code: int, phrase: str, service: Microservice
) -> None:
    reply = post(service, body)
    assert reply.status_code == code, reply.text
    status = reply.json()["status"]
    assert status["code"] == code and status["status"] == "FAILURE"
    assert phrase in status["info"]


def test_a_body_that_is_not_json_is_a_400(service: Microservice) -> None:
    # Refused by Seldon's wrapper before the component runs (its own status body).
    reply = requests.post(
        f"{service.url}/transform-input",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 400
    assert "JSON" in reply.json()["status"]["info"]


def _tf(dtype: int, shape: list[int], **fields: Any) -> prediction_pb2.SeldonMessage:
    proto = tensor_pb2.TensorProto(dtype=dtype, **fields)
    for n in shape:
        proto.tensor_shape.dim.add(size=n)
    return prediction_pb2.SeldonMessage(data=prediction_pb2.DefaultData(tftensor=proto))


BAD_GRPC = [
    (prediction_pb2.SeldonMessage(binData=b"garbage"), "INVALID_ARGUMENT", "not a PNG or JPEG"),
    (
        prediction_pb2.SeldonMessage(binData=_png_header(5000, 5000)),
        "RESOURCE_EXHAUSTED",
        "max_pixels",
    ),
    (prediction_pb2.SeldonMessage(strData="x"), "INVALID_ARGUMENT", "strData"),
    (_tf(types_pb2.DT_FLOAT, [4, 4], float_val=[float("inf")]), "INVALID_ARGUMENT", "infinite"),
    (_tf(types_pb2.DT_UINT8, [4, 4], tensor_content=b"\0" * 3), "INVALID_ARGUMENT", "needs 16"),
    (_tf(types_pb2.DT_UINT8, [1, 1, 5000, 5000]), "RESOURCE_EXHAUSTED", "max_pixels"),
    (
        _tf(types_pb2.DT_UINT8, [MAX_BATCH + 1, 2, 2, 1], int_val=[0]),
        "RESOURCE_EXHAUSTED",
        "max_batch",
    ),
    (_tf(types_pb2.DT_STRING, [1], string_val=[b"a"]), "INVALID_ARGUMENT", "DT_STRING"),
]


@pytest.mark.parametrize(("request_", "code", "phrase"), BAD_GRPC)
def test_bad_grpc_input_aborts_with_our_code(
    request_: prediction_pb2.SeldonMessage,
    code: str,
    phrase: str,
    stub: prediction_pb2_grpc.TransformerStub,
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.TransformInput(request_, timeout=30)
    error: Any = caught.value
    assert error.code() == getattr(grpc.StatusCode, code)
    assert phrase in json.loads(error.details())["status"]["info"]


def test_service_still_answers_after_bad_input(
    service: Microservice, stub: prediction_pb2_grpc.TransformerStub, pngs: list[bytes]
) -> None:
    assert service.process.poll() is None
    health = requests.get(f"{service.url}/health/status", timeout=10)
    assert health.status_code == 200
    reply = post(service, {"binData": base64.b64encode(pngs[1]).decode()})
    assert reply.status_code == 200 and rest_array(reply.json()).shape == (1, 3, 32, 32)
    grpc_reply = stub.TransformInput(prediction_pb2.SeldonMessage(binData=pngs[1]), timeout=30)
    assert tensor_proto_to_array(grpc_reply.data.tftensor).shape == (1, 3, 32, 32)
