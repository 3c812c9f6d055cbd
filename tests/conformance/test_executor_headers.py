"""Client headers (REST) and metadata (gRPC) reach every node call, the puid with them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import requests
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from graph.clients.base import NodeEndpoint
from tests.conformance.gateway import deployment_doc, local_gateway, recording_node
from tests.fixtures.processes import free_port

JSON = "application/json"


def test_every_client_header_but_content_type_goes_to_every_node() -> None:
    """executor/api/rest/client.go: all request headers are copied onto each node call
    except Content-Type (the payload's), with the puid of the puidHeader middleware."""
    sent = {"Authorization": "Bearer t", "X-Custom": "c1", "User-Agent": "my-agent/1"}
    with recording_node() as t, recording_node() as m:
        graph = {"name": "t", "type": "TRANSFORMER", "children": [{"name": "m"}]}
        with local_gateway(deployment_doc(graph), {"t": t.endpoint(), "m": m.endpoint()}) as g:
            given = requests.post(
                f"{g.url}/predictions",
                data=b"{}",
                headers={**sent, "Content-Type": JSON, "Seldon-Puid": "p-1"},
                timeout=10,
            )
            generated = requests.post(f"{g.url}/predictions", json={}, timeout=10)
    assert given.status_code == generated.status_code == 200
    puid = generated.headers["Seldon-Puid"]
    assert str(uuid.UUID(puid, version=4)) == puid  # uuid4, hyphenated
    for node in (t, m):
        first, second = node.seen
        for key, value in sent.items():
            assert first.headers[key] == value
        assert first.headers["Seldon-Puid"] == "p-1"
        assert second.headers["Seldon-Puid"] == puid


class _RecordingModel(prediction_pb2_grpc.ModelServicer):
    def __init__(self) -> None:
        self.metadata: list[dict[str, Any]] = []

    async def Predict(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.metadata.append(dict(context.invocation_metadata() or ()))
        return request


@contextlib.contextmanager
def grpc_node() -> Iterator[tuple[_RecordingModel, int]]:
    servicer, port = _RecordingModel(), free_port()
    started, holder = threading.Event(), dict[str, Any]()

    def run() -> None:
        async def go() -> None:
            server = grpc.aio.server()
            prediction_pb2_grpc.add_ModelServicer_to_server(servicer, server)
            server.add_insecure_port(f"127.0.0.1:{port}")
            await server.start()
            holder["loop"], holder["stop"] = asyncio.get_running_loop(), asyncio.Event()
            started.set()
            await holder["stop"].wait()
            await server.stop(1)

        asyncio.run(go())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield servicer, port
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(10)


def test_grpc_metadata_and_the_puid_go_to_every_node_call() -> None:
    """executor/api/grpc/client.go + grpc/seldon/client.go: the incoming metadata is the
    outgoing metadata of each node call; the puid travels as ``seldon-puid``."""
    with grpc_node() as (model, port):
        endpoints = {"m": NodeEndpoint("127.0.0.1", free_port(), port)}
        with local_gateway(deployment_doc({"name": "m"}), endpoints) as gateway:
            stub = gateway.seldon_stub()
            request = prediction_pb2.SeldonMessage(strData="x")
            reply = stub.Predict(request, metadata=[("x-team", "t1"), ("seldon-puid", "g-7")])
            stub.Predict(request, metadata=[("x-team", "t2")])
    assert reply.strData == "x"
    first, second = model.metadata
    assert first["x-team"] == "t1" and first["seldon-puid"] == "g-7"
    assert second["x-team"] == "t2"
    assert str(uuid.UUID(second["seldon-puid"], version=4)) == second["seldon-puid"]
