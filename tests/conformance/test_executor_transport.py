"""The transport of the request is the transport of every hop, and the wrapper answers
what the executor hands it unparsed (real ``seldon-core-microservice`` nodes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from seldon_core.proto import prediction_pb2

from graph.clients.base import NodeEndpoint
from tests.conformance.gateway import deployment_doc, local_gateway
from tests.fixtures.processes import Microservice, free_port, microservice

pytestmark = pytest.mark.slow
TENSOR: dict[str, Any] = {"data": {"tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}}


@pytest.fixture(scope="module")
def node(log_dir: Path) -> Iterator[Microservice]:
    params = [{"name": "factor", "type": "FLOAT", "value": "2.0"}]
    with microservice("tests.fixtures.toy_components.Scale", "MODEL", params, log_dir=log_dir) as m:
        yield m


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_rest_requests_hop_over_rest_and_grpc_requests_over_grpc(
    node: Microservice, transport: str
) -> None:
    """executor/cmd/executor/main.go: the HTTP server is built with the REST client, the
    gRPC server with the gRPC client; ``spec.transport`` picks neither. Each node's other
    port is closed here, so a hop over the wrong transport would fail."""
    doc = deployment_doc({"name": "m", "type": "MODEL"}, transport)
    rest_only = {"m": NodeEndpoint("127.0.0.1", node.http_port, free_port())}
    grpc_only = {"m": NodeEndpoint("127.0.0.1", free_port(), node.grpc_port)}
    with local_gateway(doc, rest_only) as gateway:
        reply = requests.post(f"{gateway.url}/predictions", json=TENSOR, timeout=10)
        assert reply.status_code == 200, reply.text
        assert reply.json()["data"]["tensor"]["values"] == [2.0, 4.0]
        with pytest.raises(grpc.RpcError) as caught:
            gateway.seldon_stub().Predict(prediction_pb2.SeldonMessage(strData="x"), timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    with local_gateway(doc, grpc_only) as gateway:
        message = prediction_pb2.SeldonMessage()
        message.data.tensor.shape.extend([1, 2])
        message.data.tensor.values.extend([1.0, 2.0])
        proto = gateway.seldon_stub().Predict(message, timeout=10)
        assert list(proto.data.tensor.values) == [2.0, 4.0]
        refused = requests.post(f"{gateway.url}/predictions", json=TENSOR, timeout=10)
        assert refused.status_code == 500 and "connection refused" in refused.text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"data": {"ndarray": [[1, 2]]}}', None),  # JSON without a JSON Content-Type
        (b'{"data": {"ndarray": [[1, 2]]}}', "application/x-www-form-urlencoded"),
        (b'{"data": {"ndarray": [[1, 2]]}}', "application/json"),
        (b"json=%7B%22data%22%3A%7B%22ndarray%22%3A%5B%5B1%2C2%5D%5D%7D%7D", None),
    ],
)
def test_the_gateway_answers_as_the_bare_wrapper_does(
    node: Microservice, body: bytes, content_type: str | None
) -> None:
    """executor/api/rest/server.go hands the body over unparsed, so what the client gets
    is the wrapper's own reply (seldon_core/flask_utils.py get_request): e.g. its 400
    ``Can't find JSON in data`` for a JSON body without ``Content-Type: application/json``."""
    headers = {"Content-Type": content_type} if content_type else {}
    if content_type is None and body.startswith(b"json="):
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    bare = requests.post(f"{node.url}/predict", data=body, headers=headers, timeout=10)
    doc = deployment_doc({"name": "m", "type": "MODEL"})
    with local_gateway(doc, {"m": node.endpoint}) as gateway:
        through = requests.post(
            f"{gateway.url}/predictions", data=body, headers=headers, timeout=10
        )
    assert through.status_code == bare.status_code
    assert through.json() == bare.json()
    if content_type is None and not body.startswith(b"json="):
        assert bare.status_code == 400 and "Can't find JSON in data" in bare.text
