"""Bodies pass through the executor: bytes and Content-Type, node to node, unparsed."""

from __future__ import annotations

import json

import requests

from tests.conformance.gateway import deployment_doc, local_gateway, recording_node

JSON = "application/json"


def test_the_client_body_and_type_reach_the_first_node_and_replies_go_on_as_bytes() -> None:
    """executor/api/rest/server.go (predictions) + client.go: the body is wrapped with the
    request's Content-Type unchanged; each reply's bytes and type go to the next node; the
    client gets the last node's body and type with 200."""
    body = b'{"data":   {"ndarray": [[1, 2]]},  "extra": "kept"}'
    first_reply = b'{"jsonData" : {"step": 1}}'
    last_reply = b'{"strData": "done"}'
    with (
        recording_node(transform_input=(200, first_reply, "application/x-first")) as t,
        recording_node(predict=(200, last_reply, "text/x-last")) as m,
    ):
        graph = {"name": "t", "type": "TRANSFORMER", "children": [{"name": "m", "type": "MODEL"}]}
        endpoints = {"t": t.endpoint(), "m": m.endpoint()}
        with local_gateway(deployment_doc(graph), endpoints) as gateway:
            reply = requests.post(
                f"{gateway.url}/predictions", data=body, headers={"Content-Type": JSON}, timeout=10
            )
    assert reply.status_code == 200
    assert reply.content == last_reply and reply.headers["Content-Type"] == "text/x-last"
    (to_t,) = t.seen
    (to_m,) = m.seen
    assert to_t.path == "/transform-input" and to_t.body == body
    assert to_t.headers["Content-Type"] == JSON
    assert to_m.path == "/predict" and to_m.body == first_reply
    assert to_m.headers["Content-Type"] == "application/x-first"


def test_a_multipart_form_reaches_the_node_as_it_came() -> None:
    """executor/api/rest/server.go: no parsing, the boundary stays in the Content-Type."""
    with (
        recording_node(predict=(200, b"{}", JSON)) as m,
        local_gateway(deployment_doc({"name": "m"}), {"m": m.endpoint()}) as gateway,
    ):
        prepared = requests.Request(
            "POST", f"{gateway.url}/predictions", files={"strData": ("s.txt", b"hello")}
        ).prepare()
        reply = requests.Session().send(prepared, timeout=10)
    assert reply.status_code == 200
    (seen,) = m.seen
    assert seen.body == prepared.body
    assert seen.headers["Content-Type"] == prepared.headers["Content-Type"]
    assert seen.headers["Content-Type"].startswith("multipart/form-data; boundary=")


def test_aggregate_receives_the_children_replies_as_a_json_list_in_child_order() -> None:
    """executor/api/rest/utils.go: ``[out0,out1,...]`` in child order, the first child's
    Content-Type."""
    a_reply, b_reply = b'{"data": {"ndarray": [1]}}', b'{"data": {"ndarray": [2]}}'
    with (
        recording_node(predict=(200, a_reply, JSON)) as a,
        recording_node(predict=(200, b_reply, JSON)) as b,
        recording_node(aggregate=(200, b'{"data": {"ndarray": [3]}}', JSON)) as c,
    ):
        graph = {
            "name": "c",
            "type": "COMBINER",
            "children": [{"name": "a", "type": "MODEL"}, {"name": "b", "type": "MODEL"}],
        }
        endpoints = {"a": a.endpoint(), "b": b.endpoint(), "c": c.endpoint()}
        with local_gateway(deployment_doc(graph), endpoints) as gateway:
            reply = requests.post(f"{gateway.url}/predictions", json={"data": {}}, timeout=10)
    assert reply.status_code == 200 and reply.json() == {"data": {"ndarray": [3]}}
    (seen,) = c.seen
    assert seen.path == "/aggregate" and seen.body == b"[" + a_reply + b"," + b_reply + b"]"
    assert json.loads(seen.body) == [json.loads(a_reply), json.loads(b_reply)]


def test_routing_is_injected_only_with_the_setting_and_only_into_a_meta_object() -> None:
    """executor/predictor/predictor_process.go + api/util/utils.go: with
    SELDON_ENABLE_ROUTING_INJECTION, ``meta.routing`` goes into a reply that has ``meta``;
    no meta or no setting: the reply is untouched. The executor never writes meta.puid."""
    with_meta, without_meta = b'{"meta": {}, "data": {"ndarray": [1]}}', b'{"data": {}}'
    for node_reply, inject, routing in [
        (with_meta, True, {"m": -1}),
        (with_meta, False, None),
        (without_meta, True, None),
    ]:
        with recording_node(predict=(200, node_reply, JSON)) as m:
            doc = deployment_doc({"name": "m"})
            with local_gateway(doc, {"m": m.endpoint()}, inject_routing=inject) as gateway:
                reply = requests.post(f"{gateway.url}/predictions", json={}, timeout=10)
        assert reply.status_code == 200
        if routing is None:
            assert reply.content == node_reply
        else:
            assert reply.json()["meta"] == {"routing": routing}  # no puid either
