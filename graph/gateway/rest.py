"""The gateway's REST front end (aiohttp), with Seldon's external paths.

``POST /seldon/<namespace>/<name>/api/v1.0/predictions`` (the ingress path) and
``POST /api/v1.0/predictions`` (the only deployment), the same for ``feedback``;
``GET /health/ready`` (200 only when every node is ready), ``/health/live`` and Prometheus
``/metrics``. As Seldon Core 1.17.1's executor: the body goes to the first node as bytes
with its Content-Type, unparsed, and the client gets the last node's body and
Content-Type with 200; the client's headers go to every node; a node's error status and
body pass through, a node that is down or too slow is the executor's 500 error JSON. The
``Seldon-Puid`` header is echoed (a uuid4 when missing) and ``Seldon-Predictor`` names
the predictor that answered. The gateway's own errors are ``{"status": {...}}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from graph.clients.errors import ERROR_CONTENT_TYPE, ExecutorError, NodeStatusError
from graph.clients.headers import rest_headers
from graph.gateway.dispatch import FEEDBACK, PREDICT, Gateway, new_puid, predictor_of
from graph.gateway.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from graph.payload import PUID_HEADER
from graph.payload.raw import RawPayload
from graph.request_logger import SKIP_LOGGING_HEADER, skip_logging
from model.errors import (
    PayloadTooLarge,
    Unavailable,
    as_error,
    error_for_http,
    http_status,
    status_dict,
)

PREDICTOR_HEADER = "Seldon-Predictor"
DEFAULT_MAX_BODY = 32 * 1024 * 1024
GATEWAY_KEY = web.AppKey("gateway", Gateway)
MAX_BODY_KEY = web.AppKey("max_body", int)


def error_response(exc: BaseException, headers: dict[str, str] | None = None) -> web.Response:
    """The Seldon ``status`` reply for any exception."""
    error = as_error(exc)
    code = http_status(error)
    body = status_dict(error.message, error.reason, code)
    return web.json_response(body, status=code, headers=headers)


def _html_escape(body: bytes) -> bytes:
    """What Go's ``json.HTMLEscape`` does to a reply the executor writes (``<``, ``>``,
    ``&``, U+2028, U+2029 as ``\\u`` escapes; ``executor/api/rest/client.go``)."""
    for raw, escaped in _HTML_ESCAPES:
        if raw in body:
            body = body.replace(raw, escaped)
    return body


_HTML_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


async def read_payload(request: web.Request) -> RawPayload:
    """The body as bytes with the request's Content-Type, unparsed (the executor's
    ``predictions``/``feedback`` handlers, ``executor/api/rest/server.go``)."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(
            f"request body is over the gateway's limit of {request.app[MAX_BODY_KEY]} bytes"
        ) from exc
    return RawPayload(raw, request.headers.get("Content-Type", ""))


def node_error_response(exc: BaseException, headers: dict[str, str]) -> web.Response | None:
    """A node's failure as the executor answers it: the node's status and body, or the
    executor's error JSON (Go sniffs their Content-Type as text); None for other errors."""
    if isinstance(exc, (NodeStatusError, ExecutorError)):
        headers = {**headers, "Content-Type": ERROR_CONTENT_TYPE}
        return web.Response(body=_html_escape(exc.body), status=exc.status_code, headers=headers)
    return None


def _handler(method: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        gateway = request.app[GATEWAY_KEY]
        puid = request.headers.get(PUID_HEADER) or new_puid()
        skip_logging(request.headers.getall(SKIP_LOGGING_HEADER, []))
        headers = {PUID_HEADER: puid}
        forward = [*rest_headers(request.headers.items()), (PUID_HEADER, puid)]
        try:
            runtime = gateway.find(
                request.match_info.get("namespace"), request.match_info.get("name")
            )
            payload = await read_payload(request)
            answer = await gateway.call(runtime, method, payload, puid, "rest", forward)
        except Exception as exc:
            predictor = predictor_of(exc)
            if predictor:
                headers[PREDICTOR_HEADER] = predictor
            return node_error_response(exc, headers) or error_response(exc, headers)
        headers[PREDICTOR_HEADER] = answer.predictor
        reply = answer.payload
        headers["Content-Type"] = reply.content_type
        return web.Response(body=_html_escape(reply.to_bytes()), headers=headers)

    return handle


async def ready(request: web.Request) -> web.Response:
    if request.app[GATEWAY_KEY].ready():
        return web.json_response({"status": "ready"})
    return error_response(Unavailable("not ready: a node is starting, restarting or stopping"))


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "live"})


async def metrics(request: web.Request) -> web.Response:
    body = request.app[GATEWAY_KEY].metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})


@web.middleware
async def seldon_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Unknown paths, wrong methods and anything unexpected get a Seldon status body."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            message = f"no route for {request.method} {request.path}"
        elif exc.status == 413:
            message = exc.text or "request body too large"
        else:
            message = f"{exc.reason}: {request.method} {request.path}"
        return error_response(error_for_http(exc.status, message))
    except Exception as exc:
        return error_response(exc)


def create_app(gateway: Gateway, max_body: int = DEFAULT_MAX_BODY) -> web.Application:
    """The aiohttp application of the gateway."""
    app = web.Application(client_max_size=max_body, middlewares=[seldon_errors])
    app[GATEWAY_KEY] = gateway
    app[MAX_BODY_KEY] = max_body
    predict, feedback = _handler(PREDICT), _handler(FEEDBACK)
    prefix = "/seldon/{namespace}/{name}"
    app.router.add_post(f"{prefix}/api/v1.0/predictions", predict)
    app.router.add_post(f"{prefix}/api/v1.0/feedback", feedback)
    app.router.add_post("/api/v1.0/predictions", predict)
    app.router.add_post("/api/v1.0/feedback", feedback)
    app.router.add_get("/health/ready", ready)
    app.router.add_get("/health/live", live)
    app.router.add_get("/metrics", metrics)
    return app
