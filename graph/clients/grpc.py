"""Call a node's Seldon gRPC services over one ``grpc.aio`` channel per node.

Requests are ``SeldonMessage`` protos (``SeldonMessageList`` for Aggregate, ``Feedback``
for SendFeedback) with the puid in the ``seldon-puid`` metadata, as Seldon's executor
sends them. A failed call keeps its status: the node's gRPC code maps back to our error
(``model.errors.error_for_grpc``: INVALID_ARGUMENT -> ``InvalidInput`` ...), UNAVAILABLE
-> ``Unavailable`` and DEADLINE_EXCEEDED -> ``Timeout``; a Seldon ``status`` JSON in the
details gives the text.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from graph.clients.base import NodeEndpoint, failure_error
from graph.payload import PUID_METADATA, Payload, ProtoPayload, feedback_proto, message_proto
from model.errors import SeldonGraphError, Timeout, Unavailable, error_for_grpc, http_for_grpc


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
        try:
            reply = await stub(request, timeout=self._timeout, metadata=((PUID_METADATA, puid),))
        except grpc.aio.AioRpcError as exc:
            raise self._error(method, exc) from exc
        payload = ProtoPayload(reply)
        failure = payload.failure()
        if failure is not None:
            raise failure_error(self.name, failure)
        return payload

    def _error(self, method: str, exc: grpc.aio.AioRpcError) -> SeldonGraphError:
        code, details = exc.code(), exc.details() or ""
        if code == grpc.StatusCode.UNAVAILABLE:
            return Unavailable(f"node {self.name} unavailable: {details}")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return Timeout(f"node {self.name} did not answer {method} within {self._timeout:g}s")
        status = _status_from_details(details)
        if status is not None:
            return failure_error(self.name, {**status, "code": http_for_grpc(code)})
        return error_for_grpc(
            code, f"node {self.name}: {method} failed with {code.name}: {details}"
        )


def _status_from_details(details: str) -> dict[str, Any] | None:
    """The Seldon ``status`` our components put in the details as JSON, if any."""
    try:
        parsed = json.loads(details)
    except ValueError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("status"), dict):
        return dict(parsed["status"])
    return None
