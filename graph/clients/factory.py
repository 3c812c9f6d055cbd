"""Build one client per graph node for a transport.

``build_clients`` gives REST clients sharing one pooled aiohttp session, or gRPC clients
with one ``grpc.aio`` channel per node; ``build_inprocess_clients`` wraps component
objects living in this process. Nodes the executor never calls (a ``RANDOM_ABTEST``
router, a plain fan-out node) need no endpoint.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal

import aiohttp
import grpc
from seldon_core.metrics import SeldonMetrics

from graph.clients.base import NodeClient, NodeEndpoint, Timeouts
from graph.clients.grpc import GrpcNodeClient
from graph.clients.inprocess import InProcessNodeClient
from graph.clients.replicas import replicated
from graph.clients.rest import RestNodeClient
from graph.spec import PredictorSpec
from model.errors import ConfigError

# gRPC carries float32 image batches: lift grpc's 4 MiB default like Seldon's annotation
DEFAULT_GRPC_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def build_clients(
    predictor: PredictorSpec,
    endpoints: Mapping[str, NodeEndpoint],
    transport: Literal["rest", "grpc"],
    timeouts: Timeouts,
    *,
    session: aiohttp.ClientSession | None = None,
    grpc_max_message_bytes: int = DEFAULT_GRPC_MAX_MESSAGE_BYTES,
) -> dict[str, NodeClient]:
    """A client per node that the executor calls, keyed by node name.

    REST needs ``session`` (shared, owned by the caller: close it yourself). gRPC
    channels are created here and closed by each client's ``close()``. Must be called
    inside the running event loop (grpc.aio channels bind to it).
    """
    clients: dict[str, NodeClient] = {}
    for node in predictor.nodes():
        if not node.role.needs_client:
            continue
        endpoint = endpoints.get(node.name)
        if endpoint is None:
            raise ConfigError(f"{node.path or node.name}: no endpoint for node {node.name}")
        if transport == "rest":
            if session is None:
                raise ConfigError("REST clients need a shared aiohttp session")
            clients[node.name] = replicated(  # replicas: graph/clients/replicas.py
                node.name, endpoint, functools.partial(_rest_client, node.name, session, timeouts)
            )
        elif transport == "grpc":
            options = [
                ("grpc.max_send_message_length", grpc_max_message_bytes),
                ("grpc.max_receive_message_length", grpc_max_message_bytes),
            ]
            clients[node.name] = replicated(  # replicas: graph/clients/replicas.py
                node.name, endpoint, functools.partial(_grpc_client, node.name, options, timeouts)
            )
        else:
            raise ConfigError(f"unknown transport {transport!r} (rest or grpc)")
    return clients


def _rest_client(
    name: str, session: aiohttp.ClientSession, timeouts: Timeouts, endpoint: NodeEndpoint
) -> RestNodeClient:
    return RestNodeClient(name, endpoint, session, timeouts.rest_s)


def _grpc_client(
    name: str, options: list[tuple[str, int]], timeouts: Timeouts, endpoint: NodeEndpoint
) -> GrpcNodeClient:
    channel = grpc.aio.insecure_channel(endpoint.grpc_target, options=options)
    return GrpcNodeClient(name, endpoint, channel, timeouts.grpc_s, owns_channel=True)


def build_inprocess_clients(
    predictor: PredictorSpec,
    components: Mapping[str, Any],
    *,
    seldon_metrics: SeldonMetrics | None = None,
) -> dict[str, NodeClient]:
    """In-process clients for the nodes the executor calls; ``components`` by node name.
    One ``SeldonMetrics`` is shared by all of them."""
    metrics = seldon_metrics
    clients: dict[str, NodeClient] = {}
    for node in predictor.nodes():
        if not node.role.needs_client:
            continue
        if node.name not in components:
            raise ConfigError(f"{node.path or node.name}: no component for node {node.name}")
        if metrics is None:
            metrics = SeldonMetrics()
        clients[node.name] = InProcessNodeClient(
            node.name, components[node.name], seldon_metrics=metrics
        )
    return clients


async def close_clients(clients: Mapping[str, NodeClient]) -> None:
    """Close every client (gRPC channels, in-process thread pools)."""
    for client in clients.values():
        await client.close()
