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
from prometheus_client.parser import text_string_to_metric_families

from graph.gateway.app import GatewayApp, GatewaySettings
from graph.gateway.metrics import LOGGER_EVENTS, GatewayMetrics
from graph.payload import JsonPayload
from graph.request_logger import CE_TYPES, RequestLogger, wants
from graph.runner.inprocess import build_components
from graph.runner.plan import plan_deployment
from graph.spec import DeploymentSpec, load_deployment
from tests.fixtures.graphs import tensor, toy_manifest_doc
from tests.fixtures.http import serving
from tests.fixtures.processes import free_port


@asynccontextmanager
async def sink(
    handler_status: int = 200, gate: asyncio.Event | None = None
) -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A tiny HTTP server on 127.0.0.1 that records what it receives."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        if gate is not None:
            await gate.wait()
        received.append(({k.lower(): v for k, v in request.headers.items()}, await request.read()))
        return web.Response(status=handler_status)

    app = web.Application()
    app.router.add_post("/", handle)
    async with serving(app) as port:
        yield f"http://127.0.0.1:{port}/", received


def make_logger(
    session: aiohttp.ClientSession, metrics: GatewayMetrics, **kwargs: Any
) -> RequestLogger:
    return RequestLogger(
        session, metrics, deployment="dep", namespace="ns", predictor="main",
        source="http://gw/", **kwargs,
    )  # fmt: skip


def events(metrics: GatewayMetrics, outcome: str, predictor: str = "main") -> float:
    """The logger events with ``outcome`` that ``metrics`` exports for ``dep/predictor``."""
    labels = {"deployment": "dep", "predictor": predictor, "outcome": outcome}
    return metrics.registry.get_sample_value(LOGGER_EVENTS, labels) or 0.0


def run(test: Callable[[], Any]) -> Any:
    return asyncio.run(test())


def test_events_carry_the_cloudevents_headers_and_body() -> None:
    async def go() -> list[tuple[dict[str, str], bytes]]:
        async with sink() as (url, received), aiohttp.ClientSession() as session:
            metrics = GatewayMetrics()
            logger = make_logger(session, metrics)
            logger.start()
            payload = JsonPayload({"data": {"ndarray": [[1, 2]]}})
            assert logger.log(url, "request", payload, "puid-1", "model")
            assert logger.log(url, "response", payload, "puid-1", "model")
            await logger.close()
            assert events(metrics, "sent") == 2 and events(metrics, "failed") == 0
            return received

    received = run(go)
    by_type = {h["ce-type"]: (h, body) for h, body in received}
    assert set(by_type) == {CE_TYPES["request"], CE_TYPES["response"]}
    headers, body = by_type["io.seldon.serving.inference.request"]
    assert json.loads(body) == {"data": {"ndarray": [[1, 2]]}}
    assert headers["content-type"] == "application/json"
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
            metrics = GatewayMetrics()
            logger = make_logger(session, metrics, queue_size=2, workers=1)
            logger.start()
            payload = JsonPayload({"data": {"ndarray": [1]}})
            accepted = [logger.log(url, "request", payload, "p", "n") for _ in range(10)]
            # one event may already be taken by the worker; the rest overflow
            dropped = events(metrics, "dropped")
            gate.set()
            await logger.close()
            return sum(accepted), int(dropped), len(received)

    accepted, dropped, delivered = run(go)
    assert accepted + dropped == 10
    assert 2 <= accepted <= 3 and dropped >= 7
    assert delivered == accepted


def test_a_failing_sink_is_counted_not_raised() -> None:
    metrics = GatewayMetrics()

    async def go() -> None:
        async with sink(handler_status=500) as (url, _), aiohttp.ClientSession() as session:
            logger = make_logger(session, metrics)
            logger.start()
            logger.log(url, "response", JsonPayload({}), "p", "n")
            logger.log("http://127.0.0.1:1/", "response", JsonPayload({}), "p", "n")
            await logger.close()

    run(go)
    assert events(metrics, "failed") == 2 and events(metrics, "sent") == 0


def test_modes_select_the_kinds_logged() -> None:
    assert wants("all", "request") and wants("all", "response") and wants("all", "feedback")
    assert wants("request", "request") and not wants("request", "response")
    assert wants("response", "response") and wants("response", "feedback")
    assert not wants("response", "request")


# ------------------------------------------------- through the gateway, read on /metrics
def logged_toy_deployment(sink_url: str) -> DeploymentSpec:
    """The toy deployment with all traffic on ``canary`` (one ``scale`` node), whose node
    logs everything to the sink, and the ``shadow`` (mirrored every request), whose node
    logs everything to a port where nobody listens."""
    doc = toy_manifest_doc(main=0, canary=100, shadow=True)
    predictors = {p["name"]: p for p in doc["spec"]["predictors"]}
    predictors["canary"]["graph"]["logger"] = {"url": sink_url, "mode": "all"}
    nobody = f"http://127.0.0.1:{free_port()}/"
    predictors["shadow"]["graph"]["logger"] = {"url": nobody, "mode": "all"}
    return load_deployment(doc)


def exported(text: str, predictor: str, outcome: str) -> float:
    """``seldon_graph_request_logger_events_total`` of toy/``predictor`` for ``outcome``."""
    wanted = {"deployment": "toy", "predictor": predictor, "outcome": outcome}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == LOGGER_EVENTS and sample.labels == wanted:
                return float(sample.value)
    raise AssertionError(f"no {LOGGER_EVENTS} sample with {wanted}")


async def scrape_until_settled(session: aiohttp.ClientSession, url: str, events: int) -> str:
    """The gateway's metrics text once ``events`` logger events were sent or failed."""
    text = ""
    for _ in range(200):  # the loggers send in the background
        async with session.get(url) as reply:
            text = await reply.text()
        done = exported(text, "canary", "sent") + exported(text, "shadow", "failed")
        if done >= events:
            break
        await asyncio.sleep(0.05)
    return text


def test_logger_events_are_exported_on_the_gateway_metrics() -> None:
    n = 3

    async def go() -> tuple[str, int]:
        async with sink() as (url, received), aiohttp.ClientSession() as session:
            spec = logged_toy_deployment(url)
            components = build_components(plan_deployment(spec, None))
            app = GatewayApp([spec], GatewaySettings(http_port=0, grpc_port=-1, reload_interval=0))
            app.build_inprocess(components)
            await app.start()
            base = f"http://127.0.0.1:{app.http_port}"
            try:
                for _ in range(n):
                    async with session.post(f"{base}/api/v1.0/predictions", json=tensor([1])) as r:
                        assert r.status == 200
                text = await scrape_until_settled(session, f"{base}/metrics", 4 * n)
            finally:
                await app.stop()
            return text, len(received)

    text, delivered = run(go)
    assert exported(text, "canary", "sent") == 2 * n == delivered  # a request and a response
    assert exported(text, "shadow", "failed") == 2 * n  # nobody listens there
    assert exported(text, "canary", "failed") == exported(text, "shadow", "sent") == 0
    assert exported(text, "canary", "dropped") == exported(text, "shadow", "dropped") == 0
