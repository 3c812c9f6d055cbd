"""The BentoML and Ray Serve peers' model, transformer and drift detector.

Imported inside a peer's venv (``benchmarks.peer_env``), so it only reaches modules that
import there: ``benchmarks.peers.digits`` (the classifier every peer runs),
``model.images`` (the transformer's ``prepare_bytes``, found through the venv's
``project_fallback``) and ``model.drift.worker`` (the drift node's buffer and background
thread, loaded from its file: the ``model.drift`` package imports Seldon's protos, which
need protobuf 3). The window test runs in the project's venv
(``benchmarks.peers.window_test``).

Settings come from the environment the benchmark sets (a peer builds its services
without arguments): ``PEER_MODEL_URI`` (artifact directory) and ``PEER_PROJECT_PYTHON``
(the project venv's interpreter, for the window test).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DRIFT_NOTE = (
    "the project's DriftWorker (window 64, buffer 4 windows, p_val 0.05), the "
    "alibi-detect MMD window test in a helper process of the project's venv"
)
MAX_IMAGES = 64  # the manifest's transformer max_batch_size
MAX_PIXELS = 16_777_216
BATCH_SIZE = 32  # samples per batch, as the graph's classifier and MLServer
BATCH_WAIT_S = 0.002  # the classifier's max_delay_ms


@dataclass(frozen=True)
class PeerSettings:
    model_uri: str
    project_python: str

    @classmethod
    def from_env(cls) -> PeerSettings:
        return cls(
            model_uri=os.environ.get("PEER_MODEL_URI", str(ROOT / "artifacts" / "v1")),
            project_python=os.environ.get("PEER_PROJECT_PYTHON", sys.executable),
        )


def peer_env_vars(model_uri: Path) -> dict[str, str]:
    """The environment a peer's server gets from the benchmark (read by ``from_env``)."""
    return {"PYTHONPATH": str(ROOT), "PEER_MODEL_URI": str(model_uri.resolve()),
            "PEER_PROJECT_PYTHON": sys.executable}  # fmt: skip


def load_classifier(settings: PeerSettings) -> Any:
    """The peers' classifier (``digits.Digits``), warmed up at batch 1 and 32."""
    from benchmarks.peers.digits import Digits

    return Digits.load(settings.model_uri)


class Transformer:
    """PNG/JPEG bytes -> normalised float32 (N, 3, S, S), as ``ImageTransformer``."""

    def __init__(self, settings: PeerSettings) -> None:
        from model.artifacts import artifact_dir, load_metadata

        self.metadata = load_metadata(artifact_dir(settings.model_uri))

    def __call__(self, png: bytes) -> np.ndarray:
        from model.images import prepare_bytes

        m = self.metadata
        return prepare_bytes(png, mean=m.mean, std=m.std, size=m.image_size,
                             max_batch_size=MAX_IMAGES, max_pixels=MAX_PIXELS)  # fmt: skip


def _worker_module() -> Any:
    """``model/drift/worker.py`` loaded on its own (not through ``model.drift``)."""
    name = "peer_drift_worker"
    if name not in sys.modules:
        path = ROOT / "model" / "drift" / "worker.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class Drift:
    """The drift node's request path: queue the instances, return the verdict's tags."""

    def __init__(self, settings: PeerSettings) -> None:
        from benchmarks.peers.window_test import P_VAL, WINDOW_SIZE, RemoteWindowTest

        worker = _worker_module()
        self.p_val = P_VAL
        self.test = RemoteWindowTest(settings.project_python, settings.model_uri,
                                     worker.WindowResult)  # fmt: skip
        # the graph's DriftSettings: buffer_windows 4
        self.worker = worker.DriftWorker(self.test, WINDOW_SIZE, 4 * WINDOW_SIZE)
        self.worker.start()

    def __call__(self, x: np.ndarray) -> dict[str, Any]:
        self.worker.submit(len(x), lambda: x)
        return tags(self.worker.verdict)


def tags(verdict: Any) -> dict[str, Any]:
    """The ``drift.*`` tags the graph's drift node adds (nulls before the first window)."""
    if verdict is None:
        return {"drift.is_drift": False, "drift.p_value": None, "drift.distance": None,
                "drift.window": 0}  # fmt: skip
    return {"drift.is_drift": verdict.is_drift, "drift.p_value": verdict.p_value,
            "drift.distance": verdict.distance, "drift.window": verdict.window}  # fmt: skip


# ----- bodies: the same JSON the graph and the batched classifier take -----
def read_tensor(body: bytes) -> np.ndarray:
    """A Seldon REST ``data.tensor`` body -> float32 array of its shape."""
    tensor = json.loads(body)["data"]["tensor"]
    return np.asarray(tensor["values"], dtype=np.float32).reshape(tensor["shape"])


def read_png(body: bytes) -> bytes:
    """A Seldon REST ``binData`` body -> the image bytes."""
    return base64.b64decode(json.loads(body)["binData"])


def tensor_reply(probs: np.ndarray, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Seldon-like reply: ``data.tensor`` probabilities (and ``meta.tags``)."""
    reply: dict[str, Any] = {"data": {"names": [f"t:{i}" for i in range(probs.shape[1])],
                                      "tensor": {"shape": list(probs.shape),
                                                 "values": probs.ravel().tolist()}}}  # fmt: skip
    if meta is not None:
        reply["meta"] = {"tags": meta}
    return reply
