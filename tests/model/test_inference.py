"""model.inference (loading, devices, input checks) and TorchPredictor in process."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from seldon_core.proto import prediction_pb2

from model.artifacts import WEIGHTS, load_metadata
from model.devices import select as select_device
from model.errors import ArtifactError, ConfigError, InvalidInput, PayloadTooLarge, Unavailable
from model.images import normalise
from model.inference import (
    InferenceModel,
    autocast_dtype,
    check_input,
    load_model,
)
from model.predictor import TorchPredictor
from model.seldon.tensors import array_to_tensor_proto, tensor_proto_to_array
from model.settings import PredictorSettings, build_settings

torch = pytest.importorskip("torch")
SIZE = (3, 32, 32)


def heldout_inputs(artifacts_dir: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` held-out digits, normalised as the transformer does, and labels."""
    meta = load_metadata(artifacts_dir / "v1")
    with np.load(artifacts_dir / "examples" / "heldout.npz") as data:
        images, labels = data["images"][:n], data["labels"][:n]
    x = images[:, None].astype(np.float32) / meta.pixel_scale
    return normalise(x, meta.mean, meta.std, meta.image_size), labels


def settings(model_uri: str, **params: Any) -> PredictorSettings:
    return build_settings(PredictorSettings, "TorchPredictor", {"model_uri": model_uri, **params})


@pytest.fixture(scope="module")
def v1_model(artifacts_dir: Path) -> InferenceModel:
    return load_model(settings(str(artifacts_dir / "v1"), device="cpu"))


@pytest.fixture
def tampered_dir(artifacts_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "v1"
    shutil.copytree(artifacts_dir / "v1", target)
    weights = target / WEIGHTS
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    return target


# ----- loading and running -----
def test_v1_gives_probabilities_that_sum_to_one_and_classify_heldout_digits(
    v1_model: InferenceModel, artifacts_dir: Path
) -> None:
    x, labels = heldout_inputs(artifacts_dir, 64)
    probs = v1_model.run(x)
    assert probs.shape == (64, 10) and probs.dtype == np.float32
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (probs.argmax(axis=1) == labels).mean() > 0.9
    assert v1_model.describe()["model_version"] == "v1"
    assert v1_model.describe()["cpu_threads"] == torch.get_num_threads()


def test_rows_do_not_depend_on_their_batch(v1_model: InferenceModel, artifacts_dir: Path) -> None:
    x, _ = heldout_inputs(artifacts_dir, 8)
    together = v1_model.run(x)
    alone = np.concatenate([v1_model.run(x[i : i + 1]) for i in range(8)])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_tampered_weights_are_refused(tampered_dir: Path) -> None:
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        load_model(settings(str(tampered_dir), device="cpu"))


def test_missing_or_remote_model_uri_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not a directory"):
        load_model(settings(str(tmp_path / "nope")))
    with pytest.raises(ArtifactError, match="not a local directory"):
        load_model(settings("gs://bucket/model"))
    with pytest.raises(ArtifactError, match=r"metadata\.json not found"):
        load_model(settings(str(tmp_path)))


def test_device_and_autocast_selection() -> None:
    auto = select_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert select_device("cpu").type == "cpu"
    assert autocast_dtype("auto", torch.device("cpu")) is None
    assert autocast_dtype("off", auto) is None
    assert autocast_dtype("bf16", torch.device("cpu")) == torch.bfloat16  # forced: any device
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            select_device("cuda:0")


def test_auto_autocast_is_off_on_cpu(artifacts_dir: Path) -> None:
    model = load_model(settings(str(artifacts_dir / "v1"), device="cpu", amp="auto"))
    assert model.amp is None and model.describe()["amp"] == "off"


def test_forced_bf16_on_cpu_runs_under_autocast_and_agrees_with_float32(
    v1_model: InferenceModel, artifacts_dir: Path
) -> None:
    bf16 = load_model(settings(str(artifacts_dir / "v1"), device="cpu", amp="bf16"))
    assert bf16.amp == torch.bfloat16 and bf16.describe()["amp"] == "bfloat16"
    x, labels = heldout_inputs(artifacts_dir, 64)
    probs, reference = bf16.run(x), v1_model.run(x)
    assert probs.dtype == np.float32  # softmax of the logits cast back to float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert not np.array_equal(probs, reference)  # bfloat16 rounding: autocast really ran
    assert (probs.argmax(axis=1) == reference.argmax(axis=1)).mean() > 0.9
    assert (probs.argmax(axis=1) == labels).mean() > 0.9


# ----- input checks -----
@pytest.mark.parametrize(
    ("x", "message"),
    [
        (
            np.zeros((2, 3, 28, 28), np.float32),
            r"expected shape \(N, 3, 32, 32\), got \(2, 3, 28, 28\)",
        ),
        (np.zeros((3, 32, 32), np.float32), r"got \(3, 32, 32\)"),
        (np.zeros((0, 3, 32, 32), np.float32), "at least one sample"),
        (np.array([["a", "b"]]), "dtype <U1"),
        (np.full((1, 3, 32, 32), np.nan, np.float32), "3072 NaN or infinite"),
        (np.full((1, 3, 32, 32), 1e300), "NaN or infinite"),
        ("text", "got str"),
    ],
)
def test_bad_inputs_are_named(x: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_input(x, SIZE, 8)


def test_too_many_samples_is_payload_too_large() -> None:
    with pytest.raises(PayloadTooLarge, match="9 samples in one request, over max_request_size=8"):
        check_input(np.zeros((9, 3, 32, 32)), SIZE, 8)
    ok = check_input(np.zeros((8, 3, 32, 32), np.int64), SIZE, 8)
    assert ok.dtype == np.float32 and ok.flags.c_contiguous


# ----- TorchPredictor in process -----
def test_predictor_is_unavailable_until_loaded(artifacts_dir: Path) -> None:
    predictor = TorchPredictor(model_uri=str(artifacts_dir / "v1"))
    with pytest.raises(Unavailable):
        predictor.health_status()
    with pytest.raises(Unavailable):
        predictor.predict_raw({"data": {"ndarray": [[1.0]]}})


def test_predictor_refuses_to_become_ready_with_tampered_weights(tampered_dir: Path) -> None:
    predictor = TorchPredictor(model_uri=str(tampered_dir), device="cpu")
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        predictor.load()
    with pytest.raises(Unavailable):
        predictor.health_status()


def test_predictor_rejects_bad_parameters() -> None:
    with pytest.raises(ConfigError, match="max_batch_size"):
        TorchPredictor(model_uri="x", max_batch_size=0)
    with pytest.raises(ConfigError, match="device"):
        TorchPredictor(model_uri="x", device="tpu")
    with pytest.raises(ConfigError, match="unknown"):
        TorchPredictor(model_uri="x", unknown=1)


@pytest.mark.parametrize("batching", [True, False])
def test_predictor_replies_match_the_model_on_rest_and_grpc(
    batching: bool, v1_model: InferenceModel, artifacts_dir: Path
) -> None:
    predictor = TorchPredictor(model_uri=str(artifacts_dir / "v1"), batching=batching)
    predictor.load()
    x, _ = heldout_inputs(artifacts_dir, 3)
    expected = v1_model.run(x)
    rest = predictor.predict_raw(
        {"data": {"tensor": {"shape": list(x.shape), "values": x.ravel().tolist()}}}
    )
    assert isinstance(rest, dict)
    got = np.asarray(rest["data"]["tensor"]["values"]).reshape(rest["data"]["tensor"]["shape"])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert rest["data"]["names"] == [str(i) for i in range(10)]
    assert rest["meta"]["tags"]["model_version"] == "v1"
    metrics = {m["key"]: m for m in rest["meta"]["metrics"]}
    assert metrics["batch_size"] == {"type": "GAUGE", "key": "batch_size", "value": 3}
    assert {metrics[k]["type"] for k in ("queue_wait_ms", "inference_ms")} == {"TIMER"}
    request = prediction_pb2.SeldonMessage(
        data=prediction_pb2.DefaultData(tftensor=array_to_tensor_proto(x))
    )
    reply = predictor.predict_raw(request)
    assert isinstance(reply, prediction_pb2.SeldonMessage)
    np.testing.assert_allclose(tensor_proto_to_array(reply.data.tftensor), expected, atol=1e-5)
    assert reply.meta.tags["model_version"].string_value == "v1"
    assert list(reply.data.names) == [str(i) for i in range(10)]
