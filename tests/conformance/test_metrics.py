"""The gateway exports Seldon Core 1.17.1's executor metrics at ``/prometheus`` (issue #11).

Names, labels, buckets and summary objectives of ``executor/api/metric/`` (SeldonIO/
seldon-core ``v1.17.1``); the toy deployment runs with real node processes
(``toy_served``), failed hops against real closed ports.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import grpc
import pytest
import requests
import yaml
from google.protobuf import json_format
from prometheus_client.parser import text_string_to_metric_families
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from graph.clients.base import NodeEndpoint
from graph.clients.errors import ExecutorError, NodeGrpcError
from graph.clients.grpc import GrpcNodeClient
from graph.clients.rest import RestNodeClient
from graph.deployments import load_deployments
from graph.gateway.metrics import (
    CLIENT_SECONDS,
    EXECUTOR_BUCKETS,
    EXECUTOR_QUANTILES,
    SERVER_SECONDS,
    GatewayMetrics,
    image_and_version,
)
from graph.gateway.node_metrics import InstrumentedClient
from graph.payload import JsonPayload
from graph.runner.ports import free_port
from tests.fixtures.graphs import Served, tensor, toy_manifest_doc

Labels = dict[str, str]


def samples(text: str, name: str) -> list[tuple[Labels, float]]:
    return [
        (dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


def count(text: str, name: str, **labels: str) -> float:
    """The ``_count`` of the series whose labels include ``labels`` (0 when absent)."""
    return sum(v for got, v in samples(text, f"{name}_count") if labels.items() <= got.items())


def scrape(served: Served) -> str:
    return requests.get(f"{served.url}/prometheus", timeout=10).text


SERVER_LABELS = {"deployment_name", "predictor_name", "predictor_version", "service",
                 "method", "code"}  # fmt: skip


@pytest.mark.parametrize(
    ("http", "path", "body", "service"),
    [
        ("POST", "/api/v1.0/predictions", tensor([1, 2]), "predictions"),
        ("POST", "/seldon/test/toy/api/v0.1/predictions", tensor([1]), "predictions"),
        ("POST", "/api/v1.0/feedback", {"request": tensor([1]), "reward": 1.0}, "feedback"),
        ("GET", "/api/v1.0/metadata", None, "metadata"),
        ("GET", "/api/v0.1/metadata/scale", None, "metadata"),
        ("GET", "/api/v1.0/status/scale", None, "status"),
        ("GET", "/api/v1.0/health/status", None, "status"),
        ("GET", "/api/v1.0/status", None, "status"),
    ],
)
def test_rest_server_metric_per_request(
    toy_served: Served, http: str, path: str, body: Any, service: str
) -> None:
    """``executor/api/rest/server.go`` (instrumented handlers) and
    ``executor/api/metric/server.go``: one observation per request with ``service``
    predictions|feedback|status|metadata, lowercase ``method``, numeric ``code`` and
    ``predictor_version`` the predictor annotation ``version`` (none here: empty)."""
    before = scrape(toy_served)
    reply = requests.request(http, toy_served.url + path, json=body, timeout=10)
    predictor = reply.headers.get("Seldon-Predictor", "main")
    labels = {"deployment_name": "toy", "predictor_name": predictor, "predictor_version": "",
              "service": service, "method": http.lower(),
              "code": str(reply.status_code)}  # fmt: skip
    after = scrape(toy_served)
    for name in (SERVER_SECONDS, SERVER_SECONDS + "_summary"):
        assert count(after, name, **labels) == count(before, name, **labels) + 1, labels
    assert {k for k, _ in samples(after, f"{SERVER_SECONDS}_count")[0][0].items()} == SERVER_LABELS


def test_probes_and_options_are_not_observed(toy_served: Served) -> None:
    """``executor/api/rest/server.go``: /ready, /live and the metrics path are not
    instrumented; OPTIONS is answered by the CORS middleware before the handler."""
    before = count(scrape(toy_served), SERVER_SECONDS)
    for path in ("/ready", "/live", "/prometheus"):
        requests.get(toy_served.url + path, timeout=10)
    requests.options(f"{toy_served.url}/api/v1.0/predictions", timeout=10)
    assert count(scrape(toy_served), SERVER_SECONDS) == before + 0


def test_buckets_and_summary_objectives(toy_served: Served) -> None:
    """``executor/api/metric/constants.go``: ``DefBuckets`` 0.005 .. 10 s and
    ``DefObjectives`` 0.5, 0.75, 0.9, 0.98, 0.99, 1.0, for both metrics."""
    requests.post(f"{toy_served.url}/api/v1.0/predictions", json=tensor([1]), timeout=10)
    text = scrape(toy_served)
    for name in (SERVER_SECONDS, CLIENT_SECONDS):
        les = {labels["le"] for labels, _ in samples(text, f"{name}_bucket")}
        assert les == {*(repr(float(b)) for b in EXECUTOR_BUCKETS), "+Inf"}
        quantiles = {labels["quantile"] for labels, _ in samples(text, f"{name}_summary")}
        assert {float(q) for q in quantiles} == set(EXECUTOR_QUANTILES)


def test_rest_client_metric_per_node_hop(toy_served: Served) -> None:
    """``executor/api/rest/client.go`` and ``executor/api/metric/client.go``: one
    observation per node call, ``service`` the node path, ``model_name`` the node,
    ``model_image``/``model_version`` from the node's container image (``toy:1``)."""
    before = scrape(toy_served)
    reply = requests.post(f"{toy_served.url}/api/v1.0/predictions", json=tensor([1]), timeout=10)
    predictor = reply.headers["Seldon-Predictor"]
    hops = [("offset", "/transform-input"), ("scale", "/predict")]
    if predictor == "canary":
        hops = hops[1:]
    after = scrape(toy_served)
    for node, path in hops:
        labels = {"deployment_name": "toy", "predictor_name": predictor, "service": path,
                  "model_name": node, "model_image": "toy", "model_version": "1",
                  "method": "post", "code": "200", "predictor_version": ""}  # fmt: skip
        assert count(after, CLIENT_SECONDS, **labels) == count(before, CLIENT_SECONDS, **labels) + 1


def test_grpc_server_metric_uses_the_full_method_and_code_name(toy_served: Served) -> None:
    """``executor/api/metric/server.go`` (unary interceptor): ``service`` the full method,
    ``method`` ``unary``, ``code`` the gRPC code name."""
    before = scrape(toy_served)
    with grpc.insecure_channel(toy_served.grpc_target) as channel:
        seldon = prediction_pb2_grpc.SeldonStub(channel)
        msg = json_format.ParseDict(tensor([1, 2]), prediction_pb2.SeldonMessage())
        _, call = seldon.Predict.with_call(msg, timeout=10)
    predictor = dict(call.trailing_metadata())["seldon-predictor"]
    labels = {"deployment_name": "toy", "predictor_name": predictor,
              "service": "/seldon.protos.Seldon/Predict", "method": "unary",
              "code": "OK"}  # fmt: skip
    assert (
        count(scrape(toy_served), SERVER_SECONDS, **labels)
        == count(before, SERVER_SECONDS, **labels) + 1
    )


def test_project_metrics_stay_on_metrics(toy_served: Served) -> None:
    """The executor serves only its own metrics at its metrics path
    (``executor/api/rest/server.go``); the project's ``seldon_graph_*`` are on /metrics."""
    prometheus = scrape(toy_served)
    project = requests.get(f"{toy_served.url}/metrics", timeout=10).text
    assert SERVER_SECONDS in prometheus and "seldon_graph_" not in prometheus
    assert "seldon_graph_requests_total" in project and SERVER_SECONDS not in project


@pytest.mark.parametrize(
    ("image", "expected"),
    [("toy:1", ("toy", "1")), ("reg:5000/img:1", ("reg", "")), ("img", ("img", "")),
     ("", ("", ""))],
)  # fmt: skip
def test_image_split_like_the_executor(image: str, expected: tuple[str, str]) -> None:
    """``executor/api/rest/client.go`` (``modelImage``/``modelVersion``): split on every
    ``:``, the version only with exactly two parts."""
    assert image_and_version(image) == expected


def test_predictor_version_is_the_predictor_annotation(tmp_path: Any) -> None:
    """``executor/api/metric/server.go``: ``predictor_version`` =
    ``predictor.Annotations["version"]`` (not the ``version`` label)."""
    doc = toy_manifest_doc(100, 0, shadow=False)
    doc["spec"]["predictors"][0]["annotations"] = {"version": "v7"}
    doc["spec"]["predictors"][0]["labels"] = {"version": "not-this"}
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(doc))
    (spec,) = load_deployments(path)
    metrics = GatewayMetrics()
    metrics.server_request(spec, "main", "predictions", "post", "200", 0.01)
    metrics.server_request(spec, "canary", "predictions", "post", "200", 0.01)
    text = metrics.executor.exposition().decode()
    assert count(text, SERVER_SECONDS, predictor_name="main", predictor_version="v7") == 1
    assert count(text, SERVER_SECONDS, predictor_name="canary", predictor_version="") == 1


def test_failed_rest_hops_are_not_observed_failed_grpc_hops_are() -> None:
    """``executor/api/rest/client.go``: a REST call with no HTTP answer (refused) is not
    observed; ``executor/api/metric/client.go``: gRPC calls are, with the code name."""
    metrics = GatewayMetrics()
    observer = metrics.observer("toy")
    endpoint = NodeEndpoint("127.0.0.1", free_port(), free_port())  # nothing listens

    async def go() -> None:
        async with aiohttp.ClientSession() as session:
            rest = InstrumentedClient(RestNodeClient("n", endpoint, session, 5.0), "p", observer)
            with pytest.raises(ExecutorError, match="connection refused"):
                await rest.predict(JsonPayload(tensor([1])), "puid")
        channel = grpc.aio.insecure_channel(endpoint.grpc_target)
        inner = GrpcNodeClient("n", endpoint, channel, 5.0, owns_channel=True)
        client = InstrumentedClient(inner, "p", observer)
        with pytest.raises(NodeGrpcError) as failed:
            await client.predict(JsonPayload(tensor([1])), "puid")
        assert failed.value.code == grpc.StatusCode.UNAVAILABLE
        await client.close()

    asyncio.run(go())
    text = metrics.executor.exposition().decode()
    assert count(text, CLIENT_SECONDS, service="/predict") == 0
    grpc_labels = {"service": "/seldon.protos.Model/Predict", "model_name": "n",
                   "method": "unary", "code": "Unavailable"}  # fmt: skip
    assert count(text, CLIENT_SECONDS, **grpc_labels) == 1


def test_a_node_error_reply_is_observed_with_its_status(toy_served: Served) -> None:
    """``executor/api/rest/client.go``: a node that answered (any status) is observed with
    that status as ``code``; the server metric gets the status the client saw."""
    before = scrape(toy_served)
    url = f"{toy_served.url}/api/v1.0/predictions"
    reply = requests.post(url, json={"strData": "not numbers"}, timeout=10)
    assert reply.status_code >= 400
    predictor = reply.headers["Seldon-Predictor"]
    first = "offset" if predictor == "main" else "scale"
    labels = {"predictor_name": predictor, "model_name": first, "code": str(reply.status_code)}
    after = scrape(toy_served)
    assert count(after, CLIENT_SECONDS, **labels) == count(before, CLIENT_SECONDS, **labels) + 1
    server = {"predictor_name": predictor, "service": "predictions", "code": labels["code"]}
    assert count(after, SERVER_SECONDS, **server) == count(before, SERVER_SECONDS, **server) + 1
