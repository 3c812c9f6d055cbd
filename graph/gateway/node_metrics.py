"""The executor's client metric for every node call: a wrapper around each node client.

:class:`InstrumentedClient` times each call of the wrapped :class:`~graph.clients.base.
NodeClient` and reports it with :meth:`~graph.gateway.metrics.NodeObserver.client_request`
under the labels Seldon Core 1.17.1's executor uses (``executor/api/rest/client.go``,
``executor/api/metric/client.go``): over REST the node path (``/predict``), ``post`` and
the node's HTTP status, and no observation at all when no HTTP answer came back (refused,
timed out); over gRPC the full method (``/seldon.protos.Model/Predict``), ``unary`` and
the gRPC code name (``OK``, ``Unavailable``), errors included. In-process nodes count as
REST nodes. Anything else (``endpoint``, ``component``) is read through to the client.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import grpc

from graph.clients.base import NodeClient
from graph.clients.grpc import GrpcNodeClient
from graph.gateway.metrics import NodeObserver
from graph.payload import Payload
from model.errors import as_error, grpc_status, http_status

REST_PATHS = {
    "predict": "/predict", "transform_input": "/transform-input",
    "transform_output": "/transform-output", "route": "/route", "aggregate": "/aggregate",
    "send_feedback": "/send-feedback", "metadata": "/metadata", "status": "/health/status",
}  # fmt: skip
GRPC_METHODS = {
    "predict": "/seldon.protos.Model/Predict",
    "transform_input": "/seldon.protos.Transformer/TransformInput",
    "transform_output": "/seldon.protos.OutputTransformer/TransformOutput",
    "route": "/seldon.protos.Router/Route",
    "aggregate": "/seldon.protos.Combiner/Aggregate",
    "send_feedback": "/seldon.protos.Model/SendFeedback",
    "metadata": "/seldon.protos.Model/Metadata",
}
_GO_NAMES = {"OK": "OK", "CANCELLED": "Canceled"}


def go_code_name(code: grpc.StatusCode) -> str:
    """A gRPC code as grpc-go names it (``Unavailable``, ``InvalidArgument``, ``OK``)."""
    name = code.name
    return _GO_NAMES.get(name) or "".join(w.capitalize() for w in name.split("_"))


def grpc_code_of(exc: BaseException) -> grpc.StatusCode:
    """The gRPC code a failed call carried (the node's own when it answered)."""
    cause = exc.__cause__
    if isinstance(cause, grpc.aio.AioRpcError):
        return cause.code()
    return grpc_status(as_error(exc))


def got_http_answer(exc: BaseException) -> bool:
    """False for a REST call that failed before any HTTP status came back: the REST
    client raises those from the aiohttp/OS error, node replies without a cause."""
    return exc.__cause__ is None


class InstrumentedClient:
    """A node client that reports every call to the executor's client metric."""

    def __init__(self, inner: NodeClient, predictor: str, observer: NodeObserver) -> None:
        self.inner = inner
        self.name = inner.name
        self.predictor = predictor
        self.grpc = isinstance(inner, GrpcNodeClient)
        self._observer = observer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def predict(self, payload: Payload, puid: str) -> Payload:
        return await self._timed("predict", self.inner.predict(payload, puid))

    async def transform_input(self, payload: Payload, puid: str) -> Payload:
        return await self._timed("transform_input", self.inner.transform_input(payload, puid))

    async def transform_output(self, payload: Payload, puid: str) -> Payload:
        return await self._timed("transform_output", self.inner.transform_output(payload, puid))

    async def route(self, payload: Payload, puid: str) -> Payload:
        return await self._timed("route", self.inner.route(payload, puid))

    async def aggregate(self, payloads: Sequence[Payload], puid: str) -> Payload:
        return await self._timed("aggregate", self.inner.aggregate(payloads, puid))

    async def send_feedback(self, payload: Payload, puid: str) -> Payload:
        return await self._timed("send_feedback", self.inner.send_feedback(payload, puid))

    async def close(self) -> None:
        await self.inner.close()

    def observe(self, call: str, seconds: float, exc: BaseException | None, rest: bool) -> None:
        """Report one call (``call`` a key of ``REST_PATHS``), as the executor would."""
        if rest:
            if exc is not None and not got_http_answer(exc):
                return
            code = "200" if exc is None else str(http_status(as_error(exc)))
            self._observer.client_request(
                self.predictor, self.name, REST_PATHS[call], "post", code, seconds
            )
            return
        code = "OK" if exc is None else go_code_name(grpc_code_of(exc))
        self._observer.client_request(
            self.predictor, self.name, GRPC_METHODS[call], "unary", code, seconds
        )

    async def _timed(self, call: str, result: Awaitable[Payload]) -> Payload:
        start = time.perf_counter()
        try:
            reply = await result
        except Exception as exc:
            self.observe(call, time.perf_counter() - start, exc, not self.grpc)
            raise
        self.observe(call, time.perf_counter() - start, None, not self.grpc)
        return reply


def instrument(
    clients: Mapping[str, NodeClient], predictor: str, observer: NodeObserver
) -> dict[str, NodeClient]:
    """Every client of one predictor wrapped in :class:`InstrumentedClient`."""
    return {name: InstrumentedClient(c, predictor, observer) for name, c in clients.items()}
