"""A node's failure as Seldon's executor reports it."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
import requests
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from graph.clients.base import NodeEndpoint
from tests.conformance.gateway import deployment_doc, local_gateway, recording_node
from tests.fixtures.processes import free_port, microservice

ROUTER = {
    "name": "r",
    "type": "ROUTER",
    "children": [{"name": "a", "type": "MODEL"}, {"name": "b", "type": "MODEL"}],
}


def test_a_nodes_non_200_status_and_body_pass_through() -> None:
    """executor/api/rest/client.go (httpStatusError) + server.go: the node's status and
    body, unchanged."""
    body = b'{"status": {"code": 418, "info": "teapot", "status": "FAILURE"}}'
    with (
        recording_node(predict=(418, body, "application/json")) as m,
        local_gateway(deployment_doc({"name": "m"}), {"m": m.endpoint()}) as gateway,
    ):
        reply = requests.post(f"{gateway.url}/predictions", json={}, timeout=10)
    assert reply.status_code == 418 and reply.content == body


def test_a_routers_failed_route_is_the_node_status_with_the_executors_error() -> None:
    """executor/api/rest/client.go + errors.go: the router's body is dropped; the client
    gets its status with the executor's error JSON."""
    with recording_node(route=(503, b"busy", "text/plain")) as r, recording_node() as a:
        endpoints = {"r": r.endpoint(), "a": a.endpoint(), "b": a.endpoint()}
        with local_gateway(deployment_doc(ROUTER), endpoints) as gateway:
            reply = requests.post(f"{gateway.url}/predictions", json={}, timeout=10)
    assert reply.status_code == 503
    info = (
        "Internal service call from executor failed calling "
        f"http://127.0.0.1:{r.port}/route status code 503"
    )
    assert reply.json() == {"status": {"code": 500, "info": info, "status": "FAILURE"}}
    assert a.seen == []


def test_a_node_that_is_down_is_a_500_naming_the_url_and_the_cause_at_once() -> None:
    """executor/api/rest/client.go (CreateErrorPayload): HTTP 500 with Go's url.Error."""
    port = free_port()
    endpoints = {"m": NodeEndpoint("127.0.0.1", port, free_port())}
    with local_gateway(deployment_doc({"name": "m"}), endpoints) as gateway:
        reply = requests.post(f"{gateway.url}/predictions", json={}, timeout=5)
    assert reply.status_code == 500
    info = (
        f'Post "http://127.0.0.1:{port}/predict": dial tcp 127.0.0.1:{port}: '
        "connect: connection refused"
    )
    assert json.loads(reply.content) == {"status": {"code": 500, "info": info, "status": "FAILURE"}}


@pytest.mark.slow
def test_grpc_status_codes_of_nodes_pass_through(log_dir: Path) -> None:
    """executor/api/grpc/seldon/server.go: the node's error is returned unchanged: the
    same code and details as the bare wrapper's."""
    params = [{"name": "kind", "type": "STRING", "value": "input"}]
    with microservice(
        "tests.fixtures.toy_components.Failing", "MODEL", params, log_dir=log_dir
    ) as node:
        request = prediction_pb2.SeldonMessage(strData="x")
        channel = grpc.insecure_channel(node.grpc_target)
        with pytest.raises(grpc.RpcError) as bare:
            prediction_pb2_grpc.ModelStub(channel).Predict(request, timeout=10)
        channel.close()
        with (
            local_gateway(deployment_doc({"name": "m"}), {"m": node.endpoint}) as gateway,
            pytest.raises(grpc.RpcError) as through,
        ):
            gateway.seldon_stub().Predict(request, timeout=10)
    assert through.value.code() == bare.value.code() != grpc.StatusCode.OK
    assert through.value.details() == bare.value.details()
