"""model.artifacts: metadata round trip, sha256 checks refuse tampered files, safe loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model import artifacts
from model.artifacts import (
    ModelMetadata,
    load_array,
    load_metadata,
    load_state_dict,
    read_metadata,
    sha256_file,
    verify_artifacts,
    write_metadata,
)
from model.errors import ArtifactError

META = {
    "version": "v9",
    "architecture": "resnet18",
    "classes": [str(i) for i in range(10)],
    "input_size": [3, 32, 32],
    "normalisation": {"mean": [0.3] * 3, "std": [0.32] * 3},
    "pixel_scale": 255.0,
    "accuracy": 0.97,
    "seed": 4,
    "epochs": 2,
    "drift": {
        "encoder": "drift_encoder.pt",
        "reference": "drift_reference.npy",
        "encoding_dim": 32,
    },
}


@pytest.fixture
def version_dir(tmp_path: Path) -> Path:
    """A small artifact directory: a real state_dict, an array and metadata.json."""
    torch.manual_seed(0)
    torch.save(torch.nn.Linear(4, 3).state_dict(), tmp_path / "weights.pt")
    np.save(tmp_path / "drift_reference.npy", np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2))
    write_metadata(tmp_path, META)
    return tmp_path


def test_sha256_file_matches_hashlib_of_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_write_metadata_hashes_every_other_file_and_reads_back(version_dir: Path) -> None:
    meta = read_metadata(version_dir)
    assert set(meta["files"]) == {"weights.pt", "drift_reference.npy"}
    assert meta["files"]["weights.pt"] == sha256_file(version_dir / "weights.pt")
    assert {k: v for k, v in meta.items() if k != "files"} == META
    assert verify_artifacts(version_dir) == meta


def test_model_metadata_is_a_typed_view_of_the_dict(version_dir: Path) -> None:
    meta = load_metadata(version_dir)
    assert meta.version == "v9"
    assert meta.classes == tuple(META["classes"])  # type: ignore[arg-type]
    assert meta.input_size == (3, 32, 32) and meta.image_size == 32
    assert meta.mean == (0.3, 0.3, 0.3) and meta.std == (0.32, 0.32, 0.32)
    assert meta.encoding_dim == 32 and meta.drift_reference == "drift_reference.npy"
    with pytest.raises(AttributeError):
        meta.version = "v2"  # type: ignore[misc]


@pytest.mark.parametrize(
    "change, word",
    [
        ({"input_size": [3, 32]}, "input_size"),
        ({"normalisation": {"mean": [0.3], "std": [0.3] * 3}}, "per channel"),
        ({"normalisation": {"mean": [0.3] * 3, "std": [0.0] * 3}}, "positive"),
        ({"normalisation": {"mean": [0.3] * 3}}, "std"),
    ],
)
def test_model_metadata_rejects_bad_values(change: dict, word: str) -> None:
    with pytest.raises(ArtifactError, match=word):
        ModelMetadata.from_dict({**META, "files": {}, **change})


def test_missing_metadata_is_an_artifact_error(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"metadata\.json not found"):
        read_metadata(tmp_path)


def test_invalid_json_is_an_artifact_error(tmp_path: Path) -> None:
    (tmp_path / "metadata.json").write_text("{not json")
    with pytest.raises(ArtifactError, match=r"unreadable metadata\.json"):
        read_metadata(tmp_path)


def test_missing_keys_are_named(version_dir: Path) -> None:
    meta = json.loads((version_dir / "metadata.json").read_text())
    del meta["architecture"], meta["accuracy"]
    (version_dir / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="missing keys architecture, accuracy"):
        read_metadata(version_dir)


def test_tampered_file_is_refused_naming_it(version_dir: Path) -> None:
    with open(version_dir / "drift_reference.npy", "r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    with pytest.raises(ArtifactError, match=r"drift_reference\.npy: sha256 mismatch"):
        verify_artifacts(version_dir)
    with pytest.raises(ArtifactError, match=r"drift_reference\.npy"):
        load_array(version_dir)
    load_state_dict(version_dir)  # the untouched file still loads


def test_tampered_weights_are_refused_before_unpickling(version_dir: Path) -> None:
    torch.save({"weight": torch.zeros(3, 4)}, version_dir / "weights.pt")
    with pytest.raises(ArtifactError, match=r"weights\.pt: sha256 mismatch"):
        load_state_dict(version_dir)


def test_missing_and_unlisted_files_are_named(version_dir: Path) -> None:
    (version_dir / "weights.pt").unlink()
    with pytest.raises(ArtifactError, match=r"weights\.pt: artifact file is missing"):
        verify_artifacts(version_dir, ["weights.pt"])
    with pytest.raises(ArtifactError, match=r"extra\.bin: not listed"):
        verify_artifacts(version_dir, ["extra.bin"])


def test_weights_load_with_weights_only(version_dir: Path) -> None:
    state = load_state_dict(version_dir, artifacts.WEIGHTS)
    model = torch.nn.Linear(4, 3)
    model.load_state_dict(state)
    torch.manual_seed(0)
    assert torch.equal(model.weight, torch.nn.Linear(4, 3).weight)


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    torch.save({"model": torch.nn.Linear(2, 2)}, tmp_path / "weights.pt")  # a full module
    write_metadata(tmp_path, META)
    with pytest.raises(ArtifactError, match=r"weights\.pt: cannot load state_dict"):
        load_state_dict(tmp_path)


def test_array_round_trip(version_dir: Path) -> None:
    arr = load_array(version_dir, "drift_reference.npy")
    assert arr.dtype == np.float32 and arr.shape == (2, 3, 2, 2)
    assert arr.sum() == sum(range(24))
