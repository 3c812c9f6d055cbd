"""Node roles after the operator's defaulting, and the executor's order of checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from graph.spec import load_deployment
from tests.conformance.gateway import deployment_doc, local_gateway, recording_node

JSON = "application/json"


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({}, "MODEL"),  # nothing given: MODEL
        ({"implementation": "SKLEARN_SERVER", "type": "TRANSFORMER"}, "MODEL"),  # prepackaged
        ({"implementation": "RANDOM_ABTEST"}, "UNKNOWN_TYPE"),
        ({"methods": ["TRANSFORM_INPUT"]}, "UNKNOWN_TYPE"),
        ({"type": "ROUTER", "implementation": "SIMPLE_ROUTER"}, "ROUTER"),
    ],
)
def test_node_types_are_defaulted_as_the_operator_does(node: dict[str, Any], expected: str) -> None:
    """operator/apis/machinelearning.seldon.io/v1/defaults.go + prepack.go."""
    dep = load_deployment(deployment_doc({"name": "n", **node}))
    assert dep.predictors[0].graph.type == expected


def test_a_node_without_type_methods_or_implementation_is_called_as_a_model() -> None:
    """defaults.go: type MODEL; predictor_process.go: a MODEL gets /predict."""
    with (
        recording_node() as m,
        local_gateway(deployment_doc({"name": "m"}), {"m": m.endpoint()}) as gateway,
    ):
        reply = requests.post(f"{gateway.url}/predictions", json={"data": {}}, timeout=10)
    assert reply.status_code == 200 and m.paths() == ["/predict"]


def test_a_router_typed_random_abtest_calls_route_first() -> None:
    """predictor_process.go (route): type ROUTER / method ROUTE before the built-in."""
    graph = {
        "name": "r",
        "type": "ROUTER",
        "implementation": "RANDOM_ABTEST",
        "children": [{"name": "a", "type": "MODEL"}, {"name": "b", "type": "MODEL"}],
    }
    route = b'{"data": {"ndarray": [1]}}'
    with (
        recording_node(route=(200, route, JSON)) as r,
        recording_node() as a,
        recording_node() as b,
    ):
        endpoints = {"r": r.endpoint(), "a": a.endpoint(), "b": b.endpoint()}
        with local_gateway(deployment_doc(graph), endpoints) as gateway:
            reply = requests.post(f"{gateway.url}/predictions", json={"data": {}}, timeout=10)
    assert reply.status_code == 200
    assert r.paths() == ["/route"] and a.paths() == [] and b.paths() == ["/predict"]


def test_feedback_goes_to_the_children_on_the_recorded_route_before_the_parent() -> None:
    """predictor_process.go (feedbackChildren): route from response.meta.routing (absent:
    every child), children first; the reply is the root's /send-feedback reply."""
    graph = {
        "name": "r",
        "type": "ROUTER",
        "children": [{"name": "a", "type": "MODEL"}, {"name": "b", "type": "MODEL"}],
    }
    root_reply = b'{"meta": {"tags": {"root": 1}}}'
    feedback_on: dict[str, Any] = {
        "request": {"data": {}},
        "response": {"meta": {"routing": {"r": 1}}},
        "reward": 1.0,
    }
    feedback_all: dict[str, Any] = {"request": {"data": {}}, "response": {}, "reward": 0.0}
    with (
        recording_node(send_feedback=(200, root_reply, JSON)) as r,
        recording_node() as a,
        recording_node() as b,
    ):
        endpoints = {"r": r.endpoint(), "a": a.endpoint(), "b": b.endpoint()}
        with local_gateway(deployment_doc(graph), endpoints) as gateway:
            routed = requests.post(f"{gateway.url}/feedback", json=feedback_on, timeout=10)
            assert a.paths() == [] and b.paths() == ["/send-feedback"]
            everyone = requests.post(f"{gateway.url}/feedback", json=feedback_all, timeout=10)
    assert routed.content == everyone.content == root_reply
    assert a.paths() == ["/send-feedback"] and b.paths() == ["/send-feedback"] * 2
    assert json.loads(b.seen[0].body) == feedback_on  # the body as the client sent it


def test_feedback_to_a_root_that_takes_none_echoes_the_request() -> None:
    """predictor_process.go (Feedback): no root call -> the request itself comes back."""
    graph = {"name": "t", "type": "TRANSFORMER", "children": [{"name": "m", "type": "MODEL"}]}
    body = b'{"request": {"data": {}}, "reward": 1}'
    with (
        recording_node(send_feedback=(200, b"{}", JSON)) as t,
        recording_node() as m,
        local_gateway(deployment_doc(graph), {"t": t.endpoint(), "m": m.endpoint()}) as g,
    ):
        reply = requests.post(
            f"{g.url}/feedback", data=body, headers={"Content-Type": JSON}, timeout=10
        )
    assert reply.status_code == 200 and reply.content == body
    assert t.paths() == [] and m.paths() == ["/send-feedback"]


def test_several_children_without_a_combiner_pass_on_the_first_childs_reply() -> None:
    """predictor_process.go (predictChildren, aggregate): route -1 calls every child;
    without a combiner only the first child's reply goes on."""
    graph = {"name": "m", "children": [{"name": "a"}, {"name": "b"}]}  # all MODELs
    with (
        recording_node(predict=(200, b'{"from": "m"}', JSON)) as m,
        recording_node(predict=(200, b'{"from": "a"}', JSON)) as a,
        recording_node(predict=(200, b'{"from": "b"}', JSON)) as b,
    ):
        endpoints = {"m": m.endpoint(), "a": a.endpoint(), "b": b.endpoint()}
        with local_gateway(deployment_doc(graph), endpoints) as gateway:
            reply = requests.post(f"{gateway.url}/predictions", json={}, timeout=10)
    assert reply.status_code == 200 and reply.content == b'{"from": "a"}'
    assert a.seen[0].body == b.seen[0].body == b'{"from": "m"}'
