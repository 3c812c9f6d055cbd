"""The artifact directory of one model version: metadata.json and sha256-checked files.

Layout (see docs/architecture.md): ``weights.pt``, ``drift_encoder.pt``,
``drift_reference.npy`` and ``metadata.json``, whose ``files`` maps every other file to its
sha256. Components read everything through these functions, so a tampered or truncated
file is refused with an ``ArtifactError`` naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import ArtifactError

METADATA = "metadata.json"
WEIGHTS = "weights.pt"
DRIFT_ENCODER = "drift_encoder.pt"
DRIFT_REFERENCE = "drift_reference.npy"
REQUIRED_KEYS = (
    "version",
    "architecture",
    "classes",
    "input_size",
    "normalisation",
    "pixel_scale",
    "accuracy",
    "files",
)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_metadata(directory: str | os.PathLike[str], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``metadata.json`` with ``files`` = the sha256 of every other file; return it."""
    root = Path(directory)
    files = {
        p.name: sha256_file(p) for p in sorted(root.iterdir()) if p.is_file() and p.name != METADATA
    }
    full = {**meta, "files": files}
    tmp = root / f".{METADATA}.tmp"
    tmp.write_text(json.dumps(full, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, root / METADATA)
    return full


def read_metadata(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``metadata.json``; ``ArtifactError`` if missing, invalid or incomplete."""
    path = Path(directory) / METADATA
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: metadata.json not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable metadata.json: {exc}") from None
    if not isinstance(meta, dict):
        raise ArtifactError(f"{path}: metadata.json must hold a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise ArtifactError(f"{path}: missing keys {', '.join(missing)}")
    if not isinstance(meta["files"], dict):
        raise ArtifactError(f"{path}: 'files' must map file names to sha256 hex digests")
    return meta


def verify_artifacts(
    directory: str | os.PathLike[str], names: Iterable[str] | None = None
) -> dict[str, Any]:
    """Check the sha256 of ``names`` (default: every listed file); return the metadata.

    Raises ``ArtifactError`` naming the first file that is unlisted, missing or altered.
    """
    root = Path(directory)
    meta = read_metadata(root)
    files: dict[str, Any] = meta["files"]
    for name in files if names is None else names:
        if name not in files:
            raise ArtifactError(f"{root / name}: not listed in metadata.json 'files'")
        path = root / name
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            raise ArtifactError(f"{path}: artifact file is missing") from None
        except OSError as exc:
            raise ArtifactError(f"{path}: unreadable artifact file: {exc}") from None
        if actual != files[name]:
            raise ArtifactError(
                f"{path}: sha256 mismatch (expected {files[name]}, got {actual}); "
                "the file was altered or truncated"
            )
    return meta


def load_state_dict(directory: str | os.PathLike[str], name: str = WEIGHTS) -> dict[str, Any]:
    """Verify ``name``'s sha256, then ``torch.load`` it with ``weights_only=True`` on CPU."""
    import torch

    verify_artifacts(directory, [name])
    path = Path(directory) / name
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:
        raise ArtifactError(f"{path}: cannot load state_dict: {exc}") from exc
    if not isinstance(state, dict):
        raise ArtifactError(f"{path}: expected a state_dict, got {type(state).__name__}")
    return state


def load_array(directory: str | os.PathLike[str], name: str = DRIFT_REFERENCE) -> np.ndarray:
    """Verify ``name``'s sha256, then ``np.load`` it (no pickles)."""
    verify_artifacts(directory, [name])
    path = Path(directory) / name
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ArtifactError(f"{path}: cannot load array: {exc}") from exc


@dataclass(frozen=True)
class ModelMetadata:
    """The typed view of ``metadata.json`` the components use."""

    version: str
    architecture: str
    classes: tuple[str, ...]
    input_size: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pixel_scale: float
    accuracy: float
    seed: int | None
    epochs: int | None
    drift_encoder: str
    drift_reference: str
    encoding_dim: int
    files: Mapping[str, str]

    @property
    def image_size(self) -> int:
        """The square input side (``input_size[1]``)."""
        return self.input_size[1]

    @classmethod
    def from_dict(cls, meta: Mapping[str, Any], source: str = METADATA) -> ModelMetadata:
        """Build from the raw dict; ``ArtifactError`` naming ``source`` if a value is bad."""
        try:
            norm = meta["normalisation"]
            drift = meta.get("drift") or {}
            input_size = tuple(int(v) for v in meta["input_size"])
            mean = tuple(float(v) for v in norm["mean"])
            std = tuple(float(v) for v in norm["std"])
            if len(input_size) != 3 or input_size[1] != input_size[2]:
                raise ValueError(f"input_size must be [C, S, S], got {list(input_size)}")
            if len(mean) != input_size[0] or len(std) != input_size[0]:
                raise ValueError("normalisation mean/std need one value per channel")
            if any(s <= 0 for s in std):
                raise ValueError("normalisation std must be positive")
            return cls(
                version=str(meta["version"]),
                architecture=str(meta["architecture"]),
                classes=tuple(str(c) for c in meta["classes"]),
                input_size=(input_size[0], input_size[1], input_size[2]),
                mean=mean,
                std=std,
                pixel_scale=float(meta["pixel_scale"]),
                accuracy=float(meta["accuracy"]),
                seed=None if meta.get("seed") is None else int(meta["seed"]),
                epochs=None if meta.get("epochs") is None else int(meta["epochs"]),
                drift_encoder=str(drift.get("encoder", DRIFT_ENCODER)),
                drift_reference=str(drift.get("reference", DRIFT_REFERENCE)),
                encoding_dim=int(drift.get("encoding_dim", 32)),
                files={str(k): str(v) for k, v in meta["files"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ArtifactError(f"{source}: invalid metadata: {exc}") from exc


def artifact_dir(model_uri: str) -> Path:
    """The local directory of ``model_uri`` (a path or ``file://`` URI; remote URIs refused)."""
    uri = model_uri.removeprefix("file://")
    if "://" in uri:
        raise ArtifactError(
            f"model_uri {model_uri!r} is not a local directory; Seldon's storage initializer "
            "downloads remote models to /mnt/models: pass that path"
        )
    path = Path(uri)
    if not path.is_dir():
        raise ArtifactError(f"model_uri {model_uri!r} is not a directory")
    return path


def load_metadata(directory: str | os.PathLike[str]) -> ModelMetadata:
    """``read_metadata`` then ``ModelMetadata.from_dict``."""
    return ModelMetadata.from_dict(read_metadata(directory), str(Path(directory) / METADATA))
