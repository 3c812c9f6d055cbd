"""The classifier for the peers' runtimes: the same ResNet-18 weights, torch only.

Runs inside a peer's venv, so it imports nothing from the project (whose packages pin
pydantic 1): it reads ``metadata.json``, checks the sha256 of ``weights.pt`` and builds
the torchvision network itself, the way ``model.inference.load_model`` does. Input:
normalised float32 (N, 3, 32, 32); output: class probabilities float32 (N, 10). Every
peer's runtime calls ``Digits.load`` once and ``Digits.run`` per (batched) call.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import torch
import torchvision

WARMUP_BATCHES = (1, 32)  # as the Seldon predictor warms up


class DigitsError(ValueError):
    """A bad model directory or a request of the wrong shape."""


class Digits:
    """The network, its input size and a lock (one forward pass at a time)."""

    def __init__(self, network: torch.nn.Module, input_size: tuple[int, ...]) -> None:
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.network = network.eval().to(self.device).to(memory_format=torch.channels_last)
        self.input_size = input_size
        self._lock = threading.Lock()

    @classmethod
    def load(cls, directory: str | Path) -> Digits:
        """The model of ``directory`` (``metadata.json`` + ``weights.pt``), warmed up."""
        directory = Path(directory)
        meta = json.loads((directory / "metadata.json").read_text())
        weights = directory / "weights.pt"
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        if digest != meta["files"]["weights.pt"]:
            raise DigitsError(f"{weights}: sha256 mismatch")
        network = torchvision.models.get_model(
            meta["architecture"], weights=None, num_classes=len(meta["classes"])
        )
        network.load_state_dict(torch.load(weights, weights_only=True, map_location="cpu"))
        digits = cls(network, tuple(meta["input_size"]))
        for n in WARMUP_BATCHES:
            digits.run(np.zeros((n, *digits.input_size), dtype=np.float32))
        # In the server's log: the thread count decides a lot on a busy machine.
        print(f"digits: {directory} on {digits.device}, torch {torch.__version__}, "
              f"{torch.get_num_threads()} intra-op threads", flush=True)  # fmt: skip
        return digits

    def check(self, x: np.ndarray) -> np.ndarray:
        """``x`` as float32 (N, *input_size), or ``DigitsError`` saying what is wrong."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1 + len(self.input_size) or tuple(x.shape[1:]) != self.input_size:
            raise DigitsError(f"expected shape (N, {', '.join(map(str, self.input_size))}), "
                              f"got {tuple(x.shape)}")  # fmt: skip
        return x

    def run(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 10) of a checked batch."""
        x = self.check(x)
        with self._lock, torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(x))
            batch = batch.to(self.device).contiguous(memory_format=torch.channels_last)
            return torch.softmax(self.network(batch).float(), dim=1).cpu().numpy()


def split_rows(probs: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """The rows of a merged batch's output back per request (``sizes`` rows each)."""
    if probs.shape[0] != sum(sizes):
        raise DigitsError(f"{probs.shape[0]} output rows for {sum(sizes)} input rows")
    return np.split(probs, np.cumsum(sizes)[:-1]) if sizes else []


def v2_output(probs: np.ndarray) -> dict:
    """A V2 JSON inference response with one FP32 output, ``probabilities``."""
    tensor = {"name": "probabilities", "shape": list(probs.shape), "datatype": "FP32"}
    return {"model_name": "digits", "outputs": [{**tensor, "data": probs.ravel().tolist()}]}


def v2_input(body: bytes | bytearray | str | dict) -> np.ndarray:
    """The one FP32 input tensor of a V2 (KServe/Triton) JSON inference request."""
    request = json.loads(body) if isinstance(body, bytes | bytearray | str) else body
    inputs = request.get("inputs") or []
    if len(inputs) != 1 or inputs[0].get("datatype") != "FP32":
        raise DigitsError("expected one FP32 input tensor")
    shape = [int(n) for n in inputs[0]["shape"]]
    return np.asarray(inputs[0]["data"], dtype=np.float32).reshape(shape)
