"""``DigitsRuntime``: the same ResNet-18 weights served by MLServer (V2 protocol).

Runs inside ``benchmarks/.work/mlserver-venv`` (MLServer 1.7, pydantic 2), so it imports
nothing from the project (whose packages pin pydantic 1): it reads ``metadata.json``,
checks the sha256 of ``weights.pt`` and builds the torchvision network itself, the way
``model.inference.load_model`` does. The input is one V2 FP32 tensor (N, 3, 32, 32),
already normalised; the output is the class probabilities (N, 10). MLServer's adaptive
batching merges concurrent requests along the first dimension before ``predict``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import torch
import torchvision
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse


class DigitsRuntime(MLModel):
    """Class probabilities for normalised float32 (N, 3, 32, 32) images."""

    async def load(self) -> bool:
        uri = self.settings.parameters.uri if self.settings.parameters else None
        if not uri:
            raise InferenceError("model-settings.json must set parameters.uri")
        directory = Path(uri)
        meta = json.loads((directory / "metadata.json").read_text())
        weights = directory / "weights.pt"
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        if digest != meta["files"]["weights.pt"]:
            raise InferenceError(f"{weights}: sha256 mismatch")
        network = torchvision.models.get_model(
            meta["architecture"], weights=None, num_classes=len(meta["classes"])
        )
        network.load_state_dict(torch.load(weights, weights_only=True, map_location="cpu"))
        self._device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self._network = network.eval().to(self._device).to(memory_format=torch.channels_last)
        self._input_size = tuple(meta["input_size"])
        self._lock = threading.Lock()
        for n in (1, 32):  # warm-up, as the Seldon predictor does
            self._run(np.zeros((n, *self._input_size), dtype=np.float32))
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        if len(payload.inputs) != 1:
            raise InferenceError("expected one input tensor")
        x = NumpyCodec.decode_input(payload.inputs[0])
        if x.ndim != 4 or tuple(x.shape[1:]) != self._input_size:
            raise InferenceError(f"expected shape (N, {self._input_size}), got {x.shape}")
        # Off the event loop, so MLServer keeps reading requests (and batching) meanwhile.
        probs = await asyncio.to_thread(self._run, x)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[NumpyCodec.encode_output("probabilities", probs)],
        )

    def _run(self, x: np.ndarray) -> np.ndarray:
        with self._lock, torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            batch = batch.to(self._device).contiguous(memory_format=torch.channels_last)
            return torch.softmax(self._network(batch).float(), dim=1).cpu().numpy()
