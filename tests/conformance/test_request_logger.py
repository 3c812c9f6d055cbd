"""The request logger as Seldon's 1.17.1 executor runs it: default endpoint, the
``Seldon-Skip-Logging`` header and the CloudEvent headers and body, through the real
gateway (in-process toy graph) posting to a real local HTTP sink."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
import requests
import yaml
from aiohttp import web
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from graph.gateway.app import GatewayApp, GatewaySettings
from graph.request_logger import DEFAULT_ENDPOINT, ENDPOINT_ENV, skip_requested
from graph.runner.inprocess import build_components
from graph.runner.plan import plan_deployment
from graph.spec import load_deployment
from tests.fixtures.graphs import serve_process, tensor, toy_manifest_doc
from tests.fixtures.http import serving

Received = list[tuple[list[tuple[str, str]], bytes]]  # raw header names kept, and body
# worker.go:177-185 with Go's canonical header names, and the payload's Content-Type
CE_HEADERS = {
    "Ce-Specversion", "Ce-Id", "Ce-Type", "Ce-Source", "Ce-Time", "Ce-Modelid",
    "Ce-Requestid", "Ce-Inferenceservicename", "Ce-Namespace", "Ce-Endpoint", "Ce-Protocol",
}  # fmt: skip


@asynccontextmanager
async def sink() -> AsyncIterator[tuple[str, Received]]:
    received: Received = []

    async def handle(request: web.Request) -> web.Response:
        raw = [(k.decode(), v.decode()) for k, v in request.raw_headers]
        received.append((raw, await request.read()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/", handle)
    async with serving(app) as port:
        yield f"http://127.0.0.1:{port}/", received


async def _post_through_gateway(
    logger: dict[str, str], endpoint: str, headers: dict[str, str], requests: int = 1
) -> tuple[list[str], int]:
    """Send ``requests`` predictions to the toy graph whose ``canary`` node has ``logger``;
    returns the puids answered and the gateway's HTTP port."""
    doc = toy_manifest_doc(main=0, canary=100, shadow=False)
    doc["spec"]["predictors"][1]["graph"]["logger"] = logger
    spec = load_deployment(doc)
    settings = GatewaySettings(
        http_port=0, grpc_port=-1, reload_interval=0, request_logger_endpoint=endpoint
    )
    app = GatewayApp([spec], settings)
    app.build_inprocess(build_components(plan_deployment(spec, None)))
    await app.start()
    puids = []
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{app.http_port}/api/v1.0/predictions"
            for _ in range(requests):
                async with session.post(url, json=tensor([1]), headers=headers) as reply:
                    assert reply.status == 200
                    puids.append(reply.headers["Seldon-Puid"])
    finally:
        await app.stop()  # drains the logger's queue
    return puids, app.http_port


def _run(logger: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[Any, ...]:
    async def go() -> tuple[Any, ...]:
        async with sink() as (url, received):
            endpoint = url
            if "url" in logger:
                logger["url"] = url
                endpoint = "http://127.0.0.1:1/"  # never used
            puids, port = await _post_through_gateway(logger, endpoint, headers or {})
            return received, puids, port

    return asyncio.run(go())


def test_a_logger_without_url_posts_to_the_default_endpoint() -> None:
    """predictor_process.go:395-401: logger.url, else REQUEST_LOGGER_DEFAULT_ENDPOINT
    (the operator's default http://default-broker)."""
    received, _, _ = _run({"mode": "request"})
    assert len(received) == 1
    assert GatewaySettings().request_logger_endpoint == DEFAULT_ENDPOINT == "http://default-broker"


@pytest.mark.parametrize("value", ["true", "TRUE", "On", "1"])
def test_seldon_skip_logging_skips_the_request(value: str) -> None:
    """predictor_process.go:403-408, executor/api/payload/metadata.go:28-46."""
    received, _, _ = _run({"mode": "all", "url": ""}, {"Seldon-Skip-Logging": value})
    assert received == []


def test_other_skip_values_still_log() -> None:
    """Only true/on/1 (any case) skip: metadata.go:28-46."""
    received, _, _ = _run({"mode": "all", "url": ""}, {"Seldon-Skip-Logging": "no"})
    assert len(received) == 2  # the request and the response of the one node
    assert not skip_requested(["false", "yes", ""]) and skip_requested(["x", "ON"])


def test_cloudevent_headers_and_body_are_the_executors() -> None:
    """executor/logger/worker.go:144-197: binary-mode CloudEvent 1.0, a fresh uuid4 per
    event, the puid as Ce-Requestid, the node as Ce-Modelid, the payload unchanged."""
    received, puids, port = _run({"mode": "all", "url": ""})
    assert len(received) == 2
    ids = set()
    for raw, body in received:
        headers = dict(raw)
        assert set(headers) >= CE_HEADERS, set(headers)
        assert headers["Ce-Specversion"] == "1.0"
        assert headers["Ce-Source"] == f"http://{socket.gethostname()}:{port}/"
        assert headers["Ce-Modelid"] == "scale" and headers["Ce-Requestid"] == puids[0]
        assert (headers["Ce-Inferenceservicename"], headers["Ce-Namespace"]) == ("toy", "test")
        assert (headers["Ce-Endpoint"], headers["Ce-Protocol"]) == ("canary", "seldon")
        assert headers["Content-Type"] == "application/json"
        assert headers["Ce-Time"].endswith("Z")
        datetime.fromisoformat(headers["Ce-Time"].replace("Z", "+00:00"))
        assert uuid.UUID(headers["Ce-Id"]).version == 4
        ids.add(headers["Ce-Id"])
        json.loads(body)
    types = sorted(dict(raw)["Ce-Type"] for raw, _ in received)
    assert types == ["io.seldon.serving.inference.request", "io.seldon.serving.inference.response"]
    assert len(ids) == 2
    request_body = next(b for raw, b in received if dict(raw)["Ce-Type"].endswith("request"))
    assert json.loads(request_body)["data"] == tensor([1])["data"]


def test_seldon_skip_logging_metadata_skips_a_grpc_request() -> None:
    """metadata.go:28-46 reads gRPC metadata too: any value true/on/1 skips the request."""

    async def go() -> Received:
        async with sink() as (url, received):
            doc = toy_manifest_doc(main=0, canary=100, shadow=False)
            doc["spec"]["predictors"][1]["graph"]["logger"] = {"mode": "all"}
            spec = load_deployment(doc)
            settings = GatewaySettings(
                http_port=0, grpc_port=0, reload_interval=0, request_logger_endpoint=url
            )
            app = GatewayApp([spec], settings)
            app.build_inprocess(build_components(plan_deployment(spec, None)))
            await app.start()
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
                    stub = prediction_pb2_grpc.SeldonStub(channel)
                    message = prediction_pb2.SeldonMessage()
                    message.data.tensor.shape.extend([1, 1])
                    message.data.tensor.values.append(1.0)
                    base = [("seldon", "toy"), ("namespace", "test")]
                    for puid, skip in (("skipped", "On"), ("logged", "off")):
                        metadata = [*base, ("seldon-puid", puid), ("seldon-skip-logging", skip)]
                        await stub.Predict(message, metadata=metadata)
            finally:
                await app.stop()  # drains the logger's queue
            return received

    received = asyncio.run(go())
    assert sorted(dict(raw)["Ce-Requestid"] for raw, _ in received) == ["logged", "logged"]
    assert {dict(raw)["Content-Type"] for raw, _ in received} == {"application/protobuf"}


def test_serve_reads_the_default_endpoint_from_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator sets REQUEST_LOGGER_DEFAULT_ENDPOINT on the executor
    (predictor_process.go:23,28); ``seldon-graph serve`` reads the same variable once."""
    received: list[str] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(str(self.headers.get("Ce-Type")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    doc = toy_manifest_doc(main=0, canary=100, shadow=False)
    doc["spec"]["predictors"][1]["graph"]["logger"] = {"mode": "request"}
    manifest = tmp_path / "toy.yaml"
    manifest.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv(ENDPOINT_ENV, f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        with serve_process(manifest, tmp_path, "--in-process") as served:
            reply = requests.post(f"{served.url}/api/v1.0/predictions", json=tensor([1]))
            assert reply.status_code == 200
            for _ in range(100):
                if received:
                    break
                time.sleep(0.05)
    finally:
        server.shutdown()
        server.server_close()
    assert received == ["io.seldon.serving.inference.request"]
