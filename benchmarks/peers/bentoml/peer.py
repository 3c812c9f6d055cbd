"""The ``bentoml`` and ``bentoml_graph`` scenarios: BentoML 1.4 services (``service.py``).

``bentoml serve benchmarks.peers.bentoml.service:<Service>`` in the peer's venv, on a free
loopback port. The venv reaches the project's site-packages (``project_fallback``): the
graph's transformer is the project's ``model.images``, which imports seldon-core.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import servers
from benchmarks.peer_env import NUMPY, PeerEnv
from benchmarks.peers import components

ENV = PeerEnv("bentoml", ("bentoml==1.4.40", NUMPY), "bentoml", project_fallback=True)
REST_PATH = "/predict"
SETTINGS = {
    "service": "1 worker, @bentoml.api(batchable=True, max_batch_size=32, max_latency_ms="
    "60000): adaptive wait, no fixed delay; access log off",
    "ready": "after a burst of 48 requests from 8 threads (ends the dispatcher's training)",
    "rest": f"POST {REST_PATH} {{'x': normalised (1, 3, 32, 32) as nested lists}}",
}
GRAPH_SETTINGS = {
    "services": "Graph entry (transformer) -> Drift -> Classifier (as `bentoml`), 1 worker "
    "each, called with bentoml.depends",
    "runner_connection": "max_requests=1e9, max_age=1e9 s on the called services (upstream "
    "bug: the client between services drops its connection every 100 requests under load)",
    "rest": f"POST {REST_PATH} {{'binData': base64 PNG}}",
    "drift": components.DRIFT_NOTE,
}


def server(name: str, service: str, env: PeerEnv, model_uri: Path) -> servers.Server:
    """``bentoml serve`` of ``service`` (``Classifier`` or ``Graph``)."""
    port = servers.free_port()
    argv = [str(env.bin("bentoml")), "serve", f"benchmarks.peers.bentoml.service:{service}",
            "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    return servers.Server(name, argv, port, env=components.peer_env_vars(model_uri),
                          stop_grace_s=30.0, starts_alone=True)  # fmt: skip
