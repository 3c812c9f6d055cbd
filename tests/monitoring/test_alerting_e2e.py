"""End to end: a drifting predictor's metrics -> real Prometheus (the shipped rules) ->
real Alertmanager -> a webhook; then the drift goes away and the alert resolves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.monitoring import (
    AlertmanagerClient,
    MonitoringSettings,
    PrometheusClient,
    ScrapeTarget,
    monitoring_stack,
)
from tests.monitoring.conftest import PromTools
from tests.monitoring.servers import SeldonNodeMetrics, WebhookReceiver

ALERT = "SeldonGraphDriftDetected"
FOR_S = 60.0  # the rule's `for: 1m`


@pytest.fixture
def canary_node() -> Iterator[SeldonNodeMetrics]:
    node = SeldonNodeMetrics("digits", "canary")
    node.set_drift(False, p_val=0.4)
    yield node
    node.close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def _wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not within {timeout:.0f}s")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.mark.slow
def test_drift_alert_fires_reaches_the_webhook_and_resolves(
    prom_tools: PromTools, canary_node: SeldonNodeMetrics, webhook: WebhookReceiver
) -> None:
    target = ScrapeTarget(
        "digits-nodes",
        [canary_node.hostport],
        metrics_path="/prometheus",
        labels={"seldon_deployment_id": "digits"},
    )
    settings = MonitoringSettings(webhook_url=webhook.url)
    started = time.monotonic()
    with monitoring_stack([target], settings) as stack:
        startup_s = time.monotonic() - started
        prom = PrometheusClient(stack.prometheus_url)
        drift = 'seldon_metric_drift_is_drift{deployment_name="digits",predictor_name="canary"}'
        _wait_until(lambda: prom.scalar(f"max({drift})") == 0.0, 30, "the first scrape")
        first_scrape_s = time.monotonic() - started

        canary_node.set_drift(True, p_val=0.001)
        onset = time.monotonic()
        fired = webhook.wait_for(ALERT, "firing", timeout=FOR_S + 60)
        alert = next(a for a in fired.body["alerts"] if a["labels"]["alertname"] == ALERT)
        assert alert["labels"]["deployment_name"] == "digits"
        assert alert["labels"]["predictor_name"] == "canary"
        assert alert["labels"]["severity"] == "warning"
        assert AlertmanagerClient(stack.alertmanager_url).alerts(alertname=ALERT)
        onset_to_alert_s = fired.received - onset
        assert onset_to_alert_s >= FOR_S  # the rule waits for its `for`

        canary_node.set_drift(False, p_val=0.3)
        cleared = time.monotonic()
        resolved = webhook.wait_for(ALERT, "resolved", timeout=60)
        resolve_s = resolved.received - cleared
        rss_kib = _rss_kib(stack.pids["prometheus"])
        am_rss_kib = _rss_kib(stack.pids["alertmanager"])
        pids = stack.pids
    for pid in pids.values():  # stopped by the context manager
        with pytest.raises(FileNotFoundError):
            Path(f"/proc/{pid}/status").read_text()
    print(
        f"\nmonitoring e2e: start {startup_s:.2f}s, first scrape {first_scrape_s:.1f}s, "
        f"onset->webhook {onset_to_alert_s:.1f}s, clear->resolved {resolve_s:.1f}s, "
        f"RSS Prometheus {rss_kib / 1024:.0f} MiB, Alertmanager {am_rss_kib / 1024:.0f} MiB"
    )
