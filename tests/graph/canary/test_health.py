"""Per-predictor health from gateway metric snapshots and from Prometheus answers."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from graph.canary import health, window
from graph.canary.sources import GatewaySource, PrometheusSource
from graph.gateway.metrics import GatewayMetrics
from model.errors import InvalidInput, Unavailable


def record(metrics: GatewayMetrics, predictor: str, seconds: float, n: int, code: int | None = None,
           deployment: str = "digits", method: str = "predict") -> None:  # fmt: skip
    for _ in range(n):
        metrics.request(deployment, predictor, "rest", method, seconds, code)


def snapshot(metrics: GatewayMetrics) -> health.Snapshot:
    return health.parse_gateway_metrics(metrics.exposition().decode(), "digits")


def test_parse_sums_transports_and_ignores_other_deployments_and_feedback() -> None:
    m = GatewayMetrics()
    record(m, "main", 0.02, 5)
    m.request("digits", "main", "grpc", "predict", 0.02)
    record(m, "main", 0.02, 7, method="feedback")
    record(m, "canary", 0.02, 4, deployment="other")
    record(m, "canary", 0.3, 2, code=503)
    snap = snapshot(m)
    assert snap.requests == {"main": 6.0, "canary": 2.0}
    assert snap.errors == {"canary": 2.0}
    assert snap.buckets["main"][math.inf] == 6.0
    assert snap.buckets["main"][0.01] == 0.0 and snap.buckets["main"][0.025] == 6.0


def test_health_between_counts_only_the_interval() -> None:
    m = GatewayMetrics()
    record(m, "main", 0.5, 100)  # before the interval: slow, must not count
    before = snapshot(m)
    record(m, "main", 0.004, 99)
    record(m, "main", 0.004, 1, code=500)
    record(m, "canary", 0.04, 18)
    record(m, "canary", 0.04, 2, code=504)
    numbers = health.health_between(before, snapshot(m))
    main, canary = numbers["main"], numbers["canary"]
    assert (main.requests, main.errors, main.error_rate) == (100, 1, 0.01)
    assert main.p99 is not None and 0.0025 < main.p99 <= 0.005
    assert (canary.requests, canary.errors, canary.error_rate) == (20, 2, 0.1)
    assert canary.p99 is not None and 0.025 < canary.p99 <= 0.05
    assert main.drift is None and canary.drift is None


def test_drift_comes_from_the_latest_tags_once_a_window_was_tested() -> None:
    m = GatewayMetrics()
    m.drift_tags("digits", "main", {"drift.is_drift": False, "drift.window": 0})
    m.drift_tags("digits", "canary", {"drift.is_drift": True, "drift.window": 3,
                                      "drift.p_value": 0.001})  # fmt: skip
    record(m, "canary", 0.01, 1)
    record(m, "main", 0.01, 1)
    numbers = health.health_between(health.Snapshot(), snapshot(m))
    assert numbers["main"].drift is None  # no window tested yet: unknown, not "no drift"
    assert numbers["canary"].drift is True
    assert numbers["canary"].drift_p_value == pytest.approx(0.001)
    m.drift_tags("digits", "canary", {"drift.is_drift": False, "drift.window": 4})
    assert health.health_between(health.Snapshot(), snapshot(m))["canary"].drift is False


def test_a_counter_reset_counts_from_zero() -> None:
    before, after = GatewayMetrics(), GatewayMetrics()
    record(before, "main", 0.01, 50)
    record(after, "main", 0.01, 7, code=500)  # the gateway restarted in between
    numbers = health.health_between(snapshot(before), snapshot(after))
    assert (numbers["main"].requests, numbers["main"].errors) == (7, 7)


@pytest.mark.parametrize(
    ("buckets", "expected"),
    [
        ({0.1: 50, 0.2: 100, math.inf: 100}, 0.1 + 0.1 * 49 / 50),
        ({0.1: 0, 0.2: 0, math.inf: 10}, 0.2),  # in +Inf: the highest finite bound
        ({0.1: 100, 0.2: 100, math.inf: 100}, 0.1 * 99 / 100),
        ({0.1: 0, math.inf: 0}, None),
        ({0.1: 5}, None),  # no +Inf bucket: not a histogram
    ],
)
def test_histogram_quantile_matches_promql(
    buckets: dict[float, float], expected: float | None
) -> None:
    result = health.histogram_quantile(0.99, buckets)
    assert result == (None if expected is None else pytest.approx(expected))


def test_unparsable_metrics_text_is_an_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        health.parse_gateway_metrics('seldon_graph_requests_total{deployment="d" 1\n', "d")


def test_prometheus_queries_use_seldon_executor_names_and_a_whole_second_window() -> None:
    q = health.prometheus_queries("digits", 59.2)
    sel = '{deployment_name="digits"}'
    calls = '{deployment_name="digits",service=~"predictions|/seldon.protos.Seldon/Predict"}'
    assert q["requests"] == (
        f"sum by (predictor_name) (increase(seldon_api_executor_server_requests_seconds_count{calls}[60s]))"  # noqa: E501
    )
    # prediction calls only (the executor's service label), REST and gRPC
    assert 'code!~"2..|OK"' in q["errors"] and calls[:-1] in q["errors"]
    assert calls in q["p99"]
    assert q["p99"].startswith("histogram_quantile(0.99, sum by (predictor_name, le) (rate(")
    assert q["drift"] == f"max by (predictor_name) (seldon_metric_drift_is_drift{sel})"


def test_vector_answers_become_health_and_nan_is_no_data() -> None:
    def vector(**values: str) -> dict:
        result = [{"metric": {"predictor_name": k}, "value": [0, v]} for k, v in values.items()]
        return {"status": "success", "data": {"resultType": "vector", "result": result}}

    results = {
        "requests": health.vector_values(vector(main="200", canary="40")),
        "errors": health.vector_values(vector(canary="4")),
        "p99": health.vector_values(vector(main="0.12", canary="NaN")),
        "drift": health.vector_values(vector(main="0", canary="1")),
    }
    numbers = health.health_from_results(results)
    assert numbers["main"].error_rate == 0 and numbers["main"].p99 == pytest.approx(0.12)
    assert numbers["canary"].error_rate == pytest.approx(0.1)
    assert numbers["canary"].p99 is None and numbers["canary"].drift is True
    with pytest.raises(InvalidInput, match="bad_data"):
        health.vector_values({"status": "error", "error": "bad_data"})


@pytest.fixture
def fake_prometheus() -> Iterator[tuple[str, list[str]]]:
    """A tiny HTTP server answering /api/v1/query; records the queries it got."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)["query"][0]
            seen.append(query)
            value = "0.9" if "histogram_quantile" in query else "30"
            if "code!~" in query:
                value = "3"
            result = [{"metric": {"predictor_name": "canary"}, "value": [0, value]}]
            data = {"resultType": "vector", "result": result}
            body = json.dumps({"status": "success", "data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_prometheus_source_sends_each_query_and_reads_the_answers(
    fake_prometheus: tuple[str, list[str]],
) -> None:
    url, seen = fake_prometheus
    source = PrometheusSource(url, "digits")
    numbers = source.read(source.begin(), 30)
    window_first = [*window.window_queries("digits", 30).values()]
    assert seen == window_first + list(health.prometheus_queries("digits", 30).values())
    assert source.details()["prometheus"]["series_at_window_start"] == 30
    canary = numbers["canary"]
    assert (canary.requests, canary.errors, canary.p99) == (30, 3, 0.9)


def test_an_unreachable_gateway_is_unavailable() -> None:
    from tests.fixtures.processes import free_port

    source = GatewaySource(f"http://127.0.0.1:{free_port()}/metrics", "digits", timeout=2)
    with pytest.raises(Unavailable, match="cannot read metrics"):
        source.begin()
