"""The canary rollout's Prometheus source (graph.canary.sources.PrometheusSource) reads
per-predictor health from a real Prometheus scraping executor and drift-node metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from graph.canary.sources import PrometheusSource
from graph.monitoring import PrometheusClient, ScrapeTarget, monitoring_stack
from tests.monitoring.conftest import PromTools
from tests.monitoring.servers import ExecutorMetrics, SeldonNodeMetrics


@pytest.fixture
def servers() -> Iterator[tuple[ExecutorMetrics, SeldonNodeMetrics]]:
    executor, drift = ExecutorMetrics("digits"), SeldonNodeMetrics("digits", "canary")
    try:
        yield executor, drift
    finally:
        executor.close()
        drift.close()


@pytest.mark.slow
def test_prometheus_source_sees_the_canary_fail_slower_and_drift(
    prom_tools: PromTools, servers: tuple[ExecutorMetrics, SeldonNodeMetrics]
) -> None:
    executor, drift = servers
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
        source = PrometheusSource(stack.prometheus_url, "digits")
        start = source.begin()
        for _ in range(40):  # main: fast and fine; canary: 1 in 4 fails, 10x slower
            executor.rest("main", 0.02)
            executor.grpc("main", 0.02)
            executor.rest("canary", 0.2)
            executor.rest("canary", 0.4, code=500)
        drift.set_drift(True, p_val=0.001)
        time.sleep(3)  # a few scrapes
        health = source.read(start, window_s=time.time() - start + 5)
    main, canary = health["main"], health["canary"]
    assert main.requests > 0 and canary.requests > 0
    assert main.error_rate == 0.0
    assert canary.error_rate is not None and 0.3 < canary.error_rate < 0.7
    assert main.p99 is not None and canary.p99 is not None and canary.p99 > 5 * main.p99
    assert canary.drift is True and canary.drift_p_value == pytest.approx(0.001)
    assert main.drift is None  # main has no drift node here
