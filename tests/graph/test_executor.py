"""The graph walk, with toy components called in process (fast)."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from seldon_core.metrics import SeldonMetrics
from seldon_core.utils import json_to_seldon_message

from graph.clients.factory import build_inprocess_clients, close_clients
from graph.executor import Executor
from graph.payload import JsonPayload, Payload, ProtoPayload
from graph.spec import load_deployment
from model.errors import ConfigError, InternalError, InvalidInput, SeldonGraphError
from tests.fixtures import toy_components as toy


@pytest.fixture(scope="module")
def seldon_metrics() -> Iterator[SeldonMetrics]:
    yield SeldonMetrics()  # one Manager process for the module


def deployment(graph: dict[str, Any], images: dict[str, str] | None = None) -> Any:
    specs = [{"spec": {"containers": [{"name": n, "image": i} for n, i in (images or {}).items()]}}]
    predictor = {"name": "p", "graph": graph, "componentSpecs": specs}
    return load_deployment({"metadata": {"name": "dep"}, "spec": {"predictors": [predictor]}})


def tensor(values: list[float]) -> dict[str, Any]:
    return {"data": {"tensor": {"shape": [1, len(values)], "values": values}}}


def run(
    graph: dict[str, Any],
    components: dict[str, Any],
    payloads: list[Payload],
    metrics: SeldonMetrics,
    images: dict[str, str] | None = None,
    **executor_args: Any,
) -> list[Payload]:
    dep = deployment(graph, images)

    async def go() -> list[Payload]:
        clients = build_inprocess_clients(dep.predictors[0], components, seldon_metrics=metrics)
        try:
            executor = Executor(dep, "p", clients, **executor_args)
            return [await executor.predict(p) for p in payloads]
        finally:
            await close_clients(clients)

    return asyncio.run(go())


def values(reply: Payload) -> list[float]:
    return list(reply.to_json()["data"]["tensor"]["values"])


def node(name: str, type_: str = "MODEL", children: tuple[dict, ...] = (), **extra: Any) -> dict:
    return {"name": name, "type": type_, "children": list(children), **extra}


def test_transformer_then_model_chain_passes_replies_on(seldon_metrics: SeldonMetrics) -> None:
    """Meta is what the wrapper writes: the executor merges none and writes no
    requestPath (executor/predictor/predictor_process.go)."""
    graph = node("offset", "TRANSFORMER", (node("scale"),))
    components = {"offset": toy.AddOffset("offset", 1.0), "scale": toy.Scale("scale", 2.0)}
    request = JsonPayload(tensor([1.0, 2.0]))
    request.update_tags({"client": "yes", "last": "client"})
    (reply,) = run(graph, components, [request], seldon_metrics, images={"scale": "toy/s:1"})
    assert values(reply) == [4.0, 6.0]
    tags = reply.tags()
    assert tags["client"] == "yes" and tags["offset"] and tags["scale"]
    assert tags["last"] == "scale"  # later wins (the wrapper copies the request's tags)
    assert [m["key"] for m in reply.metrics()] == ["calls_offset", "calls_scale"]
    assert reply.request_path() == {}  # the executor adds none


def test_router_sends_to_the_chosen_child_only(seldon_metrics: SeldonMetrics) -> None:
    a, b = toy.Scale("a", 2.0), toy.Scale("b", 3.0)
    graph = node("router", "ROUTER", (node("a"), node("b")))
    components = {"router": toy.ParamRouter("router", 1), "a": a, "b": b}
    (reply,) = run(
        graph, components, [JsonPayload(tensor([1.0]))], seldon_metrics, inject_routing=True
    )
    assert values(reply) == [3.0]
    assert reply.routing() == {"router": 1, "b": -1}  # every node, with routing injection
    assert "a" not in reply.tags() and len(a.puids) == 0 and len(b.puids) == 1


class BarrierModel(toy.Scale):
    """Only answers once ``parties`` calls wait together: proves children run at once."""

    def __init__(self, name: str, factor: float, barrier: threading.Barrier) -> None:
        super().__init__(name, factor)
        self.barrier = barrier

    def predict(self, X: Any, names: list[str], meta: dict | None = None) -> Any:
        self.barrier.wait(timeout=10)
        return super().predict(X, names, meta)


def test_route_all_calls_children_together_and_the_combiner_gets_both(
    seldon_metrics: SeldonMetrics,
) -> None:
    barrier = threading.Barrier(2)
    graph = node("mean", "COMBINER", (node("a"), node("b")))
    components = {
        "mean": toy.MeanCombiner("mean"),
        "a": BarrierModel("a", 2.0, barrier),
        "b": BarrierModel("b", 4.0, barrier),
    }
    images = {"a": "toy/a:1", "b": "toy/b:2", "mean": "toy/mean:3"}
    (reply,) = run(
        graph, components, [JsonPayload(tensor([1.0, 2.0]))], seldon_metrics, images,
        inject_routing=True,
    )  # fmt: skip
    assert values(reply) == [3.0, 6.0]
    assert {"a", "b", "mean"} <= set(reply.tags())  # the wrapper's aggregate merges them
    assert reply.tags()["last"] == "mean"
    assert sorted(m["key"] for m in reply.metrics()) == ["calls_a", "calls_b", "calls_mean"]
    assert reply.request_path() == {}
    assert reply.routing() == {"mean": -1, "a": -1, "b": -1}


def test_route_minus_two_returns_the_message_unchanged(seldon_metrics: SeldonMetrics) -> None:
    a = toy.Scale("a", 2.0)
    graph = node("router", "ROUTER", (node("a"),))
    components = {"router": toy.ParamRouter("router", -2), "a": a}
    request = tensor([5.0])
    request["meta"] = {}
    (reply,) = run(graph, components, [JsonPayload(request)], seldon_metrics, inject_routing=True)
    assert values(reply) == [5.0]
    assert reply.routing() == {"router": -2}
    assert a.puids == []


def test_without_combiner_the_first_childs_reply_goes_on(seldon_metrics: SeldonMetrics) -> None:
    a, b = toy.Scale("a", 2.0), toy.Scale("b", 3.0)
    graph = node("fan", "UNKNOWN_TYPE", (node("a"), node("b")))
    (reply,) = run(
        graph, {"a": a, "b": b}, [JsonPayload(tensor([1.0]))], seldon_metrics, inject_routing=True
    )
    assert values(reply) == [2.0]
    assert len(b.puids) == 1  # b was called too, its reply dropped
    assert reply.routing() == {"fan": -1, "a": -1, "b": -1}


def test_output_transformer_runs_after_its_children(seldon_metrics: SeldonMetrics) -> None:
    graph = node("out", "OUTPUT_TRANSFORMER", (node("scale"),))
    components = {"out": toy.OutputScale("out", 10.0), "scale": toy.Scale("scale", 2.0)}
    (reply,) = run(graph, components, [JsonPayload(tensor([1.0]))], seldon_metrics)
    assert values(reply) == [20.0]
    assert reply.tags()["last"] == "out"


@pytest.mark.parametrize(
    ("methods", "expected"),
    [(["TRANSFORM_OUTPUT"], 200.0), (["TRANSFORM_INPUT", "TRANSFORM_OUTPUT"], 400.0)],
)
def test_unknown_type_node_runs_only_its_listed_methods(
    seldon_metrics: SeldonMetrics, methods: list[str], expected: float
) -> None:
    graph = node("custom", "UNKNOWN_TYPE", (node("scale"),), methods=methods)
    components = {"custom": toy.Custom("custom"), "scale": toy.Scale("scale", 2.0)}
    (reply,) = run(graph, components, [JsonPayload(tensor([1.0]))], seldon_metrics)
    assert values(reply) == [expected]


def test_model_with_children_feeds_its_prediction_to_them(seldon_metrics: SeldonMetrics) -> None:
    graph = node("a", "MODEL", (node("b"),))
    components = {"a": toy.Scale("a", 2.0), "b": toy.Scale("b", 3.0)}
    (reply,) = run(graph, components, [JsonPayload(tensor([1.0]))], seldon_metrics)
    assert values(reply) == [6.0]


def test_random_abtest_split_follows_ratio_a(seldon_metrics: SeldonMetrics) -> None:
    n, ratio = 600, 0.3
    graph = node("ab", "UNKNOWN_TYPE", (node("a"), node("b")), implementation="RANDOM_ABTEST")
    graph["parameters"] = [{"name": "ratioA", "type": "FLOAT", "value": str(ratio)}]
    a, b = toy.Scale("a", 1.0), toy.Scale("b", 1.0)
    payloads: list[Payload] = [JsonPayload(tensor([1.0])) for _ in range(n)]
    replies = run(
        graph, {"a": a, "b": b}, payloads, seldon_metrics, rng=random.Random(7),
        inject_routing=True,
    )  # fmt: skip
    to_a = sum(1 for r in replies if r.routing()["ab"] == 0)
    assert to_a == len(a.puids) and n - to_a == len(b.puids)
    sigma = (n * ratio * (1 - ratio)) ** 0.5
    assert abs(to_a - n * ratio) < 5 * sigma


def test_the_executor_writes_no_puid_into_the_body(seldon_metrics: SeldonMetrics) -> None:
    """The puid travels as a header only (executor/api/rest/middlewares.go); a body puid
    is the wrapper's to echo. (It used to be written into meta.puid: Seldon does not.)"""
    scale = toy.Scale("scale", 1.0)
    given = JsonPayload(tensor([1.0]))
    given.set_puid("my-puid")
    replies = run(
        node("scale"), {"scale": scale}, [JsonPayload(tensor([1.0])), given], seldon_metrics
    )
    assert replies[0].puid() == ""
    assert replies[1].puid() == "my-puid"
    assert scale.puids == ["", "my-puid"]  # the node saw the body's puid only


def test_proto_and_json_payloads_give_the_same_reply(seldon_metrics: SeldonMetrics) -> None:
    graph = node("offset", "TRANSFORMER", (node("scale"),))
    components = {"offset": toy.AddOffset("offset", 1.0), "scale": toy.Scale("scale", 2.0)}
    proto = ProtoPayload(json_to_seldon_message(tensor([1.0, 2.0])))
    json_reply, proto_reply = run(
        graph, components, [JsonPayload(tensor([1.0, 2.0])), proto], seldon_metrics
    )
    assert isinstance(proto_reply.message, type(proto.message))
    assert values(proto_reply) == values(json_reply) == [4.0, 6.0]
    assert proto_reply.tags() == json_reply.tags()
    assert proto_reply.request_path() == json_reply.request_path()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, BaseException | None]] = []
        self.logged: list[tuple[str, str, str]] = []

    def node_call(
        self, predictor: str, node: str, method: str, seconds: float, error: BaseException | None
    ) -> None:
        assert seconds >= 0
        self.calls.append((predictor, node, method, error))

    def log(self, url: str, kind: str, payload: Payload, puid: str, node: str) -> bool:
        self.logged.append((url, kind, node))
        return True


@pytest.mark.parametrize(("kind", "error"), [("input", InvalidInput), ("internal", InternalError)])
def test_node_error_names_the_node_and_keeps_its_status(
    seldon_metrics: SeldonMetrics, kind: str, error: type[SeldonGraphError]
) -> None:
    graph = node("offset", "TRANSFORMER", (node("bad"),))
    components = {"offset": toy.AddOffset("offset"), "bad": toy.Failing("bad", kind)}
    observer = Recorder()
    with pytest.raises(error) as caught:
        run(graph, components, [JsonPayload(tensor([1.0]))], seldon_metrics, observer=observer)
    assert "node bad" in str(caught.value)
    assert caught.value.status_code == (400 if kind == "input" else 500)
    assert [(n, m) for _, n, m, _ in observer.calls] == [
        ("offset", "transform_input"),
        ("bad", "predict"),
    ]
    assert observer.calls[0][3] is None and observer.calls[1][3] is caught.value


def test_invalid_route_is_an_error_naming_the_router(seldon_metrics: SeldonMetrics) -> None:
    graph = node("router", "ROUTER", (node("a"),))
    components = {"router": toy.ParamRouter("router", 3), "a": toy.Scale("a")}
    with pytest.raises(InternalError, match="node router routed to child 3"):
        run(graph, components, [JsonPayload(tensor([1.0]))], seldon_metrics)


def test_node_loggers_get_the_kinds_their_mode_asks_for(seldon_metrics: SeldonMetrics) -> None:
    graph = node(
        "offset", "TRANSFORMER", (node("scale", logger={"url": "http://sink", "mode": "request"}),)
    )
    graph["logger"] = {"url": "http://sink", "mode": "all"}
    components = {"offset": toy.AddOffset("offset"), "scale": toy.Scale("scale")}
    recorder = Recorder()
    run(graph, components, [JsonPayload(tensor([1.0]))], seldon_metrics, logger=recorder)
    assert ("http://sink", "request", "scale") in recorder.logged
    assert ("http://sink", "response", "scale") not in recorder.logged
    assert {k for _, k, n in recorder.logged if n == "offset"} == {"request", "response"}


def test_a_node_without_client_is_a_config_error() -> None:
    dep = deployment(node("a", "MODEL"))
    with pytest.raises(ConfigError, match="no client for node a"):
        Executor(dep, "p", {})


@pytest.mark.parametrize("inject", [True, False])
def test_feedback_follows_the_recorded_routing(seldon_metrics: SeldonMetrics, inject: bool) -> None:
    """Routed by response.meta.routing; without routing injection there is none, so
    every child gets feedback (executor/predictor/predictor_process.go)."""
    a, b, router = toy.Scale("a"), toy.Scale("b"), toy.ParamRouter("router", 1)
    dep = deployment(node("router", "ROUTER", (node("a"), node("b"))))

    async def go() -> Payload:
        components = {"router": router, "a": a, "b": b}
        clients = build_inprocess_clients(
            dep.predictors[0], components, seldon_metrics=seldon_metrics
        )
        try:
            executor = Executor(dep, "p", clients, inject_routing=inject)
            request = tensor([1.0])
            reply = await executor.predict(JsonPayload({**request, "meta": {}}))
            feedback = {"request": request, "response": reply.to_json(), "reward": 1.0}
            return await executor.feedback(JsonPayload(feedback), "a-puid")
        finally:
            await close_clients(clients)

    asyncio.run(go())
    assert router.feedback == [{"reward": 1.0, "routing": 1 if inject else None}]
    assert len(b.feedback) == 1 and b.feedback[0]["reward"] == 1.0
    assert len(a.feedback) == (0 if inject else 1)


def test_feedback_echoes_the_request_when_the_root_takes_none() -> None:
    """Seldon checks no feedback shape: a root that takes no feedback (no type) answers
    with the request itself (executor/predictor/predictor_process.go). It used to be a 400."""
    dep = deployment(node("fan", "UNKNOWN_TYPE"))
    request = JsonPayload(tensor([1.0]))
    assert asyncio.run(Executor(dep, "p", {}).feedback(request)) is request


def test_parallel_children_do_not_see_each_others_meta(seldon_metrics: SeldonMetrics) -> None:
    graph = node("mean", "COMBINER", (node("a"), node("b")))
    components = {"mean": toy.MeanCombiner("mean"), "a": toy.Scale("a"), "b": toy.Scale("b")}
    (reply,) = run(graph, components, [JsonPayload(tensor([1.0]))], seldon_metrics)
    keys = [m["key"] for m in reply.metrics()]
    assert keys.count("calls_a") == 1 and keys.count("calls_b") == 1
    assert np.isclose(values(reply)[0], 2.0)
