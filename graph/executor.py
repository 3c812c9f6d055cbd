"""Walk a predictor's graph the way Seldon's executor does, through node clients.

For each node (what it calls is its :mod:`graph.roles` role): 1) input; 2) children —
route first (the node's route, built-in RANDOM_ABTEST, otherwise -1): -1 calls every
child at once, -2 skips them (the message goes on unchanged), N calls child N only; then
aggregate, otherwise the first child's reply goes on; 3) output.

Each reply carries the meta of what it answers (tags: later wins; metrics: concatenated;
requestPath gains ``{node: image}``); the final reply gets ``meta.puid`` and
``meta.routing`` (``{node with children: route taken}``). The executor knows no
transport: it only sees ``Payload`` and ``NodeClient``.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from graph.clients.base import NodeClient
from graph.payload import Payload
from graph.request_logger import Kind, RequestLogger, wants
from graph.roles import RANDOM_ABTEST
from graph.routing import ROUTE_ALL, ROUTE_NONE, RandomABTest, check_route
from graph.spec import DeploymentSpec, NodeSpec, PredictorSpec
from model.errors import ConfigError, InternalError, InvalidInput, SeldonGraphError


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
    ) -> None:
        self.deployment = deployment
        self.predictor = (
            predictor if isinstance(predictor, PredictorSpec) else deployment.predictor(predictor)
        )
        self.graph = self.predictor.graph
        self._clients = dict(clients)
        self._observer = observer
        self._logger = logger
        rng = rng or random.Random()
        self._abtests: dict[str, RandomABTest] = {}
        for node in self.graph.walk():
            if node.implementation == RANDOM_ABTEST:
                self._abtests[node.name] = RandomABTest(node, rng)
            if node.role.needs_client and node.name not in self._clients:
                raise ConfigError(f"{node.path or node.name}: no client for node {node.name}")
        self._images = {node.name: self._image(node) for node in self.graph.walk()}

    def _image(self, node: NodeSpec) -> str:
        container = self.predictor.containers.get(node.name)
        return container.image if container is not None else node.implementation

    # ------------------------------------------------------------------------ predict
    async def predict(self, payload: Payload, puid: str | None = None) -> Payload:
        """The graph's reply to ``payload``; ``puid`` (or meta.puid, or a new uuid4)
        travels to every node and comes back in ``meta.puid``."""
        puid = puid or payload.puid() or str(uuid.uuid4())
        payload.set_puid(puid)
        routing: dict[str, int] = {}
        reply = await self._predict(self.graph, payload, puid, routing)
        reply.update_routing(routing)
        reply.set_puid(puid)
        return reply

    async def _predict(
        self, node: NodeSpec, msg: Payload, puid: str, routing: dict[str, int]
    ) -> Payload:
        role = node.role
        if role.input_method:
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
            reply = await self._aggregate(node, replies, puid)
        else:
            reply = replies[0]
        self._log(node, "response", reply, puid)
        return reply

    async def _route(self, node: NodeSpec, msg: Payload, puid: str) -> int:
        if node.name in self._abtests:
            return self._abtests[node.name].route()
        if not node.role.calls_route:
            return ROUTE_ALL
        client = self._clients[node.name]
        reply = await self._timed(node, "route", lambda: client.route(msg, puid))
        try:
            return reply.route_value()
        except SeldonGraphError as exc:
            raise InternalError(f"node {node.name}: {exc}") from exc

    async def _aggregate(self, node: NodeSpec, replies: list[Payload], puid: str) -> Payload:
        client = self._clients[node.name]
        reply = await self._timed(node, "aggregate", lambda: client.aggregate(replies, puid))
        reply.merge_meta(replies)
        reply.update_request_path({node.name: self._images[node.name]})
        return reply

    async def _node_call(self, node: NodeSpec, method: str, msg: Payload, puid: str) -> Payload:
        """One input/output call with its logging and meta carrying."""
        self._log(node, "request", msg, puid)
        call = getattr(self._clients[node.name], method)
        reply = await self._timed(node, method, lambda: call(msg, puid))
        reply.merge_meta([msg])
        reply.update_request_path({node.name: self._images[node.name]})
        self._log(node, "response", reply, puid)
        return reply

    # ----------------------------------------------------------------------- feedback
    async def feedback(self, payload: Payload, puid: str | None = None) -> Payload:
        """Send feedback down the routes recorded in ``feedback.response.meta.routing``;
        the reply is the root's (or the feedback itself when no node takes feedback)."""
        if not payload.is_feedback:
            raise InvalidInput("feedback needs request, response, reward or truth")
        puid = puid or str(uuid.uuid4())
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
            client = self._clients[node.name]
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
