"""The gateway's gRPC front end (grpc.aio): ``seldon.protos.Seldon/Predict``,
``SendFeedback``, ``ModelMetadata`` and ``GraphMetadata`` (:mod:`graph.gateway.grpc_extras`).

The deployment is chosen by the ``seldon`` (name) and ``namespace`` metadata, as Seldon's
ingress does; without them the only deployment served answers, an unknown one is
``NOT_FOUND``. The client's metadata goes to every node call, and a node's failure code
and details come back unchanged (``executor/api/grpc/seldon/server.go``); the gateway's
own errors abort with ``grpc_status()`` and the Seldon status JSON as details.
The puid comes from the ``seldon-puid`` metadata (a uuid4 when missing) and goes back in
the initial (header) metadata, as Seldon's executor sends it; ``seldon-predictor`` (the
predictor that answered) in the trailing metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from graph.clients.errors import NodeGrpcError
from graph.clients.headers import grpc_metadata
from graph.gateway import grpc_extras
from graph.gateway.dispatch import FEEDBACK, PREDICT, Gateway, new_puid, predictor_of
from graph.gateway.nodeinfo import NodeInfo
from graph.payload import PUID_METADATA, Payload, ProtoPayload
from graph.request_logger import SKIP_LOGGING_HEADER, skip_logging
from model.errors import as_error, grpc_status
from model.seldon.grpc_status import Undecodable, lenient_parser
from model.seldon.grpc_status import details as status_details
from model.seldon.message import to_proto

PREDICTOR_METADATA = "seldon-predictor"


def to_seldon_message(payload: Payload) -> prediction_pb2.SeldonMessage:
    """The reply as a ``SeldonMessage`` (nodes on REST reply with JSON)."""
    msg = payload.message
    if isinstance(msg, prediction_pb2.SeldonMessage):
        return msg
    return to_proto(payload.to_json(), ignore_unknown=True)


class SeldonGatewayServicer(prediction_pb2_grpc.SeldonServicer):
    """``seldon.protos.Seldon`` in front of the gateway's deployments."""

    def __init__(self, gateway: Gateway, node_info: NodeInfo | None = None) -> None:
        self._gateway = gateway
        self._info = node_info or NodeInfo()

    async def ModelMetadata(
        self, request: prediction_pb2.SeldonModelMetadataRequest, context: grpc.aio.ServicerContext
    ) -> prediction_pb2.SeldonModelMetadata:
        return await grpc_extras.model_metadata(self._gateway, self._info, request.name, context)

    async def GraphMetadata(
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> prediction_pb2.SeldonGraphMetadata:
        return await grpc_extras.graph_metadata(self._gateway, self._info, context)

    async def Predict(
        self, request: prediction_pb2.SeldonMessage, context: grpc.aio.ServicerContext
    ) -> prediction_pb2.SeldonMessage:
        return await self._call(PREDICT, request, context)

    async def SendFeedback(
        self, request: prediction_pb2.Feedback, context: grpc.aio.ServicerContext
    ) -> prediction_pb2.SeldonMessage:
        return await self._call(FEEDBACK, request, context)

    async def _call(
        self, method: str, request: Any, context: grpc.aio.ServicerContext
    ) -> prediction_pb2.SeldonMessage:
        pairs = tuple(context.invocation_metadata() or ())
        metadata = {k.lower(): v for k, v in pairs}
        puid = str(metadata.get(PUID_METADATA) or new_puid())
        skip = SKIP_LOGGING_HEADER.lower()
        skip_logging(str(v) for k, v in pairs if k.lower() == skip)
        forward = [*grpc_metadata(pairs), (PUID_METADATA, puid)]  # to every node call
        await context.send_initial_metadata(((PUID_METADATA, puid),))
        trailing: list[tuple[str, str]] = []
        try:
            if isinstance(request, Undecodable):
                raise request.as_error()
            runtime = self._gateway.find(metadata.get("namespace"), metadata.get("seldon"))
            answer = await self._gateway.call(
                runtime, method, ProtoPayload(request), puid, "grpc", forward
            )
            reply = to_seldon_message(answer.payload)
        except Exception as exc:
            predictor = predictor_of(exc)
            if predictor:
                trailing.append((PREDICTOR_METADATA, predictor))
            context.set_trailing_metadata(tuple(trailing))
            if isinstance(exc, NodeGrpcError):  # a node's code and details, unchanged
                await context.abort(exc.code, exc.details)
            error = as_error(exc)
            await context.abort(grpc_status(error), status_details(error))
            raise  # abort raises; this line is never reached
        trailing.append((PREDICTOR_METADATA, answer.predictor))
        context.set_trailing_metadata(tuple(trailing))
        return reply


def _lenient_handlers(servicer: SeldonGatewayServicer) -> grpc.GenericRpcHandler:
    def handler(method: Callable[..., Any], message_cls: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            method,
            request_deserializer=lenient_parser(message_cls),
            response_serializer=prediction_pb2.SeldonMessage.SerializeToString,
        )

    return grpc.method_handlers_generic_handler(
        "seldon.protos.Seldon",
        {
            "Predict": handler(servicer.Predict, prediction_pb2.SeldonMessage),
            "SendFeedback": handler(servicer.SendFeedback, prediction_pb2.Feedback),
        },
    )


def create_server(
    gateway: Gateway, max_message_bytes: int, node_info: NodeInfo | None = None
) -> tuple[grpc.aio.Server, SeldonGatewayServicer]:
    """A grpc.aio server with the Seldon service (ports are added by the caller); every
    unary call is timed into the executor's server metric."""
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.aio.server(options=options, interceptors=[grpc_extras.ServerMetrics(gateway)])
    servicer = SeldonGatewayServicer(gateway, node_info)
    server.add_generic_rpc_handlers((_lenient_handlers(servicer),))  # found first
    prediction_pb2_grpc.add_SeldonServicer_to_server(servicer, server)
    return server, servicer
