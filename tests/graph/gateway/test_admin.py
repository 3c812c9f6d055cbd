"""The admin endpoint for live weights: validation, application, loopback only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from graph.gateway import admin, reload, rest
from graph.gateway.dispatch import Gateway


async def _admin(gateway: Gateway, calls: list[tuple[str, Any]]) -> list[tuple[int, Any]]:
    app = rest.create_app(gateway)
    admin.add_admin_routes(app, reload.WeightReloader(gateway, None))
    out = []
    async with TestClient(TestServer(app)) as client:
        for method, body in calls:
            reply = await client.request(method, "/admin/traffic", json=body)
            out.append((reply.status, await reply.json()))
    return out


def test_admin_endpoint_validates_and_applies(
    manifest: Path, toy_gateway: Callable[..., Gateway]
) -> None:
    gateway = toy_gateway(manifest)
    replies = asyncio.run(_admin(gateway, [
        ("POST", {"main": 75, "canary": 25}),
        ("POST", {"main": 75, "canary": 20}),
        ("POST", {"main": 100}),
        ("POST", {"main": 50, "nope": 50}),
        ("POST", {"main": "50", "canary": 50}),
        ("GET", None),
    ]))  # fmt: skip
    expected = {"deployment": "test/toy", "weights": {"main": 75, "canary": 25},
                "shadow": None, "previous": {"main": 90, "canary": 10}}  # fmt: skip
    assert replies[0] == (200, expected)
    assert replies[1][0] == 400 and "sum to 100, not 95" in replies[1][1]["status"]["info"]
    assert replies[2][0] == 400 and "missing canary" in replies[2][1]["status"]["info"]
    assert (
        replies[3][0] == 400 and "unknown live predictor(s) nope" in replies[3][1]["status"]["info"]
    )
    assert replies[4][0] == 400
    assert replies[5][1]["deployments"][0]["weights"] == {"main": 75, "canary": 25}
    assert gateway.runtimes[0].split.weights == {"main": 75, "canary": 25}


def test_admin_endpoint_refuses_remote_clients(
    manifest: Path, toy_gateway: Callable[..., Gateway]
) -> None:
    gateway = toy_gateway(manifest)
    app = web.Application()
    admin.add_admin_routes(app, reload.WeightReloader(gateway, None))
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (
        ("10.1.2.3", 4321) if key == "peername" else default
    )
    request = make_mocked_request("POST", "/admin/traffic", app=app, transport=transport)
    reply = asyncio.run(admin._post_traffic(request))
    assert reply.status == 403
    assert gateway.runtimes[0].split.weights == {"main": 90, "canary": 10}
