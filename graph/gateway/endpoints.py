"""Every REST path Seldon Core 1.17.1's executor serves, its headers and its server metric.

Routes (``executor/api/rest/server.go``; each also under the ingress prefix
``/seldon/{namespace}/{name}``, which the ingress strips in a cluster):

- ``POST /api/v0.1|v1.0/predictions`` and ``/feedback`` (the gateway's handlers);
- ``GET /api/v1.0/metadata`` (graph metadata), ``GET /api/v0.1|v1.0/metadata/{model}`` and
  ``/status/{model}`` (the node's ``/metadata`` and ``/health/status``, passed on);
- ``GET /api/v1.0/status``, ``/api/v1.0/health/status``, and ``/ready`` (any method): 200
  or 503 with an empty body, ready when every node is; ``/live`` (any method): 200 empty;
- ``/prometheus`` (any method): the executor's metrics (``graph.gateway.metrics``).

Every API route answers OPTIONS with 200 and CORS headers (``middlewares.go``); every
response carries ``Seldon-Puid`` (the request's, else a new uuid4, also handed to the
handler), ``X-Content-Type-Options: nosniff`` and ``Access-Control-Allow-Origin``
(``CORS_ALLOWED_ORIGINS``, default ``*``) / ``-Headers`` (``CORS_ALLOWED_HEADERS``). The
predictor a metadata/status request went to is chosen by the traffic split, as the ingress
would, and named in ``Seldon-Predictor``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from multidict import CIMultiDict

from graph.gateway import metrics as m
from graph.gateway.dispatch import DeploymentRuntime, Gateway
from graph.gateway.nodeinfo import METADATA_PATH, STATUS_PATH, NodeInfo, NodeReply
from graph.gateway.rest import GATEWAY_KEY, PREDICTOR_HEADER, error_response
from graph.payload import PUID_HEADER
from model.errors import SeldonGraphError

INGRESS = "/seldon/{namespace}/{name}"
NODE_INFO_KEY = web.AppKey("node_info", NodeInfo)
DEFAULT_CORS_HEADERS = (
    "Accept, Accept-Encoding, Authorization, Content-Length, Content-Type, X-CSRF-Token"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def service_of(path: str) -> str | None:
    """The server metric's ``service`` for a route path (None: not instrumented)."""
    for service in (m.PREDICTIONS, m.FEEDBACK_SERVICE, m.STATUS, m.METADATA):
        if f"/{service}" in path.replace("/health/status", "/status"):
            return service if path.startswith(("/api/", INGRESS + "/api/")) else None
    return None


def _runtime(request: web.Request) -> DeploymentRuntime:
    gateway = request.app[GATEWAY_KEY]
    return gateway.find(request.match_info.get("namespace"), request.match_info.get("name"))


def _predictor(runtime: DeploymentRuntime) -> str:
    return runtime.split.choose().predictor


def _reply(reply: NodeReply, predictor: str) -> web.Response:
    headers = {PREDICTOR_HEADER: predictor}
    if reply.content_type:
        headers["Content-Type"] = reply.content_type
    return web.Response(status=reply.status, body=reply.body, headers=headers)


def _node_route(path: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            runtime = _runtime(request)
            name = _predictor(runtime)
            info = request.app[NODE_INFO_KEY]
            spec = runtime.spec.predictor(name)
            reply = await info.node(runtime.name, spec, request.match_info["model"], path)
        except SeldonGraphError as exc:
            return error_response(exc)
        return _reply(reply, name)

    return handle


async def graph_metadata(request: web.Request) -> web.StreamResponse:
    try:
        runtime = _runtime(request)
        name = _predictor(runtime)
        info = request.app[NODE_INFO_KEY]
        body = await info.graph_metadata(runtime.name, runtime.spec.predictor(name))
    except SeldonGraphError as exc:
        return error_response(exc)
    return web.json_response(body, headers={PREDICTOR_HEADER: name})


async def check_ready(request: web.Request) -> web.StreamResponse:
    """Every node of every served predictor (under the ingress path, of a served
    deployment: an unknown one is 404)."""
    if "name" in request.match_info:
        try:
            _runtime(request)
        except SeldonGraphError as exc:
            return error_response(exc)
    ready = request.app[GATEWAY_KEY].ready()
    return web.Response(status=200 if ready else 503)


async def alive(request: web.Request) -> web.StreamResponse:
    return web.Response(status=200)


async def prometheus(request: web.Request) -> web.StreamResponse:
    body = request.app[GATEWAY_KEY].metrics.executor.exposition()
    return web.Response(body=body, headers={"Content-Type": m.CONTENT_TYPE})


async def _options(request: web.Request) -> web.StreamResponse:  # answered by seldon_front
    return web.Response(status=200)


def _cors(response: web.StreamResponse, methods: str | None) -> None:
    response.headers["Access-Control-Allow-Origin"] = os.environ.get("CORS_ALLOWED_ORIGINS", "*")
    response.headers["Access-Control-Allow-Headers"] = os.environ.get(
        "CORS_ALLOWED_HEADERS", DEFAULT_CORS_HEADERS
    )
    if methods:
        response.headers["Access-Control-Allow-Methods"] = methods


def _allowed_methods(request: web.Request) -> str | None:
    """The methods of the matched path (None: no route matched)."""
    resource = request.match_info.route.resource
    if request.match_info.http_exception is not None or resource is None:
        return None
    path = resource.canonical
    same = {r.method for r in request.app.router.routes() if r.resource and
            r.resource.canonical == path}  # fmt: skip
    return ",".join(sorted(same - {"HEAD"}))


@web.middleware
async def seldon_front(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Puid, CORS and nosniff headers, OPTIONS answers and the server metric."""
    puid = request.headers.get(PUID_HEADER)
    if not puid:
        puid = str(uuid.uuid4())
        headers = CIMultiDict(request.headers)
        headers[PUID_HEADER] = puid
        request = request.clone(headers=headers)
    methods = _allowed_methods(request)
    start = time.perf_counter()
    if request.method == "OPTIONS" and methods is not None:
        response: web.StreamResponse = web.Response(status=200)
    else:
        response = await handler(request)
        _observe(request, response, time.perf_counter() - start)
    response.headers.setdefault(PUID_HEADER, puid)
    response.headers["X-Content-Type-Options"] = "nosniff"
    _cors(response, methods)
    return response


def _observe(request: web.Request, response: web.StreamResponse, seconds: float) -> None:
    """The executor's server metric for an API route (``rest/server.go``)."""
    resource = request.match_info.route.resource
    if request.match_info.http_exception is not None or resource is None:
        return
    service = service_of(resource.canonical)
    if service is None:
        return
    try:
        runtime = _runtime(request)
    except SeldonGraphError:
        return  # no such deployment: no executor would have seen the request
    predictor = response.headers.get(PREDICTOR_HEADER) or next(iter(runtime.split.weights))
    gateway: Gateway = request.app[GATEWAY_KEY]
    gateway.metrics.server_request(
        runtime.spec, predictor, service, request.method.lower(), str(response.status), seconds
    )


def _handler_of(app: web.Application, path: str) -> Handler:
    for route in app.router.routes():
        if route.method == "POST" and route.resource and route.resource.canonical == path:
            return route.handler
    raise LookupError(f"the gateway serves no POST {path}")


def add_seldon_routes(app: web.Application, info: NodeInfo) -> None:
    """The executor's routes on the gateway's application (see the module docstring);
    predictions and feedback reuse the handlers ``graph.gateway.rest`` registered."""
    app[NODE_INFO_KEY] = info
    predict = _handler_of(app, "/api/v1.0/predictions")
    feedback = _handler_of(app, "/api/v1.0/feedback")
    app.middlewares.insert(0, seldon_front)
    routes: list[tuple[str, str, Handler]] = []
    for version in ("v0.1", "v1.0"):
        api = f"/api/{version}"
        routes += [
            ("POST", f"{api}/predictions", predict), ("POST", f"{api}/feedback", feedback),
            ("GET", f"{api}/metadata/{{model}}", _node_route(METADATA_PATH)),
            ("GET", f"{api}/status/{{model}}", _node_route(STATUS_PATH)),
        ]  # fmt: skip
    routes += [
        ("GET", "/api/v1.0/metadata", graph_metadata), ("GET", "/api/v1.0/status", check_ready),
        ("GET", "/api/v1.0/health/status", check_ready),
        ("*", "/ready", check_ready), ("*", "/live", alive), ("*", "/prometheus", prometheus),
    ]  # fmt: skip
    taken = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}
    for prefix in ("", INGRESS):
        for method, path, handler in routes:
            if (method, prefix + path) not in taken:
                app.router.add_route(method, prefix + path, handler)
            if method != "*":
                app.router.add_route("OPTIONS", prefix + path, _options)
