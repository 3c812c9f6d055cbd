"""model.training and model.architectures: the default artifacts are complete, verified and as
accurate as recorded; training is skipped when artifacts verify. Never retrains (the
``artifacts_dir`` fixture trains once when the artifacts are missing)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model.architectures import build_classifier, drift_encoder
from model.artifacts import load_array, load_metadata, load_state_dict, read_metadata
from model.errors import ArtifactError
from model.images import normalise
from model.training import train as train_mod
from model.training.data import load_split, shift_images

VERSIONS = ("v1", "v2")


def test_build_classifier_is_an_untrained_torchvision_resnet18() -> None:
    import torchvision

    model = build_classifier("resnet18", num_classes=10)
    assert isinstance(model, torchvision.models.ResNet)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_build_classifier_refuses_unknown_architectures() -> None:
    with pytest.raises(ArtifactError, match="unknown architecture 'resnet-9000'"):
        build_classifier("resnet-9000")


def test_drift_encoder_is_seeded_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a, b, c = drift_encoder(32, seed=0), drift_encoder(32, seed=0), drift_encoder(32, seed=1)
    assert torch.equal(torch.rand(1), expected)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key])
    assert not torch.equal(a.state_dict()["0.weight"], c.state_dict()["0.weight"])
    assert a(torch.zeros(5, 3, 32, 32)).shape == (5, 32)
    assert drift_encoder(8)(torch.zeros(1, 3, 32, 32)).shape == (1, 8)


def test_unknown_versions_and_bad_epochs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown versions"):
        train_mod.train(tmp_path, ["v7"], seed=1, cfg=train_mod.TrainConfig())
    with pytest.raises(SystemExit):
        train_mod.main(["--out", str(tmp_path), "--epochs", "0"])


def heldout_accuracy(version_dir: Path, images: np.ndarray, labels: np.ndarray) -> float:
    """Held-out accuracy recomputed the way the predictor serves: build, load, normalise."""
    meta = load_metadata(version_dir)
    model = build_classifier(meta.architecture, num_classes=len(meta.classes))
    model.load_state_dict(load_state_dict(version_dir))
    model.eval()
    x = normalise(images[:, None] / meta.pixel_scale, meta.mean, meta.std, meta.image_size)
    with torch.inference_mode():
        predicted = model(torch.from_numpy(x)).argmax(1).numpy()
    return float((predicted == labels).mean())


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_stored_accuracy_is_recomputed_from_heldout_npz(artifacts_dir: Path, version: str) -> None:
    heldout = np.load(artifacts_dir / "examples" / "heldout.npz")
    accuracy = heldout_accuracy(artifacts_dir / version, heldout["images"], heldout["labels"])
    stored = read_metadata(artifacts_dir / version)["accuracy"]
    assert accuracy == pytest.approx(stored, abs=1e-6)
    assert accuracy >= train_mod.MIN_ACCURACY


@pytest.mark.slow
def test_shifted_examples_are_a_real_covariate_shift_for_the_model(artifacts_dir: Path) -> None:
    shifted = np.load(artifacts_dir / "examples" / "shifted.npz")
    accuracy = heldout_accuracy(artifacts_dir / "v1", shifted["images"], shifted["labels"])
    assert accuracy < read_metadata(artifacts_dir / "v1")["accuracy"] - 0.1


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_version_directory_matches_the_documented_layout(artifacts_dir: Path, version: str) -> None:
    directory = artifacts_dir / version
    assert {p.name for p in directory.iterdir()} == {
        "weights.pt",
        "drift_encoder.pt",
        "drift_reference.npy",
        "metadata.json",
    }
    meta = read_metadata(directory)
    assert meta["version"] == version and meta["architecture"] == "resnet18"
    assert meta["classes"] == [str(i) for i in range(10)] and meta["input_size"] == [3, 32, 32]
    assert meta["pixel_scale"] == 255.0 and meta["epochs"] >= 1 and isinstance(meta["seed"], int)
    assert meta["drift"] == {
        "encoder": "drift_encoder.pt",
        "reference": "drift_reference.npy",
        "encoding_dim": 32,
    }
    assert set(meta["files"]) == {"weights.pt", "drift_encoder.pt", "drift_reference.npy"}
    assert train_mod.is_current(directory)
    encoder = drift_encoder(meta["drift"]["encoding_dim"])
    encoder.load_state_dict(load_state_dict(directory, "drift_encoder.pt"))


@pytest.mark.slow
def test_versions_differ_as_a_canary_should(artifacts_dir: Path) -> None:
    v1, v2 = (read_metadata(artifacts_dir / v) for v in VERSIONS)
    assert v1["seed"] != v2["seed"]
    assert v1["files"]["weights.pt"] != v2["files"]["weights.pt"]
    assert v1["normalisation"] == v2["normalisation"]


@pytest.mark.slow
def test_drift_reference_holds_normalised_training_inputs(artifacts_dir: Path) -> None:
    directory = artifacts_dir / "v1"
    meta = load_metadata(directory)
    reference = load_array(directory, meta.drift_reference)
    assert reference.dtype == np.float32 and reference.shape == (300, 3, 32, 32)
    split = load_split()
    train_inputs = train_mod.model_inputs(split.train_images, meta.mean, meta.std)
    heldout_inputs = train_mod.model_inputs(split.heldout_images, meta.mean, meta.std)
    train_rows = {row.tobytes() for row in train_inputs}
    assert all(row.tobytes() in train_rows for row in reference)
    assert len({row.tobytes() for row in reference}) > 290
    heldout_rows = {row.tobytes() for row in heldout_inputs}
    assert sum(row.tobytes() in heldout_rows for row in reference) <= 2  # digits duplicates
    mean, std = train_inputs.mean(), train_inputs.std()
    assert abs(mean) < 1e-4 and abs(std - 1.0) < 1e-3  # normalised by the training stats


@pytest.mark.slow
def test_examples_are_the_heldout_split_and_its_shift(artifacts_dir: Path) -> None:
    examples = artifacts_dir / "examples"
    split = load_split()
    heldout, shifted = np.load(examples / "heldout.npz"), np.load(examples / "shifted.npz")
    assert heldout["images"].dtype == np.uint8 and heldout["labels"].dtype == np.int64
    assert np.array_equal(heldout["images"], split.heldout_images)
    assert np.array_equal(heldout["labels"], split.heldout_labels)
    assert np.array_equal(shifted["labels"], split.heldout_labels)
    assert np.array_equal(
        shifted["images"], shift_images(split.heldout_images, train_mod.SHIFT_SEED)
    )
    index = json.loads((examples / "index.json").read_text())
    assert len(index["clean"]) == len(index["shifted"]) == train_mod.N_EXAMPLES
    for kind, source in (("clean", heldout), ("shifted", shifted)):
        for i, entry in enumerate(index[kind]):
            assert entry["file"] == f"{kind}/{i}-{entry['label']}.png"
            image = Image.open(examples / entry["file"])
            assert image.mode == "L" and image.size == (32, 32)
            assert np.array_equal(np.asarray(image), source["images"][i])
            assert entry["label"] == int(source["labels"][i])


@pytest.mark.slow
def test_training_skips_verified_versions_and_redoes_tampered_ones(
    artifacts_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(artifacts_dir / "v1", tmp_path / "v1")
    shutil.copytree(artifacts_dir / "examples", tmp_path / "examples")
    trained: list[str] = []

    def fake_write_version(out: Path, version: str, *args: object) -> dict:
        trained.append(version)
        return {"accuracy": 1.0}

    monkeypatch.setattr(train_mod, "write_version", fake_write_version)
    results = train_mod.train(tmp_path, ["v1"], seed=1, cfg=train_mod.TrainConfig())
    assert trained == [] and results["v1"] == read_metadata(artifacts_dir / "v1")

    with open(tmp_path / "v1" / "weights.pt", "ab") as f:
        f.write(b"\0")
    assert not train_mod.is_current(tmp_path / "v1")
    train_mod.train(tmp_path, ["v1"], seed=1, cfg=train_mod.TrainConfig())
    assert trained == ["v1"]
    train_mod.train(tmp_path, ["v1"], seed=1, cfg=train_mod.TrainConfig(), force=True)
    assert trained == ["v1", "v1"]
