"""The ``pytriton`` scenario: NVIDIA PyTriton 0.7 (Triton + dynamic batching).

The server is ``runtime.py`` in the peer's venv. Triton's Python stub links against
``libpython3.x.so``; without help it finds the system's, not the running Python's, and the
model never loads: ``LD_LIBRARY_PATH`` gets the interpreter's ``LIBDIR`` first.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

from benchmarks import servers
from benchmarks.peer_env import PeerEnv

ENV = PeerEnv("pytriton", ("nvidia-pytriton==0.7.0",), "nvidia-pytriton")
REST_PATH = "/v2/models/digits/infer"
MAX_BATCH_SIZE = 32
MAX_QUEUE_DELAY_US = 5000  # as MLServer's max_batch_time
SETTINGS = {
    "max_batch_size": MAX_BATCH_SIZE,
    "max_queue_delay_microseconds": MAX_QUEUE_DELAY_US,
    "batcher": "Triton dynamic batcher, @batch infer function (one model instance)",
    "rest": f"POST {REST_PATH} (V2 JSON body)",
    "grpc": "inference.GRPCInferenceService/ModelInfer, raw_input_contents",
}


def library_path() -> str:
    """``LD_LIBRARY_PATH`` with this interpreter's ``LIBDIR`` (the venv's base) first."""
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    rest = os.environ.get("LD_LIBRARY_PATH", "")
    return ":".join(p for p in (libdir, rest) if p)


def server(env: PeerEnv, model_uri: Path) -> servers.Server:
    http, grpc, metrics = servers.free_port(), servers.free_port(), servers.free_port()
    argv = [str(env.python()), "-m", "benchmarks.peers.pytriton.runtime",
            "--model-uri", str(model_uri.resolve()), "--http-port", str(http),
            "--grpc-port", str(grpc), "--metrics-port", str(metrics),
            "--max-batch-size", str(MAX_BATCH_SIZE),
            "--max-queue-delay-us", str(MAX_QUEUE_DELAY_US)]  # fmt: skip
    env_vars = {"PYTHONPATH": str(servers.ROOT), "LD_LIBRARY_PATH": library_path()}
    return servers.Server("pytriton", argv, http, grpc, env=env_vars)
