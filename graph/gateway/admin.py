"""The gateway's admin endpoint for live traffic weights.

``POST /admin/traffic`` with ``{"main": 75, "canary": 25}`` (every live predictor, the
rules of ``seldon-graph canary set``; ``?name=&namespace=`` pick the deployment when
several are served) sets the weights through the :class:`~graph.gateway.reload.
WeightReloader`; ``GET /admin/traffic`` answers the current weights. Only loopback clients
may call it (403 otherwise), whatever ``--host`` is.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from graph.gateway.dispatch import DeploymentRuntime, Gateway
from graph.gateway.reload import WeightReloader
from graph.gateway.rest import error_response
from model.errors import InvalidInput, SeldonGraphError


def describe(runtime: DeploymentRuntime) -> dict[str, Any]:
    split = runtime.split
    shadow = {"name": split.shadow, "percent": split.shadow_percent} if split.shadow else None
    return {"deployment": f"{runtime.namespace}/{runtime.name}", "weights": split.weights,
            "shadow": shadow}  # fmt: skip


RELOADER_KEY = web.AppKey("reloader", WeightReloader)


def _forbidden(request: web.Request) -> web.Response | None:
    if _is_loopback(request):
        return None
    error = InvalidInput("the admin endpoint only answers loopback clients")
    error.status_code = 403
    return error_response(error)


def _is_loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address((request.remote or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def _runtime(request: web.Request, gateway: Gateway) -> DeploymentRuntime:
    return gateway.find(request.query.get("namespace"), request.query.get("name"))


async def _get_traffic(request: web.Request) -> web.Response:
    denied = _forbidden(request)
    if denied is not None:
        return denied
    reloader = request.app[RELOADER_KEY]
    runtimes = reloader.gateway.runtimes
    try:
        if "name" in request.query:
            runtimes = [_runtime(request, reloader.gateway)]
    except SeldonGraphError as exc:
        return error_response(exc)
    return web.json_response({"deployments": [describe(r) for r in runtimes]})


async def _post_traffic(request: web.Request) -> web.Response:
    denied = _forbidden(request)
    if denied is not None:
        return denied
    reloader = request.app[RELOADER_KEY]
    try:
        runtime = _runtime(request, reloader.gateway)
        try:
            body = await request.json()
        except ValueError as exc:
            raise InvalidInput(f"request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict) or not body:
            raise InvalidInput(
                'send {"<predictor>": <weight>, ...}, e.g. {"main": 75, "canary": 25}'
            )
        previous = runtime.split.weights
        reloader.apply(runtime, body, "admin endpoint")
    except SeldonGraphError as exc:
        return error_response(exc)
    return web.json_response({**describe(runtime), "previous": previous})


def add_admin_routes(app: web.Application, reloader: WeightReloader) -> None:
    """``GET``/``POST /admin/traffic`` on the gateway's REST application."""
    app[RELOADER_KEY] = reloader
    app.router.add_get("/admin/traffic", _get_traffic)
    app.router.add_post("/admin/traffic", _post_traffic)
