"""Ray Serve deployments: the classifier with ``@serve.batch``, and the three-node graph.

Run in the ``ray`` peer venv by ``benchmarks.peers.ray.launch``:

- ``single()``, the ``ray_serve`` scenario: ``POST /`` with the batched classifier's
  REST body (``data.tensor``, normalised float32 (1, 3, 32, 32)) answers the
  probabilities as ``data.tensor``. ``@serve.batch(max_batch_size=32,
  batch_wait_timeout_s=0.002)``, one replica with 1 CPU and ``max_ongoing_requests=64``
  (Ray's default of 5 would cap a batch at 5).
- ``graph()``, the ``ray_graph`` scenario: ``POST /`` with the graph's REST body
  (``binData`` PNG): the ingress replica runs the transformer, then calls the ``Drift``
  replica (pass-through: queues the instances, answers the drift tags) and the batched
  ``Classifier`` through deployment handles. Fractional CPUs (0.5 + 0.5 + 1) so the
  graph fits Ray's 2 CPUs.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import numpy as np
from ray import serve
from ray.serve.handle import DeploymentHandle
from starlette.requests import Request

from benchmarks.peers import components

ONGOING = 64


@serve.deployment(ray_actor_options={"num_cpus": 1}, max_ongoing_requests=ONGOING)
class Classifier:
    """The peers' classifier (``digits.Digits``) behind ``@serve.batch``."""

    def __init__(self) -> None:
        self.model = components.load_classifier(components.PeerSettings.from_env())

    @serve.batch(max_batch_size=components.BATCH_SIZE, batch_wait_timeout_s=components.BATCH_WAIT_S)
    async def predict(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        sizes = [len(x) for x in xs]
        probs = await asyncio.to_thread(self.model.run, np.concatenate(xs))
        return np.split(probs, np.cumsum(sizes)[:-1])

    async def __call__(self, request: Request) -> dict[str, Any]:
        x = components.read_tensor(await request.body())
        return components.tensor_reply(await self.predict(x))


@serve.deployment(ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=ONGOING)
class Drift:
    """The pass-through drift node: queues the instances, answers the drift tags."""

    def __init__(self) -> None:
        self.drift = components.Drift(components.PeerSettings.from_env())

    def observe(self, x: np.ndarray) -> dict[str, Any]:
        return self.drift(x)


@serve.deployment(ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=ONGOING)
class Ingress:
    """The transformer, then drift, then the classifier."""

    def __init__(self, drift: DeploymentHandle, classifier: DeploymentHandle) -> None:
        self.transform = components.Transformer(components.PeerSettings.from_env())
        self.drift, self.classifier = drift, classifier

    async def __call__(self, request: Request) -> dict[str, Any]:
        x = self.transform(components.read_png(await request.body()))
        tags = await self.drift.observe.remote(x)
        probs = await self.classifier.predict.remote(x)
        return components.tensor_reply(probs, tags)


def single() -> Any:
    return cast(Any, Classifier).bind()


def graph() -> Any:
    ingress, drift, classifier = (cast(Any, d) for d in (Ingress, Drift, Classifier))
    return ingress.bind(drift.bind(), classifier.bind())
