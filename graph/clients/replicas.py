"""Several copies of one node behind one client, as a Kubernetes Service spreads them.

A predictor's componentSpec with ``replicas: N`` runs N pods, and the executor reaches
each node through its Service, which sends every new connection to one of the ready
pods. Locally ``seldon-graph serve`` runs N copies of the node's process
(``graph.runner.plan.copies``) and the gateway talks to them through a
``ReplicaClient``: each call goes to the next ready copy (round robin). A copy that
refuses the connection (it just died and the supervisor has not marked it yet) is
skipped and the call goes to the next one, so a killed copy fails no request while
another one is up. Errors a node answered with are returned as they are (never retried).
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import grpc

from graph.clients.base import NodeClient, NodeEndpoint
from graph.clients.errors import ExecutorError, NodeGrpcError
from graph.payload import Payload
from model.errors import SeldonGraphError, Unavailable


def _always_ready(_index: int) -> bool:
    return True


@dataclass(frozen=True)
class ReplicatedEndpoint(NodeEndpoint):
    """Copy 0's address (as a plain ``NodeEndpoint``) plus every copy's and a readiness
    test by copy index."""

    replicas: tuple[NodeEndpoint, ...] = ()
    is_ready: Callable[[int], bool] = field(default=_always_ready, compare=False)


def _not_connected(exc: BaseException) -> bool:
    """True when the call never reached the node (the connection was refused)."""
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientConnectorError | ConnectionRefusedError):
        return True
    return isinstance(cause, grpc.aio.AioRpcError) and cause.code() == grpc.StatusCode.UNAVAILABLE


class ReplicaClient:
    """A ``NodeClient`` over the clients of a node's copies."""

    def __init__(
        self, name: str, clients: Sequence[NodeClient], is_ready: Callable[[int], bool]
    ) -> None:
        self.name = name
        self.clients = list(clients)
        self._is_ready = is_ready
        self._next = itertools.count()

    def _order(self) -> list[int]:
        start = next(self._next) % len(self.clients)
        order = [(start + k) % len(self.clients) for k in range(len(self.clients))]
        ready = [i for i in order if self._is_ready(i)]
        return ready or order  # none ready: try them all (the gateway checks readiness)

    async def _call(self, method: Callable[[NodeClient], Awaitable[Payload]]) -> Payload:
        last: SeldonGraphError | None = None
        for index in self._order():
            try:
                return await method(self.clients[index])
            except (Unavailable, ExecutorError, NodeGrpcError) as exc:
                if not _not_connected(exc):
                    raise
                last = exc
        assert last is not None
        raise last

    async def predict(self, payload: Payload, puid: str) -> Payload:
        return await self._call(lambda c: c.predict(payload, puid))

    async def transform_input(self, payload: Payload, puid: str) -> Payload:
        return await self._call(lambda c: c.transform_input(payload, puid))

    async def transform_output(self, payload: Payload, puid: str) -> Payload:
        return await self._call(lambda c: c.transform_output(payload, puid))

    async def route(self, payload: Payload, puid: str) -> Payload:
        return await self._call(lambda c: c.route(payload, puid))

    async def aggregate(self, payloads: Sequence[Payload], puid: str) -> Payload:
        return await self._call(lambda c: c.aggregate(payloads, puid))

    async def send_feedback(self, payload: Payload, puid: str) -> Payload:
        return await self._call(lambda c: c.send_feedback(payload, puid))

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


def replicated(
    name: str, endpoint: NodeEndpoint, build: Callable[[NodeEndpoint], Any]
) -> NodeClient:
    """``build(endpoint)``, or a ``ReplicaClient`` over ``build`` of each copy when
    ``endpoint`` is a ``ReplicatedEndpoint`` with several copies."""
    if isinstance(endpoint, ReplicatedEndpoint) and len(endpoint.replicas) > 1:
        return ReplicaClient(name, [build(e) for e in endpoint.replicas], endpoint.is_ready)
    client: NodeClient = build(endpoint)
    return client
