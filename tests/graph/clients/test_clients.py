"""REST and gRPC node clients against real ``seldon-core-microservice`` processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, cast

import aiohttp
import grpc
import pytest
from seldon_core.utils import json_to_seldon_message

from graph.clients.base import NodeEndpoint, Timeouts, failure_error
from graph.clients.errors import ExecutorError, NodeGrpcError, NodeStatusError
from graph.clients.factory import build_clients, build_inprocess_clients, close_clients
from graph.clients.grpc import GrpcNodeClient
from graph.executor import Executor
from graph.payload import JsonPayload, Payload, ProtoPayload, RawPayload
from graph.spec import load_deployment
from model.errors import (
    InternalError,
    InvalidInput,
    ManifestError,
    NotFound,
    SeldonGraphError,
    Unavailable,
)
from tests.fixtures import toy_components as toy
from tests.fixtures.processes import Microservice, microservice, stop_process

TOY = "tests.fixtures.toy_components"
# seldon-core installs a top-level ``tests`` package into site-packages, and the wrapper
# only appends the working directory to sys.path: put the repository first.
ROOT = Path(__file__).resolve().parents[3]
# node name -> (class, service type, extra parameters)
NODES: dict[str, tuple[str, str, dict[str, tuple[str, str]]]] = {
    "offset": ("AddOffset", "TRANSFORMER", {"offset": ("FLOAT", "1.0")}),
    "mean": ("MeanCombiner", "COMBINER", {}),
    "router": ("ParamRouter", "ROUTER", {"child": ("INT", "1")}),
    "a": ("Scale", "MODEL", {"factor": ("FLOAT", "2.0")}),
    "b": ("Scale", "MODEL", {"factor": ("FLOAT", "4.0")}),
    "bad": ("Failing", "MODEL", {"kind": ("STRING", "input")}),
    "slow": ("Slow", "MODEL", {"delay_s": ("FLOAT", "1.5")}),
}


def parameters(name: str) -> list[dict[str, str]]:
    extra = NODES[name][2]
    params = [{"name": "name", "type": "STRING", "value": name}]
    return params + [{"name": k, "type": t, "value": v} for k, (t, v) in extra.items()]


def start(name: str, log_dir: Path) -> contextlib.AbstractContextManager[Microservice]:
    cls, service_type, _ = NODES[name]
    return microservice(
        f"{TOY}.{cls}",
        service_type,
        parameters(name),
        log_dir=log_dir,
        env={"PYTHONPATH": str(ROOT)},
    )


@pytest.fixture(scope="module")
def services(log_dir: Path) -> Iterator[dict[str, Microservice]]:
    """Every toy node as a real process, started in parallel, always stopped."""
    with contextlib.ExitStack() as stack:
        managers = {name: start(name, log_dir) for name in NODES}
        with ThreadPoolExecutor(len(managers)) as pool:
            futures = {name: pool.submit(cm.__enter__) for name, cm in managers.items()}
        started: dict[str, Microservice] = {}
        errors = []
        for name, future in futures.items():
            try:
                started[name] = future.result()
                stack.push(managers[name].__exit__)
            except Exception as exc:  # the others are still stopped by the stack
                errors.append(exc)
        if errors:
            raise errors[0]
        yield started


GRAPHS: dict[str, dict[str, Any]] = {
    "combine": {
        "name": "offset",
        "type": "TRANSFORMER",
        "children": [
            {"name": "mean", "type": "COMBINER", "children": [{"name": "a"}, {"name": "b"}]}
        ],
    },
    "route": {"name": "router", "type": "ROUTER", "children": [{"name": "a"}, {"name": "b"}]},
    "bad": {"name": "offset", "type": "TRANSFORMER", "children": [{"name": "bad"}]},
    "slow": {"name": "slow", "type": "MODEL"},
}
FAST = Timeouts(5.0, 5.0)
IMAGES = {"offset": "toy/offset:1", "a": "toy/a:1", "b": "toy/b:1"}


def deployment(graph: dict[str, Any]) -> Any:
    for child in graph.get("children", []):
        child.setdefault("type", "MODEL")
        for grandchild in child.get("children", []):
            grandchild.setdefault("type", "MODEL")
    containers = [{"name": n, "image": i} for n, i in IMAGES.items()]
    predictor = {
        "name": "p",
        "graph": graph,
        "componentSpecs": [{"spec": {"containers": containers}}],
    }
    return load_deployment({"metadata": {"name": "dep"}, "spec": {"predictors": [predictor]}})


def endpoints(services: dict[str, Microservice]) -> dict[str, NodeEndpoint]:
    return {n: NodeEndpoint("127.0.0.1", s.http_port, s.grpc_port) for n, s in services.items()}


def request(transport: str) -> Payload:
    body = {"data": {"tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}}
    if transport == "grpc":
        return ProtoPayload(json_to_seldon_message(body))
    if transport == "rest":  # what the gateway hands on: the client's bytes, unparsed
        return RawPayload(json.dumps(body).encode(), "application/json")
    return JsonPayload(body)


async def walk(
    graph_name: str,
    transport: str,
    services: dict[str, Microservice],
    action: Callable[[Executor], Any],
    timeouts: Timeouts = FAST,
) -> Any:
    dep = deployment(GRAPHS[graph_name])
    predictor = dep.predictors[0]
    async with aiohttp.ClientSession() as session:
        if transport == "inprocess":
            components = {name: toy_component(name) for name in NODES}
            clients = build_inprocess_clients(predictor, components)
        else:
            wire = cast(Literal["rest", "grpc"], transport)
            clients = build_clients(predictor, endpoints(services), wire, timeouts, session=session)
        try:
            return await action(Executor(dep, predictor, clients))
        finally:
            await close_clients(clients)


def toy_component(name: str) -> Any:
    cls, _, extra = NODES[name]
    kwargs = {
        k: float(v) if t == "FLOAT" else int(v) if t == "INT" else v for k, (t, v) in extra.items()
    }
    return getattr(toy, cls)(name=name, **kwargs)


def summary(reply: Payload) -> tuple[list[float], dict[str, Any], dict[str, str], list[str]]:
    body = reply.to_json()
    return (
        [float(v) for v in body["data"]["tensor"]["values"]],
        reply.tags(),
        reply.request_path(),
        sorted(m["key"] for m in reply.metrics()),
    )


@pytest.mark.slow
@pytest.mark.parametrize("graph_name", ["combine", "route"])
def test_rest_and_grpc_walks_match_the_in_process_walk(
    services: dict[str, Microservice], graph_name: str
) -> None:
    results: dict[str, Any] = {}
    for transport in ("inprocess", "rest", "grpc"):

        async def predict(executor: Executor, transport: str = transport) -> Payload:
            # the puid travels as a header/metadata, never into the body (Seldon)
            return await executor.predict(request(transport), "puid-7")

        reply = asyncio.run(walk(graph_name, transport, services, predict))
        kinds = {"grpc": ProtoPayload, "rest": RawPayload, "inprocess": JsonPayload}
        assert isinstance(reply, kinds[transport])
        assert reply.puid() == ""
        results[transport] = (summary(reply), reply.routing())
    assert results["rest"] == results["inprocess"] == results["grpc"]
    values = results["rest"][0][0]
    assert values == ([6.0, 9.0] if graph_name == "combine" else [4.0, 8.0])


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_feedback_walks_over_the_wire(services: dict[str, Microservice], transport: str) -> None:
    async def predict_then_feedback(executor: Executor) -> Payload:
        reply = await executor.predict(request(transport))
        body = {"request": request("rest").to_json(), "response": reply.to_json(), "reward": 1.0}
        return await executor.feedback(JsonPayload(body), reply.puid())

    reply = asyncio.run(walk("route", transport, services, predict_then_feedback))
    assert reply.failure() is None


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_a_nodes_4xx_is_kept_with_the_node_name(
    services: dict[str, Microservice], transport: str
) -> None:
    async def predict(executor: Executor) -> Payload:
        return await executor.predict(request(transport))

    # the node's own status (and body / gRPC code) pass through (executor/api/rest/client.go)
    error = NodeStatusError if transport == "rest" else NodeGrpcError
    with pytest.raises(error) as caught:
        asyncio.run(walk("bad", transport, services, predict))
    assert caught.value.status_code == 400
    assert "node bad" in str(caught.value) and "toy rejects input" in str(caught.value)
    if isinstance(caught.value, NodeStatusError):
        assert b"toy rejects input" in caught.value.body


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_a_node_slower_than_its_timeout_is_a_timeout(
    services: dict[str, Microservice], transport: str
) -> None:
    async def predict(executor: Executor) -> Payload:
        return await executor.predict(request(transport))

    # REST: the executor's 500 with Go's url.Error text; gRPC: DEADLINE_EXCEEDED as it came
    with pytest.raises((ExecutorError, NodeGrpcError)) as caught:
        asyncio.run(walk("slow", transport, services, predict, Timeouts(0.3, 0.3)))
    if transport == "rest":
        assert isinstance(caught.value, ExecutorError) and caught.value.status_code == 500
        assert "/predict" in str(caught.value) and "context deadline exceeded" in str(caught.value)
    else:
        assert isinstance(caught.value, NodeGrpcError)
        assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.slow
def test_a_killed_node_is_unavailable_not_a_timeout(log_dir: Path) -> None:
    dep = deployment({"name": "a", "type": "MODEL"})
    predictor = dep.predictors[0]

    async def before_and_after(service: Microservice) -> list[SeldonGraphError]:
        endpoint = {"a": NodeEndpoint("127.0.0.1", service.http_port, service.grpc_port)}
        async with aiohttp.ClientSession() as session:
            clients = {
                transport: build_clients(
                    predictor, endpoint, transport, Timeouts(30.0, 30.0), session=session
                )
                for transport in ("rest", "grpc")
            }
            executors = {t: Executor(dep, predictor, c) for t, c in clients.items()}
            try:
                for transport, executor in executors.items():
                    await executor.predict(request(transport))  # works while it runs
                stop_process(service.process)
                errors: list[SeldonGraphError] = []
                for transport, executor in executors.items():
                    with pytest.raises((ExecutorError, NodeGrpcError)) as caught:
                        await executor.predict(request(transport))
                    errors.append(caught.value)
                return errors
            finally:
                for transport_clients in clients.values():
                    await close_clients(transport_clients)

    with start("a", log_dir) as service:
        errors = asyncio.run(before_and_after(service))
    rest_error, grpc_error = errors
    # REST: the executor's 500 naming the URL and the cause; gRPC: UNAVAILABLE passed on
    assert rest_error.status_code == 500 and "connection refused" in str(rest_error)
    assert f'Post "http://127.0.0.1:{service.http_port}/predict"' in str(rest_error)
    assert isinstance(grpc_error, NodeGrpcError)
    assert grpc_error.code == grpc.StatusCode.UNAVAILABLE


def test_grpc_client_to_a_dead_port_is_unavailable() -> None:
    from tests.fixtures.processes import free_port

    async def go() -> None:
        port = free_port()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        client = GrpcNodeClient(
            "gone", NodeEndpoint("127.0.0.1", 0, port), channel, 30.0, owns_channel=True
        )
        try:
            # the node's UNAVAILABLE passes through unchanged (grpc/seldon/server.go)
            with pytest.raises(NodeGrpcError, match="node gone: UNAVAILABLE") as caught:
                await client.predict(request("grpc"), "p")
            assert caught.value.code == grpc.StatusCode.UNAVAILABLE
            assert caught.value.status_code == Unavailable.status_code
        finally:
            await client.close()

    asyncio.run(go())


def test_timeouts_come_from_annotations_in_milliseconds() -> None:
    assert Timeouts.from_annotations({}) == Timeouts()
    deployment_level = {"seldon.io/rest-timeout": "3000", "seldon.io/grpc-timeout": "1500"}
    predictor_level = {"seldon.io/rest-timeout": "250"}
    assert Timeouts.from_annotations(deployment_level, predictor_level) == Timeouts(0.25, 1.5)
    with pytest.raises(ManifestError, match=r"seldon\.io/rest-timeout must be whole milliseconds"):
        Timeouts.from_annotations({"seldon.io/rest-timeout": "soon"})


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        # Keys the 1.17.1 executor does not know change nothing.
        ({"seldon.io/grpc-read-timeout": "2000"}, Timeouts()),
        ({"seldon.io/rest-read-timeout": "2000"}, Timeouts()),
        # Go's ParseInt/Atoi: a sign is fine; 0 or less is no REST timeout (local default)
        # but an already expired gRPC deadline.
        ({"seldon.io/rest-timeout": "+1500"}, Timeouts(rest_s=1.5)),
        ({"seldon.io/rest-timeout": "0", "seldon.io/grpc-timeout": "0"}, Timeouts(grpc_s=0.0)),
        ({"seldon.io/grpc-timeout": "-5"}, Timeouts(grpc_s=0.0)),
        # An unparsable grpc-timeout is ignored (the executor logs it).
        ({"seldon.io/grpc-timeout": "2.5"}, Timeouts()),
        ({"seldon.io/grpc-timeout": " 100"}, Timeouts()),
        # A value holding '=' makes the executor's annotations file unreadable: no timeouts.
        ({"seldon.io/rest-timeout": "100", "note": "a=b"}, Timeouts()),
    ],
)
def test_timeouts_read_exactly_what_the_executor_reads(
    annotations: dict[str, str], expected: Timeouts
) -> None:
    assert Timeouts.from_annotations(annotations) == expected


@pytest.mark.parametrize("value", ["2.5", "5_000", " 100", "1e3", "2147483648", '"100"'])
def test_a_rest_timeout_the_executor_cannot_parse_is_a_manifest_error(value: str) -> None:
    with pytest.raises(ManifestError, match=r"seldon\.io/rest-timeout"):
        Timeouts.from_annotations({"seldon.io/rest-timeout": value})


def test_timeouts_come_from_the_executor_pod_not_metadata() -> None:
    doc = {
        "metadata": {"name": "d", "annotations": {"seldon.io/rest-timeout": "100"}},
        "spec": {
            "annotations": {"seldon.io/grpc-timeout": "200"},
            "predictors": [
                {
                    "name": "p",
                    "annotations": {"seldon.io/grpc-timeout": "300"},
                    "componentSpecs": [
                        {"metadata": {"annotations": {"seldon.io/rest-timeout": "400"}}},
                        {"metadata": {"annotations": {"seldon.io/rest-timeout": "500"}}},
                    ],
                    "graph": {"name": "m", "type": "MODEL"},
                }
            ],
        },
    }
    (predictor,) = load_deployment(doc).predictors
    # metadata.annotations and componentSpecs[1] never reach the executor's pod; the
    # predictor's annotations are written last (addEngineToDeployment).
    assert Timeouts.from_annotations(predictor.executor_annotations) == Timeouts(0.4, 0.3)
    doc["spec"]["annotations"]["seldon.io/engine-separate-pod"] = "true"
    (predictor,) = load_deployment(doc).predictors
    assert Timeouts.from_annotations(predictor.executor_annotations) == Timeouts()


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (400, InvalidInput),
        (422, InvalidInput),
        (404, NotFound),
        (503, Unavailable),
        (500, InternalError),
    ],
)
def test_node_errors_keep_their_status_and_name_the_node(code: int, cls: type) -> None:
    error = failure_error("n1", {"code": code, "info": "went wrong", "reason": "WHY"})
    assert isinstance(error, cls) and error.status_code == code
    assert str(error) == "node n1: went wrong" and error.reason == "WHY"
