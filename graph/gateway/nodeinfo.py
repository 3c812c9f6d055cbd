"""GET ``/metadata`` and ``/health/status`` of graph nodes, as Seldon's executor proxies them.

Seldon Core 1.17.1 (``executor/api/rest/server.go``, ``executor/predictor/
predictor_process.go``, ``executor/predictor/metadata.go``): ``/api/v1.0/metadata/{model}``
and ``/api/v1.0/status/{model}`` find the node by name in the predictor's graph (unknown:
``Failed to find model <name>``, a 500) and pass on that node's reply; ``/api/v1.0/
metadata`` asks every node and answers ``{"name": <predictor>, "models": {node: ...},
"graphinputs": ..., "graphoutputs": ...}`` with the graph's edge inputs and outputs.

A node with an ``endpoint`` is asked over HTTP (its wrapper serves both transports); an
in-process node through ``seldon_core.seldon_methods``. Nodes the gateway never calls
(built-in routers) have no process: they are left out of ``models``. Each HTTP hop is
reported to the executor's client metric (``/metadata`` or ``/health/status``, ``get``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from seldon_core import seldon_methods

from graph.clients.base import NodeClient
from graph.gateway.metrics import NodeObserver
from graph.spec import NodeSpec, PredictorSpec
from model.errors import InternalError, status_dict

METADATA_PATH = "/metadata"
STATUS_PATH = "/health/status"
_TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass(frozen=True)
class NodeReply:
    """A node's answer, passed on unchanged (status, body, Content-Type)."""

    status: int
    body: bytes
    content_type: str

    def json(self) -> Any:
        return json.loads(self.body)


def failure(info: str) -> NodeReply:
    """The executor's own error reply: always code 500 (``rest/client.go``)."""
    body = json.dumps(status_dict(info, "", 500)["status"])
    return NodeReply(500, ('{"status":' + body + "}").encode(), "application/json")


class NodeInfo:
    """Node metadata and status for the gateway's predictors."""

    def __init__(self) -> None:
        self.clients: dict[tuple[str, str], Mapping[str, NodeClient]] = {}
        self.observers: dict[str, NodeObserver] = {}
        self._session: aiohttp.ClientSession | None = None

    def add(
        self, deployment: str, predictor: str, clients: Mapping[str, NodeClient],
        observer: NodeObserver | None = None,
    ) -> None:  # fmt: skip
        self.clients[deployment, predictor] = clients
        if observer is not None:
            self.observers[deployment] = observer

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def node(
        self, deployment: str, predictor: PredictorSpec, model: str, path: str
    ) -> NodeReply:
        """``path`` of the node named ``model``; ``Failed to find model`` when absent."""
        node = next((n for n in predictor.graph.walk() if n.name == model), None)
        if node is None:
            raise InternalError(f"Failed to find model {model}")
        return await self._get(deployment, predictor.name, node, path)

    async def graph_metadata(self, deployment: str, predictor: PredictorSpec) -> dict[str, Any]:
        """The executor's graph metadata; a node's failure is an :class:`InternalError`."""
        nodes = [n for n in predictor.graph.walk() if self._client(deployment, predictor.name, n)]
        replies = await asyncio.gather(
            *(self._get(deployment, predictor.name, n, METADATA_PATH) for n in nodes)
        )
        models: dict[str, Any] = {}
        for node, reply in zip(nodes, replies, strict=True):
            if reply.status != 200:
                raise InternalError(f"node {node.name}: metadata answered {reply.status}")
            try:
                models[node.name] = reply.json()
            except ValueError as exc:
                raise InternalError(f"node {node.name}: metadata is not JSON") from exc
        first, last = edge_nodes(predictor.graph, models)
        return {
            "name": predictor.name,
            "models": dict(sorted(models.items())),
            "graphinputs": (first or {}).get("inputs"),
            "graphoutputs": (last or {}).get("outputs"),
        }

    def _client(self, deployment: str, predictor: str, node: NodeSpec) -> NodeClient | None:
        return self.clients.get((deployment, predictor), {}).get(node.name)

    async def _get(self, deployment: str, predictor: str, node: NodeSpec, path: str) -> NodeReply:
        client = self._client(deployment, predictor, node)
        if client is None:
            return failure(f"node {node.name} has no process to ask for {path}")
        endpoint = getattr(client, "endpoint", None)
        if endpoint is not None:
            return await self._http_get(deployment, predictor, node.name, endpoint.http_url, path)
        component = getattr(client, "component", None)
        if component is None:
            return failure(f"node {node.name}: cannot ask for {path}")
        return await asyncio.to_thread(_inprocess, client, component, path)

    async def _http_get(
        self, deployment: str, predictor: str, node: str, base: str, path: str
    ) -> NodeReply:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT)
        start = time.perf_counter()
        try:
            async with self._session.get(base + path) as reply:
                body = await reply.read()
                status, ctype = reply.status, reply.headers.get("Content-Type", "")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return failure(f"node {node}: {path}: {exc or type(exc).__name__}")
        observer = self.observers.get(deployment)
        if observer is not None:
            observer.client_request(
                predictor, node, path, "get", str(status), time.perf_counter() - start
            )
        return NodeReply(status, body, ctype)


def _inprocess(client: NodeClient, component: Any, path: str) -> NodeReply:
    try:
        if path == METADATA_PATH:
            answer: Any = seldon_methods.init_metadata(component)
        else:
            answer = seldon_methods.health_status(component, getattr(client, "_metrics", None))
    except Exception as exc:  # the wrapper answers 500 with the error
        return failure(f"{type(exc).__name__}: {exc}")
    return NodeReply(200, json.dumps(answer).encode(), "application/json")


def edge_nodes(
    node: NodeSpec, models: Mapping[str, Any]
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """The metadata whose inputs and outputs are the graph's (``metadata.go``
    ``getEdgeNodes``): a leaf is both; a MODEL/TRANSFORMER takes inputs, its first child
    gives outputs; an OUTPUT_TRANSFORMER and a COMBINER the reverse; a ROUTER both from its
    first child; anything else neither."""
    meta = models.get(node.name)
    if not node.children:
        return meta, meta
    child_in, child_out = edge_nodes(node.children[0], models)
    if node.type in ("MODEL", "TRANSFORMER"):
        return meta, child_out
    if node.type in ("OUTPUT_TRANSFORMER", "COMBINER"):
        return child_in, meta
    if node.type == "ROUTER":
        return child_in, child_out
    return None, None
