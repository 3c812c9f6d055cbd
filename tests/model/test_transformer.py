"""ImageTransformer in-process: Seldon messages in (REST dicts, gRPC protos), tensors out."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.protobuf import json_format
from PIL import Image
from seldon_core.proto import prediction_pb2
from seldon_core.proto.tensorflow.core.framework import tensor_pb2, types_pb2

from model.artifacts import write_metadata
from model.errors import ArtifactError, ConfigError, InvalidInput, PayloadTooLarge, Unavailable
from model.images import normalise
from model.seldon.tensors import array_to_tensor_proto, tensor_proto_to_array
from model.training.data import load_images, to_unit
from model.transformer import ImageTransformer, image_transform

MEAN, STD = [0.31, 0.31, 0.31], [0.33, 0.33, 0.33]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A toy artifact directory: only metadata.json, which is all the transformer reads."""
    root = tmp_path_factory.mktemp("v1")
    write_metadata(
        root,
        {
            "version": "v1",
            "architecture": "resnet18",
            "classes": [str(i) for i in range(10)],
            "input_size": [3, 32, 32],
            "normalisation": {"mean": MEAN, "std": STD},
            "pixel_scale": 255.0,
            "accuracy": 0.9,
        },
    )
    return root


@pytest.fixture(scope="module")
def transformer(model_dir: Path) -> ImageTransformer:
    component = ImageTransformer(model_uri=str(model_dir), max_batch_size=4, max_pixels=20_000)
    component.load()
    return component


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_images()[0][:3]


def expected(images: np.ndarray) -> np.ndarray:
    return normalise(to_unit(images), MEAN, STD, 32)


def png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def rest_tensor(reply: dict[str, Any]) -> np.ndarray:
    assert "ndarray" not in reply["data"]
    tensor = reply["data"]["tensor"]
    return np.asarray(tensor["values"], dtype=np.float32).reshape(tensor["shape"])


def test_parameters_are_checked_in_the_constructor(model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="max_batch_size"):
        ImageTransformer(model_uri=str(model_dir), max_batch_size=0)
    with pytest.raises(ConfigError, match="colour"):
        ImageTransformer(model_uri=str(model_dir), colour="red")


def test_not_ready_until_loaded(model_dir: Path, digits: np.ndarray) -> None:
    component = ImageTransformer(model_uri=str(model_dir))
    with pytest.raises(Unavailable):
        component.health_status()
    with pytest.raises(Unavailable):
        component.transform_input_raw({"data": {"ndarray": digits[0].tolist()}})
    component.load()
    assert component.health_status() == {"status": "ok", "version": "v1"}


def test_load_refuses_a_missing_or_broken_metadata(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not found"):
        ImageTransformer(model_uri=str(tmp_path)).load()
    (tmp_path / "metadata.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="unreadable"):
        ImageTransformer(model_uri=str(tmp_path)).load()


def test_image_transform_gives_the_same_tensor_for_bytes_and_arrays(digits: np.ndarray) -> None:
    limits = {"mean": MEAN, "std": STD, "size": 32, "max_batch_size": 4, "max_pixels": 20_000}
    from_bytes = image_transform(png(digits[0]), **limits)  # type: ignore[arg-type]
    from_array = image_transform(digits[0], **limits)  # type: ignore[arg-type]
    np.testing.assert_array_equal(from_bytes, expected(digits[:1]))
    np.testing.assert_array_equal(from_array, from_bytes)


def rest_requests(digits: np.ndarray) -> dict[str, dict[str, Any]]:
    img = digits[0]
    return {
        "binData": {"binData": base64.b64encode(png(img)).decode()},
        "ndarray-ints": {"data": {"ndarray": img.tolist()}},
        "ndarray-floats": {"data": {"ndarray": to_unit(img[None]).tolist()}},
        "tensor-ints": {"data": {"tensor": {"shape": [32, 32, 1], "values": img.ravel().tolist()}}},
        "tensor-floats": {
            "data": {"tensor": {"shape": [1, 1, 32, 32], "values": (img / 255.0).ravel().tolist()}}
        },
        "tftensor-uint8": {
            "data": {"tftensor": json.loads(json_format.MessageToJson(_uint8_proto(img)))}
        },
    }


def _uint8_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_UINT8, tensor_content=array.tobytes())
    for n in array.shape:
        proto.tensor_shape.dim.add(size=n)
    return proto


@pytest.mark.parametrize(
    "kind",
    ["binData", "ndarray-ints", "ndarray-floats", "tensor-ints", "tensor-floats", "tftensor-uint8"],
)
def test_rest_messages_become_data_tensor(
    kind: str, transformer: ImageTransformer, digits: np.ndarray
) -> None:
    request = {**rest_requests(digits)[kind], "meta": {"puid": "abc", "tags": {"client": "t"}}}
    reply = transformer.transform_input_raw(request)
    assert isinstance(reply, dict)
    np.testing.assert_array_equal(rest_tensor(reply), expected(digits[:1]))
    assert reply["meta"]["puid"] == "abc" and reply["meta"]["tags"] == {"client": "t"}


def proto_requests(digits: np.ndarray) -> dict[str, prediction_pb2.SeldonMessage]:
    img = digits[0]
    ints = tensor_pb2.TensorProto(dtype=types_pb2.DT_INT32, int_val=img.ravel().tolist())
    for n in img.shape:
        ints.tensor_shape.dim.add(size=n)
    floats = prediction_pb2.Tensor(shape=[1, 32, 32, 1], values=(img / 255.0).ravel().tolist())
    ndarray = json_format.ParseDict(
        to_unit(img[None]).tolist(), prediction_pb2.DefaultData().ndarray
    )
    return {
        "binData": prediction_pb2.SeldonMessage(binData=png(img)),
        "tftensor-uint8": prediction_pb2.SeldonMessage(
            data=prediction_pb2.DefaultData(tftensor=_uint8_proto(img))
        ),
        "tftensor-float32": prediction_pb2.SeldonMessage(
            data=prediction_pb2.DefaultData(tftensor=array_to_tensor_proto(to_unit(img[None])))
        ),
        "tftensor-int_val": prediction_pb2.SeldonMessage(
            data=prediction_pb2.DefaultData(tftensor=ints)
        ),
        "tensor": prediction_pb2.SeldonMessage(data=prediction_pb2.DefaultData(tensor=floats)),
        "ndarray": prediction_pb2.SeldonMessage(data=prediction_pb2.DefaultData(ndarray=ndarray)),
    }


@pytest.mark.parametrize(
    "kind",
    ["binData", "tftensor-uint8", "tftensor-float32", "tftensor-int_val", "tensor", "ndarray"],
)
def test_grpc_messages_become_float32_tftensor(
    kind: str, transformer: ImageTransformer, digits: np.ndarray
) -> None:
    request = proto_requests(digits)[kind]
    request.meta.puid = "p-1"
    request.meta.tags["client"].string_value = "t"
    reply = transformer.transform_input_raw(request)
    assert isinstance(reply, prediction_pb2.SeldonMessage)
    tensor = reply.data.tftensor
    assert tensor.dtype == types_pb2.DT_FLOAT and len(tensor.tensor_content) == 3 * 32 * 32 * 4
    np.testing.assert_array_equal(tensor_proto_to_array(tensor), expected(digits[:1]))
    assert reply.meta.puid == "p-1" and reply.meta.tags["client"].string_value == "t"


def test_a_batch_keeps_its_order(transformer: ImageTransformer, digits: np.ndarray) -> None:
    reply = transformer.transform_input_raw({"data": {"ndarray": digits[..., None].tolist()}})
    np.testing.assert_array_equal(rest_tensor(reply), expected(digits))


def test_a_single_tftensor_value_is_broadcast_like_tensorflow() -> None:
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[0.5])
    proto.tensor_shape.dim.add(size=2)
    proto.tensor_shape.dim.add(size=3)
    np.testing.assert_array_equal(tensor_proto_to_array(proto), np.full((2, 3), 0.5, np.float32))


BAD_REST: list[tuple[Any, type[Exception], str]] = [
    ({"strData": "hello"}, InvalidInput, "strData is not accepted"),
    ({"jsonData": {"a": 1}}, InvalidInput, "jsonData is not accepted"),
    ({"meta": {}}, InvalidInput, "exactly one of"),
    ({"binData": "aGk=", "data": {"ndarray": [[1]]}}, InvalidInput, "exactly one of"),
    ([1, 2, 3], InvalidInput, "JSON object"),
    ({"data": {"names": []}}, InvalidInput, "exactly one of tensor, ndarray, tftensor"),
    ({"binData": "***not base64***"}, InvalidInput, "not valid base64"),
    ({"binData": base64.b64encode(b"garbage").decode()}, InvalidInput, "not a PNG or JPEG"),
    ({"data": {"ndarray": [[1, 2], [3]]}}, InvalidInput, "ragged"),
    ({"data": {"ndarray": [["a", "b"], ["c", "d"]]}}, InvalidInput, "strings"),
    ({"data": {"ndarray": [[{"x": 1}, None]]}}, InvalidInput, "objects or nulls"),
    ({"data": {"ndarray": [[True, False]]}}, InvalidInput, "booleans"),
    ({"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3]}}}, InvalidInput, "needs 4"),
    ({"data": {"tensor": {"shape": [2, -2], "values": []}}}, InvalidInput, "negative"),
    ({"data": {"tensor": {"shape": "2x2", "values": []}}}, InvalidInput, "list of integers"),
    ({"data": {"tensor": {"shape": [10**9], "values": []}}}, PayloadTooLarge, "max_pixels=20000"),
    ({"data": {"tftensor": {"dtype": "DT_STRING"}}}, InvalidInput, "DT_STRING"),
    ({"data": {"tftensor": {"dtype": "DT_BOGUS"}}}, InvalidInput, "not a valid TensorProto"),
    ({"data": {"ndarray": [[1.0, 2.0]]}}, InvalidInput, "[0, 1]"),
    ({"data": {"ndarray": [[300, 2]]}}, InvalidInput, "0..255"),
    ({"data": {"ndarray": [1, 2, 3]}}, InvalidInput, "rank 1"),
    ({"data": {"ndarray": np.zeros((5, 4, 4, 1), int).tolist()}}, PayloadTooLarge, "max_batch"),
]


@pytest.mark.parametrize(("request_", "error", "phrase"), BAD_REST)
def test_bad_rest_messages_are_refused_naming_the_problem(
    request_: Any, error: type[Exception], phrase: str, transformer: ImageTransformer
) -> None:
    with pytest.raises(error) as caught:
        transformer.transform_input_raw(request_)
    assert type(caught.value) is error and phrase in str(caught.value)


def _proto(**fields: Any) -> prediction_pb2.SeldonMessage:
    return prediction_pb2.SeldonMessage(**fields)


def _tf(dtype: int, shape: list[int], **fields: Any) -> prediction_pb2.SeldonMessage:
    proto = tensor_pb2.TensorProto(dtype=dtype, **fields)
    for n in shape:
        proto.tensor_shape.dim.add(size=n)
    return _proto(data=prediction_pb2.DefaultData(tftensor=proto))


BAD_GRPC: list[tuple[prediction_pb2.SeldonMessage, type[Exception], str]] = [
    (_proto(strData="x"), InvalidInput, "strData is not accepted"),
    (_proto(), InvalidInput, "an empty message is not accepted"),
    (_proto(data=prediction_pb2.DefaultData()), InvalidInput, "no tensor, ndarray or tftensor"),
    (_tf(types_pb2.DT_UINT8, [4, 4], tensor_content=b"\0" * 15), InvalidInput, "needs 16"),
    (_tf(types_pb2.DT_STRING, [1], string_val=[b"a"]), InvalidInput, "DT_STRING"),
    (_tf(types_pb2.DT_FLOAT, [1, 1, 1000, 1000]), PayloadTooLarge, "max_pixels=20000"),
    (_tf(types_pb2.DT_FLOAT, [4, 4], float_val=[0.1, 0.2]), InvalidInput, "needs 16"),
    (_tf(types_pb2.DT_FLOAT, [4, 4], float_val=[float("nan")]), InvalidInput, "NaN"),
    (_tf(types_pb2.DT_UINT8, [4, 0], tensor_content=b""), InvalidInput, "zero-size"),
]


@pytest.mark.parametrize(("request_", "error", "phrase"), BAD_GRPC)
def test_bad_grpc_messages_are_refused_naming_the_problem(
    request_: prediction_pb2.SeldonMessage,
    error: type[Exception],
    phrase: str,
    transformer: ImageTransformer,
) -> None:
    with pytest.raises(error) as caught:
        transformer.transform_input_raw(request_)
    assert type(caught.value) is error and phrase in str(caught.value)


def test_model_uri_may_be_a_file_uri_like_the_predictor_s(model_dir: Path) -> None:
    component = ImageTransformer(model_uri=f"file://{model_dir}")
    component.load()
    assert component.health_status()["version"] == "v1"
    with pytest.raises(ArtifactError, match="not a local directory"):
        ImageTransformer(model_uri="s3://bucket/v1").load()


def test_integer_arrays_are_read_on_the_model_s_pixel_scale(
    tmp_path: Path, digits: np.ndarray
) -> None:
    """metadata.json's pixel_scale says what an integer pixel value is divided by."""
    write_metadata(
        tmp_path,
        {
            "version": "v9",
            "architecture": "resnet18",
            "classes": [str(i) for i in range(10)],
            "input_size": [3, 32, 32],
            "normalisation": {"mean": MEAN, "std": STD},
            "pixel_scale": 16.0,
            "accuracy": 0.9,
        },
    )
    component = ImageTransformer(model_uri=str(tmp_path))
    component.load()
    sixteen = (digits[:1].astype(np.int64) * 16) // 255  # 0..16, like sklearn's digits
    reply = component.transform_input_raw({"data": {"ndarray": sixteen.tolist()}})
    want = normalise(sixteen[:, None].astype(np.float32) / np.float32(16.0), MEAN, STD, 32)
    np.testing.assert_allclose(rest_tensor(reply), want, rtol=0, atol=1e-6)
    with pytest.raises(InvalidInput, match=r"0\.\.16, got values in 0\.\.17"):
        component.transform_input_raw({"data": {"ndarray": [[0, 17], [3, 4]]}})
    # decoded images are 8-bit whatever the model's scale
    from_png = component.transform_input_raw({"binData": base64.b64encode(png(digits[0])).decode()})
    np.testing.assert_allclose(rest_tensor(from_png), expected(digits[:1]), rtol=0, atol=1e-6)
