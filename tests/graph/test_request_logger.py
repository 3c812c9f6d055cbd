"""CloudEvents posted by the request logger, and its bounded, non-blocking queue."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web

from graph.payload import JsonPayload
from graph.request_logger import CE_TYPES, RequestLogger, wants


@asynccontextmanager
async def sink(
    handler_status: int = 200, gate: asyncio.Event | None = None
) -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A tiny HTTP server on 127.0.0.1 that records what it receives."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        if gate is not None:
            await gate.wait()
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=handler_status)

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/", received
    finally:
        await runner.cleanup()


def make_logger(session: aiohttp.ClientSession, **kwargs: Any) -> RequestLogger:
    return RequestLogger(
        session, deployment="dep", namespace="ns", predictor="main", source="http://gw/", **kwargs
    )


def run(test: Callable[[], Any]) -> Any:
    return asyncio.run(test())


def test_events_carry_the_cloudevents_headers_and_body() -> None:
    async def go() -> list[tuple[dict[str, str], bytes]]:
        async with sink() as (url, received), aiohttp.ClientSession() as session:
            logger = make_logger(session)
            logger.start()
            payload = JsonPayload({"data": {"ndarray": [[1, 2]]}})
            assert logger.log(url, "request", payload, "puid-1", "model")
            assert logger.log(url, "response", payload, "puid-1", "model")
            await logger.close()
            assert logger.sent == 2 and logger.failed == 0
            return received

    received = run(go)
    by_type = {h["ce-type"]: (h, body) for h, body in received}
    assert set(by_type) == {CE_TYPES["request"], CE_TYPES["response"]}
    headers, body = by_type["io.seldon.serving.inference.request"]
    assert json.loads(body) == {"data": {"ndarray": [[1, 2]]}}
    assert headers["Content-Type"] == "application/json"
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-source"] == "http://gw/"
    assert headers["ce-requestid"] == "puid-1"
    assert headers["ce-modelid"] == "model"
    assert headers["ce-inferenceservicename"] == "dep"
    assert headers["ce-namespace"] == "ns"
    assert headers["ce-endpoint"] == "main"
    uuid.UUID(headers["ce-id"])
    assert headers["ce-id"] != by_type[CE_TYPES["response"]][0]["ce-id"]


def test_full_queue_drops_and_counts_without_blocking() -> None:
    async def go() -> tuple[int, int, int]:
        gate = asyncio.Event()  # the sink holds every request until released
        async with sink(gate=gate) as (url, received), aiohttp.ClientSession() as session:
            logger = make_logger(session, queue_size=2, workers=1)
            logger.start()
            payload = JsonPayload({"data": {"ndarray": [1]}})
            accepted = [logger.log(url, "request", payload, "p", "n") for _ in range(10)]
            # one event may already be taken by the worker; the rest overflow
            dropped = logger.dropped
            gate.set()
            await logger.close()
            return sum(accepted), dropped, len(received)

    accepted, dropped, delivered = run(go)
    assert accepted + dropped == 10
    assert 2 <= accepted <= 3 and dropped >= 7
    assert delivered == accepted


def test_a_failing_sink_is_counted_not_raised() -> None:
    async def go() -> RequestLogger:
        async with sink(handler_status=500) as (url, _), aiohttp.ClientSession() as session:
            logger = make_logger(session)
            logger.start()
            logger.log(url, "response", JsonPayload({}), "p", "n")
            logger.log("http://127.0.0.1:1/", "response", JsonPayload({}), "p", "n")
            await logger.close()
            return logger

    logger = run(go)
    assert logger.failed == 2 and logger.sent == 0


def test_modes_select_the_kinds_logged() -> None:
    assert wants("all", "request") and wants("all", "response") and wants("all", "feedback")
    assert wants("request", "request") and not wants("request", "response")
    assert wants("response", "response") and wants("response", "feedback")
    assert not wants("response", "request")
