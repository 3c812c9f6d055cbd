"""The canary rollout's Prometheus source (graph.canary.sources.PrometheusSource) reads
per-predictor health from a real Prometheus scraping executor and drift-node metrics."""

from __future__ import annotations

import time

import pytest

from graph.canary.sources import PrometheusSource
from graph.canary.window import WindowNotFilled
from graph.monitoring import PrometheusClient, ScrapeTarget, monitoring_stack
from tests.monitoring.conftest import PromTools
from tests.monitoring.servers import ExecutorMetrics, SeldonNodeMetrics


@pytest.mark.slow
def test_prometheus_source_sees_the_canary_fail_slower_and_drift(
    prom_tools: PromTools, metric_endpoints: tuple[ExecutorMetrics, SeldonNodeMetrics]
) -> None:
    executor, drift = metric_endpoints
    # Every series exists before the first scrape: increase() does not count the first
    # value of a series that appears inside the window (a canary's first errors).
    for predictor in ("main", "canary"):
        executor.rest(predictor, 0.01)
        executor.grpc(predictor, 0.01)
    executor.rest("canary", 0.01, code=500)
    drift.set_drift(False, p_val=0.5)
    labels = {"seldon_deployment_id": "digits"}
    targets = [
        ScrapeTarget("digits-executor", [executor.hostport], "/prometheus", labels),
        ScrapeTarget("digits-nodes", [drift.hostport], "/prometheus", labels),
    ]
    with monitoring_stack(targets) as stack:
        prom = PrometheusClient(stack.prometheus_url)
        deadline = time.monotonic() + 30
        while prom.scalar("count(up == 1)") != 2.0:  # both targets scraped once
            assert time.monotonic() < deadline, prom.targets()
            time.sleep(0.2)
        # The window read below starts up to 2 s before `start` (1 s of margin, then
        # rounded up to whole seconds): the first scrape must be older than that.
        time.sleep(3)
        source = PrometheusSource(stack.prometheus_url, "digits")
        start = source.begin()
        for _ in range(40):  # main: fast and fine; canary: 1 in 4 fails, 10x slower
            executor.rest("main", 0.02)
            executor.grpc("main", 0.02)
            executor.rest("canary", 0.2)
            executor.rest("canary", 0.4, code=500)
        drift.set_drift(True, p_val=0.001)
        time.sleep(3)  # a few scrapes
        health = source.read(start, window_s=time.time() - start + 1)
    main, canary = health["main"], health["canary"]
    assert main.requests > 0 and canary.requests > 0
    assert main.error_rate == 0.0
    assert canary.error_rate is not None and 0.3 < canary.error_rate < 0.7
    assert main.p99 is not None and canary.p99 is not None and canary.p99 > 5 * main.p99
    assert canary.drift is True and canary.drift_p_value == pytest.approx(0.001)
    assert main.drift is None  # main has no drift node here


@pytest.mark.slow
def test_prometheus_source_waits_until_prometheus_covers_the_whole_window(
    prom_tools: PromTools, metric_endpoints: tuple[ExecutorMetrics, SeldonNodeMetrics]
) -> None:
    """Right after Prometheus starts it has no sample from the window's start (its first
    scrape comes ~5 s later): the source refuses to judge; once Prometheus' first sample
    is older than the window, it reads the numbers."""
    executor, _ = metric_endpoints
    for predictor in ("main", "canary"):
        executor.rest(predictor, 0.01)
    labels = {"seldon_deployment_id": "digits"}
    targets = [ScrapeTarget("digits-executor", [executor.hostport], "/prometheus", labels)]
    window_s = 3.0
    with monitoring_stack(targets) as stack:
        source = PrometheusSource(stack.prometheus_url, "digits")
        refused: list[WindowNotFilled] = []
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, [e.numbers for e in refused]
            try:
                health = source.read(source.begin(), window_s)
                break
            except WindowNotFilled as exc:
                refused.append(exc)
                time.sleep(0.5)
        first = _first_sample(PrometheusClient(stack.prometheus_url))
    assert refused, "a Prometheus started a moment ago cannot cover a 3 s window"
    assert refused[0].numbers["series_at_window_start"] == 0
    for exc in refused:  # each refusal was right: no sample yet at its window's start
        assert first > float(exc.numbers["time"]) - window_s, (first, exc.numbers)
    covered = source.details()["prometheus"]
    assert first <= covered["time"] - window_s and covered["series_at_window_start"] >= 2
    assert health["main"].requests == 0 and health["canary"].requests == 0  # none since


def _first_sample(prom: PrometheusClient) -> float:
    """The timestamp of the oldest sample Prometheus holds of the executor's counts."""
    result = prom.query("seldon_api_executor_server_requests_seconds_count[1h]")
    return min(float(t) for series in result for t, _ in series["values"])
