"""Helpers of the executor conformance tests: the local gateway over remote nodes, and a
recording REST node (what the executor sends to a node, byte for byte)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from aiohttp import web
from seldon_core.proto import prediction_pb2_grpc

from graph.clients.base import NodeEndpoint
from graph.gateway.app import GatewayApp, GatewaySettings
from graph.spec import load_deployment
from tests.fixtures.http import serving
from tests.fixtures.threads import in_thread


@dataclass
class Gateway:
    http_port: int
    grpc_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/api/v1.0"

    def seldon_stub(self) -> Any:
        channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        return prediction_pb2_grpc.SeldonStub(channel)


def deployment_doc(graph: dict[str, Any], transport: str = "rest") -> dict[str, Any]:
    predictor = {"name": "p", "graph": graph, "componentSpecs": []}
    return {
        "metadata": {"name": "dep", "namespace": "ns"},
        "spec": {"transport": transport, "predictors": [predictor]},
    }


@contextlib.contextmanager
def local_gateway(
    doc: dict[str, Any], endpoints: Mapping[str, NodeEndpoint], *, inject_routing: bool = False
) -> Iterator[Gateway]:
    """The local gateway (executor) serving ``doc`` with its nodes at ``endpoints``."""
    settings = GatewaySettings(
        http_port=0, grpc_port=0, reload_interval=0, inject_routing=inject_routing
    )

    async def main(stop: asyncio.Event, holder: dict[str, Any]) -> None:
        app = GatewayApp([load_deployment(doc)], settings)
        app.build_remote(lambda dep, pred: endpoints)
        await app.start()
        holder["gateway"] = Gateway(app.http_port, app.grpc_port)
        holder["started"].set()
        try:
            await stop.wait()
        finally:
            await app.stop()

    with in_thread(main) as holder:
        yield holder["gateway"]


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingNode:
    """A REST node that records every request and answers ``replies[path]``:
    ``(status, body, content_type)`` (default: 200, the request's body and type)."""

    port: int = 0
    replies: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def endpoint(self, grpc_port: int = 1) -> NodeEndpoint:
        return NodeEndpoint("127.0.0.1", self.port, grpc_port)

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append(Seen(request.path, dict(request.headers), body))
        status, reply, ctype = self.replies.get(
            request.path, (200, body, request.headers.get("Content-Type", ""))
        )
        return web.Response(status=status, body=reply, headers={"Content-Type": ctype})


@contextlib.contextmanager
def recording_node(**replies: tuple[int, bytes, str]) -> Iterator[RecordingNode]:
    """A :class:`RecordingNode` on a free loopback port; ``replies`` keyed by path with
    ``_`` for ``-`` and no leading ``/`` (``transform_input=...``)."""
    node = RecordingNode(replies={"/" + k.replace("_", "-"): v for k, v in replies.items()})

    async def main(stop: asyncio.Event, holder: dict[str, Any]) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", node.handle)
        async with serving(app, access_log=None) as port:
            node.port = port
            holder["started"].set()
            await stop.wait()

    with in_thread(main):
        yield node
