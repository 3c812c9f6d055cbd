"""BentoML 1.4 services: the classifier with adaptive batching, and the three-node graph.

Run in the ``bentoml`` peer venv (``benchmarks.peers.bentoml.peer``):

- ``bentoml serve benchmarks.peers.bentoml.service:Classifier``: the ``bentoml``
  scenario. ``POST /predict`` with ``{"x": [[[[...]]]]}`` (normalised float32
  (N, 3, 32, 32) as nested lists) answers the probabilities (N, 10). Adaptive batching:
  ``max_batch_size=32``; BentoML has no fixed batch wait, its dispatcher adapts the wait
  to the measured latency within ``max_latency_ms`` (set high so it never refuses).
- ``bentoml serve benchmarks.peers.bentoml.service:Graph``: the ``bentoml_graph``
  scenario. ``POST /predict`` with ``{"binData": "<base64 PNG>"}`` (the graph's REST body)
  runs the transformer in the entry service, then the ``Drift`` service (pass-through:
  it queues the instances and answers only the drift tags) and the batched
  ``Classifier``, each a BentoML service in a process of its own, called through
  ``bentoml.depends``. The reply: the probabilities as ``data.tensor`` and the drift tags
  in ``meta.tags``.

BentoML 1.4's client between services closes its connection after ``max_requests``
(default 100) requests or ``max_age`` (300 s), and under load a request that meets the
closing connection fails (an open upstream bug), so every called service raises both
with ``runner_connection``.
"""

from __future__ import annotations

from typing import Any

import bentoml
import numpy as np

from benchmarks.peers import components

# Keep the connections between services open (the upstream bug in the docstring).
RUNNER_CONNECTION = {"max_requests": 1_000_000_000, "max_age": 1e9}
TRAFFIC = {"timeout": 60}
# No access log line per request (the Seldon servers and MLServer write none either).
LOGGING = {"access": {"enabled": False}}


@bentoml.service(workers=1, traffic=TRAFFIC, logging=LOGGING, runner_connection=RUNNER_CONNECTION)
class Classifier:
    """The peers' classifier (``digits.Digits``) behind BentoML's adaptive batcher."""

    def __init__(self) -> None:
        self.model = components.load_classifier(components.PeerSettings.from_env())

    @bentoml.api(batchable=True, max_batch_size=components.BATCH_SIZE, max_latency_ms=60_000)
    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.run(np.asarray(x, dtype=np.float32))


@bentoml.service(workers=1, traffic=TRAFFIC, logging=LOGGING, runner_connection=RUNNER_CONNECTION)
class Drift:
    """The pass-through drift node: queues the instances, answers the drift tags."""

    def __init__(self) -> None:
        self.drift = components.Drift(components.PeerSettings.from_env())

    @bentoml.api
    def observe(self, x: np.ndarray) -> dict[str, Any]:
        return self.drift(np.asarray(x, dtype=np.float32))


@bentoml.service(workers=1, traffic=TRAFFIC, logging=LOGGING)
class Graph:
    """Entry service: transformer, then drift, then the batched classifier."""

    drift = bentoml.depends(Drift)
    classifier = bentoml.depends(Classifier)

    def __init__(self) -> None:
        self.transform = components.Transformer(components.PeerSettings.from_env())

    @bentoml.api
    async def predict(self, binData: str) -> dict[str, Any]:  # the graph's field name
        import base64

        x = self.transform(base64.b64decode(binData))
        tags = await self.drift.to_async.observe(x)
        probs = await self.classifier.to_async.predict(x)
        return components.tensor_reply(np.asarray(probs), tags)
