"""The gateway's REST and gRPC front ends, on the toy deployment built in process.

``seldon-graph serve --in-process`` logic (``graph.serve.serve``) runs in a background
thread with real aiohttp and grpc.aio servers on free ports; requests go over the network.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from graph.deployments import load_deployments
from graph.gateway.app import GatewayApp, GatewaySettings
from graph.gateway.dispatch import DeploymentRuntime, Gateway
from graph.gateway.metrics import GatewayMetrics
from graph.gateway.traffic import Mirror, TrafficSplit
from graph.payload import JsonPayload, Payload
from graph.serve import ServeSettings, serve
from model.errors import NotFound, Unavailable
from tests.fixtures.graphs import tensor
from tests.fixtures.threads import in_thread

MAX_BODY = 64 * 1024
EXPECTED = {"main": [4.0, 6.0], "canary": [3.0, 6.0]}  # (x + 1) * 2 and x * 3 for [1, 2]


class Running:
    def __init__(self, app: GatewayApp) -> None:
        self.app = app
        self.url = f"http://127.0.0.1:{app.http_port}"
        self.ingress = f"{self.url}/seldon/test/toy/api/v1.0"
        self.channel = grpc.insecure_channel(f"127.0.0.1:{app.grpc_port}")
        self.stub = prediction_pb2_grpc.SeldonStub(self.channel)


@pytest.fixture(scope="module")
def gateway(toy_manifest: Path) -> Iterator[Running]:
    settings = ServeSettings(
        manifest=toy_manifest,
        gateway=GatewaySettings(http_port=0, grpc_port=0, max_body_bytes=MAX_BODY, seed=7),
        in_process=True,
        show_examples=False,
    )

    async def main(stop: asyncio.Event, holder: dict[str, Any]) -> None:
        def ready(app: GatewayApp) -> None:
            holder["app"] = app
            holder["started"].set()

        await serve(settings, stop, ready)

    with in_thread(main) as holder:
        running = Running(holder["app"])
        try:
            yield running
        finally:
            running.channel.close()


def predict(running: Running, body: Any = None, **kwargs: Any) -> requests.Response:
    if body is not None:
        kwargs["json"] = body
    return requests.post(f"{running.ingress}/predictions", timeout=10, **kwargs)


def test_ingress_path_answers_from_the_chosen_predictor(gateway: Running) -> None:
    seen = set()
    for _ in range(40):
        reply = predict(gateway, tensor([1, 2]))
        assert reply.status_code == 200, reply.text
        predictor = reply.headers["Seldon-Predictor"]
        body = reply.json()
        assert body["data"]["tensor"]["values"] == EXPECTED[predictor]
        assert body["meta"]["tags"]["last"] == predictor
        seen.add(predictor)
    assert seen == {"main", "canary"}


def test_plain_path_serves_the_only_deployment(gateway: Running) -> None:
    reply = requests.post(f"{gateway.url}/api/v1.0/predictions", json=tensor([1, 2]), timeout=10)
    assert reply.status_code == 200
    assert reply.json()["data"]["tensor"]["values"] == EXPECTED[reply.headers["Seldon-Predictor"]]


def test_puid_is_echoed_or_generated(gateway: Running) -> None:
    """The puid is a header (a uuid4 when absent), never written into the body's meta
    (executor/api/rest/middlewares.go); it used to be copied into meta.puid."""
    reply = predict(gateway, tensor([1]), headers={"Seldon-Puid": "my-puid-1"})
    assert reply.headers["Seldon-Puid"] == "my-puid-1"
    assert "puid" not in reply.json().get("meta", {})
    first, second = predict(gateway, tensor([1])), predict(gateway, tensor([1]))
    assert (
        first.headers["Seldon-Puid"]
        and first.headers["Seldon-Puid"] != second.headers["Seldon-Puid"]
    )
    assert str(uuid.UUID(first.headers["Seldon-Puid"], version=4)) == first.headers["Seldon-Puid"]
    assert "puid" not in first.json().get("meta", {})


def assert_status(reply: requests.Response, code: int, words: str) -> None:
    assert reply.status_code == code, reply.text
    status = reply.json()["status"]
    assert status["code"] == code and status["status"] == "FAILURE"
    assert words in status["info"], status


def test_unknown_deployment_is_404_with_seldon_status(gateway: Running) -> None:
    reply = requests.post(
        f"{gateway.url}/seldon/test/nope/api/v1.0/predictions", json=tensor([1]), timeout=10
    )
    assert_status(reply, 404, "test/nope")
    reply = requests.post(
        f"{gateway.url}/seldon/other/toy/api/v1.0/predictions", json=tensor([1]), timeout=10
    )
    assert_status(reply, 404, "other/toy")


def test_unknown_path_is_404_with_seldon_status(gateway: Running) -> None:
    assert_status(requests.get(f"{gateway.url}/nothing/here", timeout=10), 404, "/nothing/here")


def test_bad_json_is_400(gateway: Running) -> None:
    """The body reaches the first node unparsed: its wrapper answers 400 (the gateway
    used to parse it and answer itself)."""
    headers = {"Content-Type": "application/json"}
    reply = predict(gateway, data=b"{not json", headers=headers)
    assert_status(reply, 400, "Can't find JSON in data")
    # JSON that is no object: the wrapper's seldon_methods refuse it, as a node would
    assert_status(predict(gateway, data=b"[1, 2]", headers=headers), 400, "[1, 2]")


def test_wrong_content_type_is_400(gateway: Running) -> None:
    reply = predict(gateway, data=b"hello", headers={"Content-Type": "text/plain"})
    assert_status(reply, 400, "Can't find JSON in data")  # the wrapper's words


def test_oversized_body_is_413(gateway: Running) -> None:
    big = tensor([0.5] * (MAX_BODY // 4))
    assert_status(predict(gateway, big), 413, "limit")


def test_form_field_json_is_accepted(gateway: Running) -> None:
    reply = predict(
        gateway, data={"json": '{"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}}'}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["tensor"]["values"] == EXPECTED[reply.headers["Seldon-Predictor"]]
    # `curl -d '{...}'` labels raw JSON as a form: Seldon's wrapper finds no JSON in it
    # (seldon_core/flask_utils.py get_request); the gateway used to accept it
    raw = b'{"data": {"ndarray": [[1, 2]]}}'
    reply = predict(
        gateway, data=raw, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_status(reply, 400, "Can't find JSON in data")


def test_feedback_reaches_the_predictor(gateway: Running) -> None:
    body: dict[str, Any] = {"request": tensor([1, 2]), "reward": 1.0}
    reply = requests.post(f"{gateway.ingress}/feedback", json=body, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Seldon-Predictor"] in ("main", "canary")


def test_health_endpoints(gateway: Running) -> None:
    assert requests.get(f"{gateway.url}/health/ready", timeout=5).status_code == 200
    assert requests.get(f"{gateway.url}/health/live", timeout=5).status_code == 200


def test_metrics_count_requests_per_predictor_and_node_and_the_shadow(gateway: Running) -> None:
    for _ in range(5):
        predict(gateway, tensor([1]))
    text = requests.get(f"{gateway.url}/metrics", timeout=5).text
    assert (
        'seldon_graph_requests_total{deployment="toy",method="predict",predictor="main",transport="rest"}'
        in text
    )
    assert (
        'seldon_graph_node_calls_total{deployment="toy",method="transform_input",node="offset",predictor="main"}'
        in text
    )
    # the shadow got mirrored copies, whose replies nobody saw
    assert 'node="scale",predictor="shadow"' in text


def test_node_failure_keeps_its_status_and_is_counted_as_an_error(gateway: Running) -> None:
    reply = predict(gateway, {"strData": "not numbers"})
    assert reply.status_code == 500, reply.text
    assert reply.json()["status"]["info"].startswith("node ")
    predictor = reply.headers["Seldon-Predictor"]
    text = requests.get(f"{gateway.url}/metrics", timeout=5).text
    assert (
        f'seldon_graph_request_errors_total{{code="500",deployment="toy",method="predict",'
        f'predictor="{predictor}",transport="rest"}}'
    ) in text


def grpc_predict(running: Running, metadata: list[tuple[str, str]]) -> Any:
    msg = json_format.ParseDict(tensor([1, 2]), prediction_pb2.SeldonMessage())
    return running.stub.Predict.with_call(msg, metadata=metadata, timeout=10)


def test_grpc_predict_selects_the_deployment_by_metadata(gateway: Running) -> None:
    reply, call = grpc_predict(
        gateway, [("seldon", "toy"), ("namespace", "test"), ("seldon-puid", "g-1")]
    )
    trailing = dict(call.trailing_metadata())
    assert list(reply.data.tensor.values) == EXPECTED[trailing["seldon-predictor"]]
    # the puid comes back in the initial (header) metadata, as Seldon's executor sends it;
    # the body's meta.puid is the wrapper's (none sent: none)
    assert dict(call.initial_metadata())["seldon-puid"] == "g-1" and reply.meta.puid == ""
    assert "seldon-puid" not in trailing


def test_grpc_without_metadata_uses_the_only_deployment(gateway: Running) -> None:
    reply, call = grpc_predict(gateway, [])
    assert (
        list(reply.data.tensor.values)
        == EXPECTED[dict(call.trailing_metadata())["seldon-predictor"]]
    )


def test_grpc_unknown_deployment_is_not_found_with_status_details(gateway: Running) -> None:
    with pytest.raises(grpc.RpcError) as info:
        grpc_predict(gateway, [("seldon", "nope")])
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert '"code": 404' in info.value.details() and "nope" in info.value.details()


# ------------------------------------------------------------------- the core, alone
class Recording:
    """A predictor executor that records calls (to prove one was not made)."""

    def __init__(self) -> None:
        self.calls = 0

    async def predict(self, payload: Payload, puid: str, headers: Any = ()) -> Payload:
        self.calls += 1
        return payload

    async def feedback(self, payload: Payload, puid: str, headers: Any = ()) -> Payload:
        return await self.predict(payload, puid)


def test_a_predictor_with_a_node_down_gets_503_without_calling_it(toy_manifest: Path) -> None:
    (spec,) = load_deployments(toy_manifest)
    main = Recording()
    runtime = DeploymentRuntime(spec, {"main": main}, TrafficSplit({"main": 100}), Mirror())
    down = {"main": ["scale"]}
    gateway = Gateway([runtime], GatewayMetrics(), lambda dep, pred: down.get(pred, []))
    with pytest.raises(Unavailable, match="scale"):
        asyncio.run(gateway.call(runtime, "predict", JsonPayload(tensor([1])), "p", "rest"))
    assert main.calls == 0 and not gateway.ready()
    down.clear()
    asyncio.run(gateway.call(runtime, "predict", JsonPayload(tensor([1])), "p", "rest"))
    assert main.calls == 1 and gateway.ready()


def test_find_needs_a_name_when_several_deployments_are_served(toy_manifest: Path) -> None:
    (spec,) = load_deployments(toy_manifest)
    runtime = DeploymentRuntime(spec, {}, TrafficSplit({"main": 100}), Mirror())
    gateway = Gateway([runtime, runtime], GatewayMetrics())
    with pytest.raises(NotFound):
        gateway.find(None, None)
    assert gateway.find("test", "toy") is runtime
