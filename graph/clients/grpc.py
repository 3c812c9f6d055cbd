"""Call a node's Seldon gRPC services over one ``grpc.aio`` channel per node.

Requests are ``SeldonMessage`` protos (``SeldonMessageList`` for Aggregate, ``Feedback``
for SendFeedback) with the client's metadata and the puid in ``seldon-puid``, as Seldon
Core 1.17.1's executor sends them (``executor/api/grpc/client.go``). A reply goes on as it
came; a failed call is a :class:`NodeGrpcError` keeping the node's code and details, so
the gRPC client sees them unchanged (``executor/api/grpc/seldon/server.go``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from graph.clients.base import NodeEndpoint
from graph.clients.errors import NodeGrpcError
from graph.clients.headers import forwarded
from graph.payload import PUID_METADATA, Payload, ProtoPayload, feedback_proto, message_proto


class GrpcNodeClient:
    """One node over gRPC. ``owns_channel``: ``close()`` closes the channel too."""

    def __init__(
        self,
        name: str,
        endpoint: NodeEndpoint,
        channel: grpc.aio.Channel,
        timeout: float,
        *,
        owns_channel: bool = False,
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self._channel = channel
        self._timeout = timeout
        self._owns_channel = owns_channel
        self._model = prediction_pb2_grpc.ModelStub(channel)
        self._transformer = prediction_pb2_grpc.TransformerStub(channel)
        self._output = prediction_pb2_grpc.OutputTransformerStub(channel)
        self._router = prediction_pb2_grpc.RouterStub(channel)
        self._combiner = prediction_pb2_grpc.CombinerStub(channel)

    async def predict(self, payload: Payload, puid: str) -> Payload:
        return await self._call("Predict", self._model.Predict, message_proto(payload), puid)

    async def transform_input(self, payload: Payload, puid: str) -> Payload:
        call = self._transformer.TransformInput
        return await self._call("TransformInput", call, message_proto(payload), puid)

    async def transform_output(self, payload: Payload, puid: str) -> Payload:
        call = self._output.TransformOutput
        return await self._call("TransformOutput", call, message_proto(payload), puid)

    async def route(self, payload: Payload, puid: str) -> Payload:
        return await self._call("Route", self._router.Route, message_proto(payload), puid)

    async def aggregate(self, payloads: Sequence[Payload], puid: str) -> Payload:
        request = ProtoPayload.aggregate_body(payloads)
        return await self._call("Aggregate", self._combiner.Aggregate, request, puid)

    async def send_feedback(self, payload: Payload, puid: str) -> Payload:
        msg = payload.message
        request = (
            msg if isinstance(msg, prediction_pb2.Feedback) else feedback_proto(payload.to_json())
        )
        return await self._call("SendFeedback", self._model.SendFeedback, request, puid)

    async def close(self) -> None:
        if self._owns_channel:
            await self._channel.close()

    async def _call(
        self, method: str, stub: Callable[..., Awaitable[Any]], request: Any, puid: str
    ) -> ProtoPayload:
        metadata = tuple(forwarded(PUID_METADATA, puid))
        try:
            reply = await stub(request, timeout=self._timeout, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            raise NodeGrpcError(self.name, exc.code(), exc.details() or "") from exc
        return ProtoPayload(reply)
