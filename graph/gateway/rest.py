"""The gateway's REST front end (aiohttp), with Seldon's external paths.

``POST /seldon/<namespace>/<name>/api/v1.0/predictions`` (the ingress path) and
``POST /api/v1.0/predictions`` (the only deployment), the same for ``feedback``;
``GET /health/ready`` (200 only when every node is ready), ``/health/live`` and Prometheus
``/metrics``. The body is ``application/json`` or a form with a ``json`` field, as the
Seldon wrapper accepts. The ``Seldon-Puid`` header is echoed (generated when missing)
and ``Seldon-Predictor`` names the predictor that answered. Every error is
``{"status": {...}}`` with the error's HTTP status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from graph.gateway.dispatch import FEEDBACK, PREDICT, Gateway, new_puid, predictor_of
from graph.gateway.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from graph.payload import PUID_HEADER, JsonPayload
from graph.request_logger import SKIP_LOGGING_HEADER, skip_logging
from model import fastjson
from model.errors import (
    InvalidInput,
    PayloadTooLarge,
    Unavailable,
    as_error,
    error_for_http,
    http_status,
    status_dict,
)

PREDICTOR_HEADER = "Seldon-Predictor"
DEFAULT_MAX_BODY = 32 * 1024 * 1024
_JSON_TYPES = ("application/json", "")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
GATEWAY_KEY = web.AppKey("gateway", Gateway)
MAX_BODY_KEY = web.AppKey("max_body", int)


def error_response(exc: BaseException, headers: dict[str, str] | None = None) -> web.Response:
    """The Seldon ``status`` reply for any exception."""
    error = as_error(exc)
    code = http_status(error)
    body = status_dict(error.message, error.reason, code)
    return web.json_response(body, status=code, headers=headers)


def _decode(raw: bytes | str, where: str) -> JsonPayload:
    try:
        body, lenient = fastjson.loads_checked(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{where} is not valid JSON: {exc}") from exc
    except RecursionError:  # e.g. 10k nested lists: refuse, never a 500
        raise InvalidInput(f"{where} is nested too deeply to decode") from None
    if not isinstance(body, dict):
        raise InvalidInput(f"{where} must be a JSON object, got {type(body).__name__}")
    return JsonPayload(body, lenient)


async def read_payload(request: web.Request) -> JsonPayload:
    """Parse the request body once: JSON, or a form whose ``json`` field holds JSON."""
    ctype = request.content_type if request.headers.get("Content-Type") else ""
    try:
        if ctype in _JSON_TYPES or ctype.endswith("+json"):
            return _decode(await request.read(), "request body")
        if ctype in _FORM_TYPES:
            if ctype == "application/x-www-form-urlencoded":
                raw = await request.read()  # cached: post() below reads the same bytes
                form = await request.post()
                if "json" not in form:
                    # `curl -d '{...}'` sends JSON labelled as a form; Seldon accepts it
                    return _decode(raw, "request body")
            else:
                form = await request.post()
            field = form.get("json")
            if field is None:
                raise InvalidInput("form has no 'json' field")
            if isinstance(field, (bytes, bytearray)):
                field = field.decode(errors="replace")
            elif not isinstance(field, str):
                field = field.file.read().decode(errors="replace")
            return _decode(field, "form field 'json'")
    except ValueError as exc:  # aiohttp's form parser: bad boundary, undecodable bytes
        raise InvalidInput(f"malformed {ctype} body: {exc}") from None
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(
            f"request body is over the gateway's limit of {request.app[MAX_BODY_KEY]} bytes"
        ) from exc
    raise InvalidInput(
        f"unsupported Content-Type '{ctype}': send application/json or a form field 'json'"
    )


def _handler(method: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        gateway = request.app[GATEWAY_KEY]
        puid = request.headers.get(PUID_HEADER) or new_puid()
        skip_logging(request.headers.getall(SKIP_LOGGING_HEADER, []))
        headers = {PUID_HEADER: puid}
        try:
            runtime = gateway.find(
                request.match_info.get("namespace"), request.match_info.get("name")
            )
            payload = await read_payload(request)
            answer = await gateway.call(runtime, method, payload, puid, "rest")
        except Exception as exc:
            predictor = predictor_of(exc)
            if predictor:
                headers[PREDICTOR_HEADER] = predictor
            return error_response(exc, headers)
        headers[PREDICTOR_HEADER] = answer.predictor
        return web.Response(
            body=answer.payload.json_bytes(), content_type="application/json", headers=headers
        )

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
