"""Build the alibi-detect MMD drift test from a model version's artifacts.

``build_window_test(settings)`` verifies and loads ``drift_encoder.pt`` (a state_dict of
``model.architectures.drift_encoder``) and ``drift_reference.npy`` (float32 normalised
model inputs, N x C x S x S), then builds ``MMDDrift(x_ref, backend='pytorch', ...)`` with
the encoder as ``preprocess_fn``. The returned ``WindowTest`` is the callable that
``model.drift.worker.DriftWorker`` runs on each window; it seeds torch and numpy per window
so a window's permutation test gives the same p-value on every run.

Imports torch and alibi-detect (about 8 s) when called: call it from ``load()``.
"""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from model import devices
from model.architectures import drift_encoder
from model.artifacts import (
    ModelMetadata,
    artifact_dir,
    load_array,
    load_metadata,
    load_state_dict,
)
from model.drift.worker import WindowResult
from model.errors import ArtifactError
from model.settings import DriftSettings

ENCODER_BATCH_SIZE = 256


class WindowTest:
    """Run one MMD permutation test on a window of normalised inputs (N, C, S, S)."""

    def __init__(
        self, detector: Any, input_shape: tuple[int, int, int], seed: int, reference_size: int
    ) -> None:
        self.detector = detector
        self.input_shape = input_shape
        self.seed = seed
        self.reference_size = reference_size
        self._calls = 0
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> WindowResult:
        import torch

        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"window shape {x.shape}, expected (N, {self.input_shape})")
        with self._lock:  # one test at a time; the seed depends on the window's index
            seed = self.seed + self._calls
            self._calls += 1
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            with torch.no_grad():
                data = self.detector.predict(x, return_p_val=True, return_distance=True)["data"]
        return WindowResult(
            is_drift=bool(data["is_drift"]),
            p_value=float(data["p_val"]),
            distance=float(data["distance"]),
            threshold=float(data["threshold"]),
        )


def load_reference(directory: Path, meta: ModelMetadata) -> np.ndarray:
    """The sha256-checked reference inputs, checked against the model's input size."""
    x_ref = load_array(directory, meta.drift_reference)
    shape = tuple(meta.input_size)
    if x_ref.dtype != np.float32 or x_ref.ndim != 4 or tuple(x_ref.shape[1:]) != shape:
        expected = ", ".join(map(str, shape))
        raise ArtifactError(
            f"{directory / meta.drift_reference}: expected float32 (N, {expected}), "
            f"got {x_ref.dtype} {x_ref.shape}"
        )
    if len(x_ref) < 2:
        raise ArtifactError(f"{directory / meta.drift_reference}: needs at least 2 instances")
    return x_ref


def load_encoder(directory: Path, meta: ModelMetadata, device: Any) -> Any:
    """The drift encoder with its verified weights, in eval mode on ``device``."""
    encoder = drift_encoder(encoding_dim=meta.encoding_dim)
    state = load_state_dict(directory, meta.drift_encoder)
    try:
        encoder.load_state_dict(state)
    except RuntimeError as exc:
        raise ArtifactError(f"{directory / meta.drift_encoder}: does not fit: {exc}") from exc
    return encoder.eval().to(device)


def build_window_test(settings: DriftSettings) -> WindowTest:
    """Verify the artifacts under ``settings.model_uri`` and build the MMD window test."""
    from alibi_detect.cd import MMDDrift
    from alibi_detect.cd.pytorch import preprocess_drift

    directory = artifact_dir(settings.model_uri)
    meta = load_metadata(directory)
    device = devices.select(settings.device)
    x_ref = load_reference(directory, meta)
    encoder = load_encoder(directory, meta, device)
    detector = MMDDrift(
        x_ref,
        backend="pytorch",
        p_val=settings.p_val,
        n_permutations=settings.n_permutations,
        preprocess_fn=partial(
            preprocess_drift, model=encoder, device=device, batch_size=ENCODER_BATCH_SIZE
        ),
        device=device,
    )
    return WindowTest(detector, meta.input_size, settings.seed, len(x_ref))
