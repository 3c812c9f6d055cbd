"""The gRPC front end's executor extras: metadata RPCs and the server metric.

Seldon Core 1.17.1 (``executor/api/grpc/seldon/server.go``, ``executor/api/metric/
server.go``): ``seldon.protos.Seldon/ModelMetadata`` answers the named node's metadata
(``Failed to find model <name>`` -> UNKNOWN), ``GraphMetadata`` the graph's
(:mod:`graph.gateway.nodeinfo`); every unary call is observed in ``seldon_api_executor_
server_requests_seconds`` with ``service`` = the full method, ``method`` = ``unary`` and
``code`` = the gRPC code name. The node metadata is read over HTTP and converted.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2

from graph.gateway.dispatch import DeploymentRuntime, Gateway
from graph.gateway.node_metrics import go_code_name
from graph.gateway.nodeinfo import METADATA_PATH, NodeInfo
from model.errors import InternalError, SeldonGraphError

SELDON_SERVICE = "/seldon.protos.Seldon/"
PREDICTOR_METADATA = "seldon-predictor"


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, Any]:
    return {k.lower(): v for k, v in (context.invocation_metadata() or ())}


def _runtime(gateway: Gateway, context: grpc.aio.ServicerContext) -> DeploymentRuntime:
    metadata = _metadata(context)
    return gateway.find(metadata.get("namespace"), metadata.get("seldon"))


async def model_metadata(
    gateway: Gateway, info: NodeInfo, name: str, context: grpc.aio.ServicerContext
) -> prediction_pb2.SeldonModelMetadata:
    try:
        runtime = _runtime(gateway, context)
        predictor = runtime.spec.predictor(runtime.split.choose().predictor)
        reply = await info.node(runtime.name, predictor, name, METADATA_PATH)
        if reply.status != 200:
            raise InternalError(f"node {name}: metadata answered {reply.status}")
        message = json_format.ParseDict(
            reply.json(), prediction_pb2.SeldonModelMetadata(), ignore_unknown_fields=True
        )
    except (SeldonGraphError, ValueError, json_format.ParseError) as exc:
        await context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        raise
    context.set_trailing_metadata(((PREDICTOR_METADATA, predictor.name),))
    return message


async def graph_metadata(
    gateway: Gateway, info: NodeInfo, context: grpc.aio.ServicerContext
) -> prediction_pb2.SeldonGraphMetadata:
    try:
        runtime = _runtime(gateway, context)
        predictor = runtime.spec.predictor(runtime.split.choose().predictor)
        body = await info.graph_metadata(runtime.name, predictor)
        proto = {
            "name": body["name"],
            "models": body["models"],
            "inputs": body["graphinputs"] or [],
            "outputs": body["graphoutputs"] or [],
        }
        message = json_format.ParseDict(
            proto, prediction_pb2.SeldonGraphMetadata(), ignore_unknown_fields=True
        )
    except (SeldonGraphError, ValueError, json_format.ParseError) as exc:
        await context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        raise
    context.set_trailing_metadata(((PREDICTOR_METADATA, predictor.name),))
    return message


class ServerMetrics(grpc.aio.ServerInterceptor):
    """Times every unary ``seldon.protos.Seldon`` call into the executor's server metric."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = str(details.method)
        if handler is None or handler.unary_unary is None or not method.startswith(SELDON_SERVICE):
            return handler
        inner = handler.unary_unary

        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            try:
                reply = await inner(request, context)
            except BaseException:
                code = context.code()
                self._observe(method, context, code or grpc.StatusCode.UNKNOWN, start)
                raise
            self._observe(method, context, grpc.StatusCode.OK, start)
            return reply

        return grpc.unary_unary_rpc_method_handler(
            timed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _observe(
        self, method: str, context: grpc.aio.ServicerContext, code: Any, start: float
    ) -> None:
        try:
            runtime = _runtime(self._gateway, context)
        except SeldonGraphError:
            return
        trailing = dict(context.trailing_metadata() or ())
        predictor = trailing.get(PREDICTOR_METADATA) or next(iter(runtime.split.weights))
        name = go_code_name(code) if isinstance(code, grpc.StatusCode) else str(code)
        self._gateway.metrics.server_request(
            runtime.spec, str(predictor), method, "unary", name, time.perf_counter() - start
        )
