"""Load the classifier from a verified artifact directory and run it on a device.

``load_model(settings)`` reads ``metadata.json``, checks the sha256 of ``weights.pt``
(``model.artifacts.load_state_dict``; a tampered file is refused with ``ArtifactError``),
builds the network and moves it to the device. ``InferenceModel.run(batch)`` maps a float32
(N, C, H, W) batch to class probabilities (N, classes), float32.

One code path for every device:
- device ``auto`` is ``cuda`` when available, else ``cpu``; ``cuda`` / ``cuda:N`` must exist.
- ``torch.inference_mode()``; on CUDA the network and inputs are ``channels_last`` (tensor
  cores). On CPU they stay contiguous NCHW: with torch 2.14's oneDNN, a channels_last
  ResNet-18 run from any thread but the main one (the batcher's worker, Gunicorn's
  threads) took about 9 ms a forward instead of 3 ms at batch 1.
- autocast (``amp``): ``auto`` is bf16 on CUDA when supported, else fp16, and off on CPU;
  ``fp16`` / ``bf16`` force that dtype on any device; ``off`` disables it. Softmax runs in
  float32 either way.
- On CUDA, inputs are staged in a reusable pinned host buffer and copied with
  ``non_blocking=True``.
CUDA is touched only by ``load_model`` and later calls (Seldon forks workers before
``load()``). ``check_input`` is the plain validation of a request array.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from model import devices
from model.architectures import build_classifier
from model.artifacts import WEIGHTS, ModelMetadata, artifact_dir, load_metadata, load_state_dict
from model.errors import ArtifactError, InvalidInput, PayloadTooLarge
from model.settings import PredictorSettings

if TYPE_CHECKING:
    import torch


def check_input(x: Any, input_size: tuple[int, int, int], max_samples: int) -> np.ndarray:
    """A request array -> contiguous float32 (N, C, H, W), or ``InvalidInput`` naming why."""
    expected = f"(N, {', '.join(map(str, input_size))})"
    if not isinstance(x, np.ndarray):
        raise InvalidInput(f"expected a numeric tensor of shape {expected}, got {type(x).__name__}")
    if x.dtype.kind not in "iuf":
        raise InvalidInput(f"expected numbers of shape {expected}, got dtype {x.dtype}")
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(input_size):
        raise InvalidInput(f"expected shape {expected}, got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise InvalidInput(f"expected at least one sample of shape {expected}, got 0")
    if x.shape[0] > max_samples:
        raise PayloadTooLarge(
            f"{x.shape[0]} samples in one request, over max_request_size={max_samples}"
        )
    with np.errstate(over="ignore"):  # values beyond float32 become inf, refused below
        batch = np.ascontiguousarray(x, dtype=np.float32)
    if not batch.flags.writeable:  # e.g. a view of a protobuf's bytes; torch wants to own it
        batch = batch.copy()
    finite = np.isfinite(batch)
    if not finite.all():
        bad = int(batch.size - np.count_nonzero(finite))
        raise InvalidInput(f"input holds {bad} NaN or infinite values (after float32 cast)")
    return batch


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device`` (``None`` = autocast off)."""
    import torch

    if amp == "fp16":
        return torch.float16
    if amp == "bf16":
        return torch.bfloat16
    if amp == "off" or device.type != "cuda":
        return None
    with torch.cuda.device(device):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class InferenceModel:
    """A loaded classifier on its device; ``run`` is thread-safe (one batch at a time)."""

    def __init__(
        self,
        network: torch.nn.Module,
        metadata: ModelMetadata,
        device: torch.device,
        amp: torch.dtype | None,
    ) -> None:
        import torch

        self.metadata = metadata
        self.device = device
        self.amp = amp
        self.memory_format = (
            torch.channels_last if device.type == "cuda" else torch.contiguous_format
        )
        self.network = network.eval().to(device).to(memory_format=self.memory_format)
        self._lock = threading.Lock()
        self._pinned: torch.Tensor | None = None

    def describe(self) -> dict[str, Any]:
        """What is serving: version, architecture, device, autocast dtype, CPU threads."""
        import torch

        return {
            "model_version": self.metadata.version,
            "architecture": self.metadata.architecture,
            "device": str(self.device),
            "amp": str(self.amp).removeprefix("torch.") if self.amp else "off",
            "cpu_threads": torch.get_num_threads(),  # intra-op threads (OMP_NUM_THREADS)
        }

    def run(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, C, H, W) -> float32 probabilities (N, classes)."""
        import torch

        with self._lock, torch.inference_mode():
            x = self._to_device(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
            x = x.contiguous(memory_format=self.memory_format)
            with self._autocast():
                logits = self.network(x)
            return torch.softmax(logits.float(), dim=1).cpu().numpy()

    def warmup(self, sizes: Iterable[int]) -> None:
        """Run zero batches of ``sizes`` samples (kernels, allocator, autotuning)."""
        for n in sizes:
            self.run(np.zeros((n, *self.metadata.input_size), dtype=np.float32))
        if self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        if self.device.type != "cuda":
            return x
        import torch

        if self._pinned is None or self._pinned.shape[0] < x.shape[0]:
            self._pinned = torch.empty(x.shape, dtype=x.dtype).pin_memory()
        staged = self._pinned[: x.shape[0]]
        staged.copy_(x)
        # Safe to reuse the buffer: the previous run ended with a synchronising .cpu().
        return staged.to(self.device, non_blocking=True)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp is None:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(device_type=self.device.type, dtype=self.amp)


def load_model(settings: PredictorSettings) -> InferenceModel:
    """Verify and load the weights of ``settings.model_uri`` onto ``settings.device``."""
    directory = artifact_dir(settings.model_uri)
    metadata = load_metadata(directory)
    state = load_state_dict(directory, WEIGHTS)  # sha256 checked before unpickling
    network = build_classifier(metadata.architecture, num_classes=len(metadata.classes))
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        raise ArtifactError(
            f"{directory / WEIGHTS}: weights do not fit {metadata.architecture} with "
            f"{len(metadata.classes)} classes: {exc}"
        ) from exc
    device = devices.select(settings.device)
    return InferenceModel(network, metadata, device, autocast_dtype(settings.amp, device))
