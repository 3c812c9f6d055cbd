"""Walk a predictor's graph the way Seldon's executor does, through node clients.

For each node (what it calls is its :mod:`graph.roles` role): 1) input; 2) children —
route first (the node's route, built-in RANDOM_ABTEST, otherwise -1): -1 calls every
child at once, -2 skips them (the message goes on unchanged), N calls child N only; then
aggregate, otherwise the first child's reply goes on; 3) output.

As Seldon Core 1.17.1's executor (``executor/predictor/predictor_process.go``), messages
pass from node to node as they came: no meta is merged, no ``meta.puid`` written (the
puid and the client's headers travel with every node call, :mod:`graph.clients.headers`).
Only with ``inject_routing`` (``SELDON_ENABLE_ROUTING_INJECTION``) does the final reply
get ``meta.routing`` (``{node: route taken}``), and only when it has a ``meta`` object.
The transport of the request is the transport of every hop (``executor/cmd/executor/
main.go``): a gRPC message goes to the ``grpc_clients``, anything else to ``clients``.
The executor only sees ``Payload`` and ``NodeClient``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from graph.clients.base import NodeClient
from graph.clients.headers import forwarding
from graph.payload import Payload, ProtoPayload
from graph.request_logger import Kind, RequestLogger, wants
from graph.roles import RANDOM_ABTEST
from graph.routing import ROUTE_ALL, ROUTE_NONE, RandomABTest, check_route
from graph.spec import DeploymentSpec, NodeSpec, PredictorSpec
from model.errors import ConfigError, InternalError, SeldonGraphError

Clients = Mapping[str, NodeClient]


class NodeObserver(Protocol):
    """Told about every node call (the gateway's metrics implement it)."""

    def node_call(
        self, predictor: str, node: str, method: str, seconds: float, error: BaseException | None
    ) -> None: ...


class Executor:
    """Runs one predictor's graph; safe for many concurrent requests."""

    def __init__(
        self,
        deployment: DeploymentSpec,
        predictor: PredictorSpec | str,
        clients: Mapping[str, NodeClient],
        observer: NodeObserver | None = None,
        logger: RequestLogger | None = None,
        *,
        rng: random.Random | None = None,
        grpc_clients: Mapping[str, NodeClient] | None = None,
        inject_routing: bool = False,
    ) -> None:
        self.deployment = deployment
        self.predictor = (
            predictor if isinstance(predictor, PredictorSpec) else deployment.predictor(predictor)
        )
        self.graph = self.predictor.graph
        self._clients = dict(clients)
        self._grpc_clients = dict(grpc_clients) if grpc_clients is not None else self._clients
        self._inject_routing = inject_routing
        self._observer = observer
        self._logger = logger
        rng = rng or random.Random()
        self._abtests: dict[str, RandomABTest] = {}
        for node in self.graph.walk():
            if node.implementation == RANDOM_ABTEST and not node.role.calls_route:
                self._abtests[node.name] = RandomABTest(node, rng)
            for clients in (self._clients, self._grpc_clients):
                if node.role.needs_client and node.name not in clients:
                    raise ConfigError(f"{node.path or node.name}: no client for node {node.name}")

    def _for(self, payload: Payload) -> Clients:
        """The clients of the request's transport."""
        return self._grpc_clients if isinstance(payload, ProtoPayload) else self._clients

    # ------------------------------------------------------------------------ predict
    async def predict(
        self, payload: Payload, puid: str | None = None, headers: Sequence[tuple[str, str]] = ()
    ) -> Payload:
        """The graph's reply to ``payload``; ``puid`` (a new uuid4 when none) and the
        client's ``headers`` go with every node call."""
        puid = puid or str(uuid.uuid4())
        routing: dict[str, int] = {}
        with forwarding(tuple(headers)):
            reply = await self._predict(self.graph, payload, puid, routing)
        if self._inject_routing:
            with contextlib.suppress(Exception):  # the executor ignores injection errors
                reply.update_routing(routing)
        return reply

    async def _predict(
        self, node: NodeSpec, msg: Payload, puid: str, routing: dict[str, int]
    ) -> Payload:
        role = node.role
        if role.input_method:
            routing[node.name] = ROUTE_ALL
            msg = await self._node_call(node, role.input_method, msg, puid)
        msg = await self._children(node, msg, puid, routing)
        if role.calls_output:
            msg = await self._node_call(node, "transform_output", msg, puid)
        return msg

    async def _children(
        self, node: NodeSpec, msg: Payload, puid: str, routing: dict[str, int]
    ) -> Payload:
        if not node.children:
            return msg
        self._log(node, "request", msg, puid)
        route = check_route(node, await self._route(node, msg, puid))
        routing[node.name] = route
        if route == ROUTE_NONE:
            return msg
        if route == ROUTE_ALL:
            results = await asyncio.gather(
                *(self._predict(child, msg, puid, routing) for child in node.children),
                return_exceptions=True,
            )
            for result in results:  # the first failure, in child order, as Seldon does
                if isinstance(result, BaseException):
                    raise result
            replies = [r for r in results if isinstance(r, Payload)]
        else:
            replies = [await self._predict(node.children[route], msg, puid, routing)]
        if node.role.calls_aggregate:
            routing[node.name] = ROUTE_ALL
            reply = await self._aggregate(node, replies, puid)
        else:
            reply = replies[0]
        self._log(node, "response", reply, puid)
        return reply

    async def _route(self, node: NodeSpec, msg: Payload, puid: str) -> int:
        if not node.role.calls_route:  # a remote /route first, then the built-in
            abtest = self._abtests.get(node.name)
            return abtest.route() if abtest is not None else ROUTE_ALL
        client = self._for(msg)[node.name]
        reply = await self._timed(node, "route", lambda: client.route(msg, puid))
        try:
            return reply.route_value()
        except SeldonGraphError as exc:
            raise InternalError(f"node {node.name}: {exc}") from exc

    async def _aggregate(self, node: NodeSpec, replies: list[Payload], puid: str) -> Payload:
        client = self._for(replies[0])[node.name]
        return await self._timed(node, "aggregate", lambda: client.aggregate(replies, puid))

    async def _node_call(self, node: NodeSpec, method: str, msg: Payload, puid: str) -> Payload:
        """One input/output call with its logging."""
        self._log(node, "request", msg, puid)
        call = getattr(self._for(msg)[node.name], method)
        reply = await self._timed(node, method, lambda: call(msg, puid))
        self._log(node, "response", reply, puid)
        return reply

    # ----------------------------------------------------------------------- feedback
    async def feedback(
        self, payload: Payload, puid: str | None = None, headers: Sequence[tuple[str, str]] = ()
    ) -> Payload:
        """Send feedback down the routes recorded in ``feedback.response.meta.routing``
        (none recorded: every child), children before their parent; the reply is the
        root's (or the feedback itself when the root takes no feedback)."""
        puid = puid or str(uuid.uuid4())
        with forwarding(tuple(headers)):
            return await self._feedback(self.graph, payload, puid, payload.feedback_routing())

    async def _feedback(
        self, node: NodeSpec, msg: Payload, puid: str, routing: Mapping[str, int]
    ) -> Payload:
        self._log(node, "feedback", msg, puid)
        route = routing.get(node.name, ROUTE_ALL)
        if node.children and route != ROUTE_NONE:
            check_route(node, route)
            chosen = node.children if route == ROUTE_ALL else (node.children[route],)
            results = await asyncio.gather(
                *(self._feedback(child, msg, puid, routing) for child in chosen),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        if node.role.calls_feedback:
            client = self._for(msg)[node.name]
            return await self._timed(node, "send_feedback", lambda: client.send_feedback(msg, puid))
        return msg

    # ------------------------------------------------------------------------ helpers
    async def _timed(
        self, node: NodeSpec, method: str, call: Callable[[], Awaitable[Payload]]
    ) -> Payload:
        start = time.perf_counter()
        error: BaseException | None = None
        try:
            return await call()
        except SeldonGraphError as exc:
            error = exc
            raise
        except Exception as exc:  # a client bug must still name the node
            error = InternalError(f"node {node.name}: {type(exc).__name__}: {exc}")
            raise error from exc
        finally:
            if self._observer is not None:
                self._observer.node_call(
                    self.predictor.name, node.name, method, time.perf_counter() - start, error
                )

    def _log(self, node: NodeSpec, kind: Kind, msg: Payload, puid: str) -> None:
        if self._logger is not None and node.logger is not None and wants(node.logger.mode, kind):
            self._logger.log(node.logger.url, kind, msg, puid, node.name)
