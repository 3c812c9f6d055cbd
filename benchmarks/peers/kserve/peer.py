"""The ``kserve`` scenario: KServe 0.21's Python model server, one process, no batching.

KServe's own batcher is the Go agent sidecar of an InferenceService; the Python server
alone answers each request with its own forward pass. The REST and gRPC endpoints speak
the V2 protocol, so the bodies are the ones Triton gets.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import servers
from benchmarks.peer_env import PeerEnv

ENV = PeerEnv("kserve", ("kserve==0.21.0",), "kserve")
REST_PATH = "/v2/models/digits/infer"
SETTINGS = {
    "batching": "none (KServe batches in its Go agent sidecar, not in the Python server)",
    "workers": 1,
    "rest": f"POST {REST_PATH} (V2 JSON body)",
    "grpc": "inference.GRPCInferenceService/ModelInfer, raw_input_contents",
}


def server(env: PeerEnv, model_uri: Path) -> servers.Server:
    http, grpc = servers.free_port(), servers.free_port()
    argv = [str(env.python()), "-m", "benchmarks.peers.kserve.runtime",
            "--model-uri", str(model_uri.resolve()), "--http-port", str(http),
            "--grpc-port", str(grpc)]  # fmt: skip
    return servers.Server("kserve", argv, http, grpc, env={"PYTHONPATH": str(servers.ROOT)})
