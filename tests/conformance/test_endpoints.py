"""The gateway's front serves what Seldon Core 1.17.1's executor serves (issue #11).

The toy deployment runs with real ``seldon-core-microservice`` node processes
(``seldon-graph serve``, the ``toy_served`` fixture); node replies are compared with the
same node asked directly. Sources are paths in SeldonIO/seldon-core at ``v1.17.1``.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from google.protobuf import empty_pb2, json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from graph.deployments import load_deployments
from graph.gateway import rest
from graph.gateway.dispatch import DeploymentRuntime, Gateway
from graph.gateway.endpoints import add_seldon_routes
from graph.gateway.metrics import GatewayMetrics
from graph.gateway.nodeinfo import NodeInfo
from graph.gateway.traffic import Mirror, split_for
from tests.fixtures.graphs import Served, tensor
from tests.fixtures.http import serving

INGRESS = "/seldon/test/toy"
NODES = {"main": {"offset", "scale"}, "canary": {"scale"}}


def get(served: Served, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(served.url + path, timeout=10, **kwargs)


def node_url(served: Served, predictor: str, node: str) -> str:
    ports = next(v for k, v in served.nodes().items() if k.endswith(f"{predictor}/{node}"))
    return f"http://127.0.0.1:{ports['http_port']}"


@pytest.mark.parametrize("prefix", ["", INGRESS])
@pytest.mark.parametrize("version", ["v0.1", "v1.0"])
def test_predictions_and_feedback_on_both_api_versions(
    toy_served: Served, prefix: str, version: str
) -> None:
    """``executor/api/rest/server.go`` (routes): POST ``/api/v0.1|v1.0/predictions`` and
    ``/feedback``; the ingress prefix ``/seldon/<ns>/<name>`` is stripped in a cluster."""
    api = f"{toy_served.url}{prefix}/api/{version}"
    reply = requests.post(f"{api}/predictions", json=tensor([1, 2]), timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["tensor"]["values"]
    feedback = {"request": tensor([1, 2]), "response": reply.json(), "reward": 1.0}
    assert requests.post(f"{api}/feedback", json=feedback, timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1.0/predictions", 405),
        ("PUT", "/api/v0.1/feedback", 405),
        ("POST", "/api/v1.0/metadata", 405),
        ("POST", "/api/v0.1/status/scale", 405),
        ("GET", "/api/v0.1/metadata", 404),  # no graph metadata on v0.1
        ("GET", "/api/v0.1/health/status", 404),
        ("GET", "/api/v2.0/predictions", 404),
    ],
)
def test_method_rules_and_unknown_paths(
    toy_served: Served, method: str, path: str, status: int
) -> None:
    """``executor/api/rest/server.go``: predictions/feedback are POST, metadata/status GET
    (gorilla/mux: wrong method 405, unknown path 404)."""
    reply = requests.request(method, toy_served.url + path, timeout=10)
    assert reply.status_code == status, reply.text


@pytest.mark.parametrize(
    "path", ["/api/v1.0/predictions", "/api/v0.1/feedback", "/api/v1.0/metadata",
             "/api/v1.0/status/scale", f"{INGRESS}/api/v1.0/predictions", "/ready"],
)  # fmt: skip
def test_options_is_answered_by_cors_with_200(toy_served: Served, path: str) -> None:
    """``executor/api/rest/middlewares.go`` ``handleCORSRequests``: OPTIONS is answered
    200 with an empty body and the CORS headers, without calling the handler."""
    reply = requests.options(toy_served.url + path, timeout=10)
    assert reply.status_code == 200 and reply.content == b""
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Type" in reply.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize(
    "path", ["/api/v1.0/metadata", "/ready", "/live", "/prometheus", "/api/v1.0/status"]
)
def test_every_response_has_puid_nosniff_and_cors_headers(toy_served: Served, path: str) -> None:
    """``executor/api/rest/middlewares.go``: ``puidHeader`` (the request's ``Seldon-Puid``,
    else a new uuid4), ``xss`` (``X-Content-Type-Options: nosniff``) and CORS
    (``Access-Control-Allow-Origin``, default ``*``) on every route."""
    reply = get(toy_served, path)
    puid = reply.headers["Seldon-Puid"]
    assert len(puid) == 36 and uuid.UUID(puid).version == 4
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    assert get(toy_served, path, headers={"Seldon-Puid": "p-42"}).headers["Seldon-Puid"] == "p-42"


def test_prediction_puid_is_generated_once_and_echoed(toy_served: Served) -> None:
    """``executor/api/rest/middlewares.go`` ``puidHeader``: one uuid4 per request."""
    reply = requests.post(f"{toy_served.url}/api/v1.0/predictions", json=tensor([1]), timeout=10)
    puid = reply.headers["Seldon-Puid"]
    assert uuid.UUID(puid).version == 4 and reply.json()["meta"].get("puid", puid) == puid


@pytest.mark.parametrize(
    "path", ["/ready", "/live", "/api/v1.0/status", "/api/v1.0/health/status",
             f"{INGRESS}/api/v1.0/health/status", f"{INGRESS}/ready"],
)  # fmt: skip
def test_probes_answer_200_with_an_empty_body(toy_served: Served, path: str) -> None:
    """``executor/api/rest/server.go`` ``checkReady``/``alive``: 200 and no body."""
    reply = get(toy_served, path)
    assert reply.status_code == 200 and reply.content == b""


def test_not_ready_is_503_with_an_empty_body(toy_manifest: Path) -> None:
    """``executor/api/rest/server.go`` ``checkReady``: 503, empty body, when a node is not
    ready (``executor/predictor/ready_checker.go``)."""
    (spec,) = load_deployments(toy_manifest)
    split = split_for([(p.name, p.traffic, p.shadow) for p in spec.predictors])
    executors: dict[str, Any] = {p.name: object() for p in spec.predictors}  # never called
    runtime = DeploymentRuntime(spec, executors, split, Mirror())

    async def go(down: list[str]) -> list[tuple[int, bytes]]:
        gateway = Gateway([runtime], GatewayMetrics(), lambda d, p: down)
        app = rest.create_app(gateway)
        add_seldon_routes(app, NodeInfo())
        replies = []
        async with serving(app) as port:
            for path in ("/ready", "/api/v1.0/status", "/api/v1.0/health/status"):
                url = f"http://127.0.0.1:{port}{path}"
                reply = await asyncio.to_thread(requests.get, url, timeout=10)
                replies.append((reply.status_code, reply.content))
        return replies

    assert asyncio.run(go(["scale"])) == [(503, b"")] * 3
    assert asyncio.run(go([])) == [(200, b"")] * 3


@pytest.mark.parametrize(("route", "node_path"), [("metadata", "/metadata"),
                                                  ("status", "/health/status")])  # fmt: skip
@pytest.mark.parametrize("version", ["v0.1", "v1.0"])
def test_node_metadata_and_status_are_the_nodes_own_reply(
    toy_served: Served, route: str, node_path: str, version: str
) -> None:
    """``executor/api/rest/server.go`` ``metadata``/``status`` with ``{model}``: GET the
    node's ``/metadata`` resp. ``/health/status`` (``executor/api/rest/client.go``) and pass
    the reply on."""
    reply = get(toy_served, f"{INGRESS}/api/{version}/{route}/scale")
    assert reply.status_code == 200, reply.text
    direct = requests.get(
        node_url(toy_served, reply.headers["Seldon-Predictor"], "scale") + node_path, timeout=10
    )
    assert reply.json() == direct.json()
    assert reply.headers["Content-Type"] == direct.headers["Content-Type"]


@pytest.mark.parametrize("route", ["metadata", "status"])
def test_unknown_model_is_500_failed_to_find_model(toy_served: Served, route: str) -> None:
    """``executor/predictor/predictor_process.go`` ``Status``/``Metadata``: ``Failed to find
    model <name>``, written as a 500 Seldon error (``executor/api/rest/server.go``)."""
    reply = get(toy_served, f"/api/v1.0/{route}/nope")
    assert reply.status_code == 500
    status = reply.json()["status"]
    assert status["code"] == 500 and status["status"] == "FAILURE"
    assert "Failed to find model nope" in status["info"]


def test_graph_metadata_collects_every_node(toy_served: Served) -> None:
    """``executor/predictor/predictor_process.go`` ``GraphMetadata`` and
    ``executor/predictor/metadata.go``: ``{"name", "models", "graphinputs",
    "graphoutputs"}``, inputs of the root (a TRANSFORMER) and outputs of its child."""
    reply = get(toy_served, "/api/v1.0/metadata")
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    predictor = reply.headers["Seldon-Predictor"]
    assert list(body) == ["name", "models", "graphinputs", "graphoutputs"]
    assert body["name"] == predictor and set(body["models"]) == NODES[predictor]
    for node, meta in body["models"].items():
        direct = requests.get(node_url(toy_served, predictor, node) + "/metadata", timeout=10)
        assert meta == direct.json()
    first = "offset" if predictor == "main" else "scale"
    assert body["graphinputs"] == body["models"][first]["inputs"]
    assert body["graphoutputs"] == body["models"]["scale"]["outputs"]


def stub(served: Served) -> tuple[grpc.Channel, prediction_pb2_grpc.SeldonStub]:
    channel = grpc.insecure_channel(served.grpc_target)
    return channel, prediction_pb2_grpc.SeldonStub(channel)


def test_grpc_puid_comes_back_in_the_initial_metadata(toy_served: Served) -> None:
    """``executor/api/grpc/seldon/server.go`` Predict/SendFeedback: ``SetHeader`` with
    ``seldon-puid`` (``executor/api/grpc/server.go`` ``CollectMetadata``: uuid4 when
    absent), not in the trailers."""
    channel, seldon = stub(toy_served)
    with channel:
        msg = json_format.ParseDict(tensor([1, 2]), prediction_pb2.SeldonMessage())
        reply, call = seldon.Predict.with_call(msg, metadata=[("seldon-puid", "g-7")], timeout=10)
        assert dict(call.initial_metadata())["seldon-puid"] == "g-7"
        assert "seldon-puid" not in dict(call.trailing_metadata())
        _, call = seldon.Predict.with_call(msg, timeout=10)
        assert uuid.UUID(dict(call.initial_metadata())["seldon-puid"]).version == 4
        feedback = prediction_pb2.Feedback(request=msg, response=reply, reward=1.0)
        _, call = seldon.SendFeedback.with_call(feedback, timeout=10)
        assert uuid.UUID(dict(call.initial_metadata())["seldon-puid"]).version == 4


def test_grpc_model_and_graph_metadata(toy_served: Served) -> None:
    """``proto/prediction.proto`` service Seldon: ``ModelMetadata`` (the named node's
    metadata) and ``GraphMetadata`` (``executor/api/grpc/seldon/server.go``)."""
    channel, seldon = stub(toy_served)
    with channel:
        request = prediction_pb2.SeldonModelMetadataRequest(name="scale")
        meta, call = seldon.ModelMetadata.with_call(request, timeout=10)
        predictor = dict(call.trailing_metadata())["seldon-predictor"]
        direct = requests.get(node_url(toy_served, predictor, "scale") + "/metadata", timeout=10)
        assert meta.name == direct.json()["name"]
        graph, call = seldon.GraphMetadata.with_call(empty_pb2.Empty(), timeout=10)
        predictor = dict(call.trailing_metadata())["seldon-predictor"]
        assert graph.name == predictor and set(graph.models) == NODES[predictor]
        with pytest.raises(grpc.RpcError) as info:
            seldon.ModelMetadata(prediction_pb2.SeldonModelMetadataRequest(name="nope"))
        assert info.value.code() == grpc.StatusCode.UNKNOWN
        assert "Failed to find model nope" in (info.value.details() or "")


@pytest.mark.parametrize("path", ["/api/v1.0/metadata", "/api/v1.0/status/scale", "/ready"])
def test_an_unknown_deployment_under_the_ingress_path_is_404(toy_served: Served, path: str) -> None:
    """No executor serves it: the ingress answers 404 (project stand-in for the ingress,
    as for predictions)."""
    reply = get(toy_served, f"/seldon/test/nope{path}")
    assert reply.status_code == 404, reply.text
