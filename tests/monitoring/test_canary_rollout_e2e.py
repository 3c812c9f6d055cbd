"""``seldon-graph canary run --prometheus-url`` on the real Prometheus of ``seldon-graph
serve --monitoring`` scraping the digits graph (the executor's metrics at the gateway's
``/prometheus``, every node's ``/prometheus``), with the PromQL a cluster gets.

One serve per module (tests.fixtures.rollouts.rollout_manifest's test settings; Prometheus
scrapes and evaluates every second, serve's default). Tests run in order: a fresh
Prometheus is not judged on until it covers the window; a healthy canary is promoted step
by step; a canary whose classifier is killed is rolled back; a canary receiving shifted
digits is rolled back for drift (last: it leaves the detectors' verdicts at "drift").
Each audit log's numbers are checked against what the load generator received.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from graph.canary.audit import AuditLog
from graph.canary.decision import Thresholds
from graph.canary.rollout import RolloutSettings, run_rollout
from graph.canary.sources import PrometheusSource
from graph.canary.target import ManifestTarget
from graph.monitoring import PrometheusClient, local_scrape_targets, monitoring_stack
from tests.fixtures.rollouts import (
    examples,
    finish,
    load,
    rollout_manifest,
    traffic,
    wait_for_step,
)
from tests.monitoring.conftest import PromTools
from tests.monitoring.rollout_helpers import (
    MonitoredGraph,
    around,
    check_requests_against_load,
    judged,
    monitored_digits,
    read_records,
    window_of,
)

pytestmark = pytest.mark.slow
COUNT = "seldon_api_executor_server_requests_seconds_count"


@pytest.fixture(scope="module")
def graph(
    prom_tools: PromTools,
    tmp_path_factory: pytest.TempPathFactory,
    artifacts_dir: Path,
    log_dir: Path,
) -> Iterator[MonitoredGraph]:
    manifest = rollout_manifest(tmp_path_factory.mktemp("prom-rollout") / "digits.yaml")
    with monitored_digits(manifest, artifacts_dir, log_dir) as graph:
        yield graph


def first_sample(prom: PrometheusClient) -> float:
    """When Prometheus first scraped the digits executor's prediction counts."""
    result = prom.query(f'{COUNT}{{deployment_name="digits"}}[1h]')
    return min(float(t) for series in result for t, _ in series["values"])


def test_a_fresh_prometheus_is_not_judged_on_until_it_covers_the_window(
    graph: MonitoredGraph, artifacts_dir: Path
) -> None:
    """A Prometheus started a moment ago (the same jobs and rules as serve's) scrapes
    first ~5 s after its start: the rollout waits, restarting its interval, and judges
    only windows that start after Prometheus' first sample."""
    graph.reset()
    gateway = f"127.0.0.1:{graph.served.http_port}"
    targets = local_scrape_targets(gateway, graph.served.run_dir / "nodes.json")
    audit = AuditLog(None, "digits")
    settings = RolloutSettings((10,), 2.0, Thresholds(latency_ratio=3, min_requests=3,
                                                      max_waits=8))  # fmt: skip
    with (
        load(graph.served, examples(artifacts_dir, "clean")) as counts,
        monitoring_stack(targets) as fresh,
    ):
        source = PrometheusSource(fresh.prometheus_url, "digits")
        outcome = run_rollout(settings, ManifestTarget(graph.manifest), source, audit)
        first = first_sample(PrometheusClient(fresh.prometheus_url))
    for record in audit.records:
        print(record)
    assert outcome.status == "complete", outcome
    decisions = [r for r in audit.records if r["event"] == "decision"]
    waits = [r for r in decisions if not r["predictors"]]
    assert waits and decisions[0] is waits[0], "the first window began before any scrape"
    assert waits[0]["prometheus"]["series_at_window_start"] == 0
    assert "window" in waits[0]["reason"] and "read low" in waits[0]["reason"]
    for record in waits:  # right to wait: Prometheus' first sample came after the start
        assert window_of(record)[0] < first, (record, first)
    for record in judged(audit.records):  # and every judged window starts after it
        assert window_of(record)[0] >= first, (record, first)
        check_requests_against_load(record, counts)


def test_a_healthy_canary_is_promoted_step_by_step(
    graph: MonitoredGraph, artifacts_dir: Path, tmp_path: Path
) -> None:
    graph.reset()
    audit = tmp_path / "audit.jsonl"
    with load(graph.served, examples(artifacts_dir, "clean")) as counts:
        # a shared 2-core box makes p99 of a few requests noisy: a looser latency ratio
        process = graph.rollout(audit, "--steps", "10,50,100", "--latency-ratio", "3",
                                "--promote")  # fmt: skip
        code, out = finish(process, timeout=240)
    assert code == 0, out
    doc = yaml.safe_load(graph.manifest.read_text())
    [main] = doc["spec"]["predictors"]  # the canary's graph became main's
    assert (main["name"], main["traffic"], main["labels"]["version"]) == ("main", 100, "v2")
    records = read_records(audit)
    decisions = judged(records)
    assert [r["verdict"] for r in decisions if r["verdict"] != "wait"] == [
        "continue", "continue", "complete"
    ]  # fmt: skip
    assert records[-1]["event"] == "promote"
    for record in decisions:
        canary = record["predictors"]["canary"]
        assert canary["errors"] == 0 and canary["drift"] is False, record
        check_requests_against_load(record, counts)
    assert all(status == 200 for (_, status) in counts), counts
    graph.reset()


def test_a_canary_whose_classifier_dies_is_rolled_back(
    graph: MonitoredGraph, artifacts_dir: Path, tmp_path: Path
) -> None:
    graph.reset()
    audit = tmp_path / "audit.jsonl"
    victim = graph.served.nodes()["digits/canary/classifier"]["pid"]
    with load(graph.served, examples(artifacts_dir, "clean")) as counts:
        process = graph.rollout(audit, "--steps", "10,50,100", "--latency-ratio", "3")
        wait_for_step(lambda: read_records(audit), 2)
        killed_at = time.time()
        os.kill(victim, signal.SIGKILL)
        code, out = finish(process, timeout=240)
    assert code == 1, out
    assert traffic(graph.manifest) == {"main": 100, "canary": 0}
    records = read_records(audit)
    rollback, decision = records[-1], records[-2]
    assert rollback["event"] == "rollback" and rollback["step"] == 2
    assert decision["verdict"] == "rollback" and "error rate" in decision["reason"], decision
    start, end = window_of(decision)
    canary, main = decision["predictors"]["canary"], decision["predictors"]["main"]
    # what the clients got (Prometheus skips the first sample of the new error series)
    inner, outer = around(counts, start, end, "canary", ok=False)
    assert 0 < canary["errors"] <= outer and inner > 0, (canary, inner, outer)
    assert main["errors"] == 0 and counts.between(start, end, "main", ok=False) == 0
    assert canary["error_rate"] > main["error_rate"] + 0.01
    seconds = dt.datetime.fromisoformat(rollback["ts"]).timestamp() - killed_at
    print(f"kill -9 of the canary's classifier to rollback (Prometheus): {seconds:.2f} s")
    assert counts[("canary", 503)] + counts[("canary", 500)] > 0, counts


def test_a_canary_receiving_drifted_data_is_rolled_back(
    graph: MonitoredGraph, artifacts_dir: Path, tmp_path: Path
) -> None:
    graph.reset()
    audit = tmp_path / "audit.jsonl"
    with load(graph.served, examples(artifacts_dir, "shifted")) as counts:
        process = graph.rollout(audit, "--steps", "10,50,100", "--latency-ratio", "3")
        code, out = finish(process, timeout=240)
    assert code == 1, out
    assert traffic(graph.manifest) == {"main": 100, "canary": 0}
    records = read_records(audit)
    decision = records[-2]
    assert decision["verdict"] == "rollback" and "drift" in decision["reason"], decision
    canary = decision["predictors"]["canary"]
    assert canary["drift"] is True
    assert canary["drift_p_value"] is not None and canary["drift_p_value"] < 0.002
    assert f"p-value {canary['drift_p_value']:.4g}" in decision["reason"]
    assert records[-1]["event"] == "rollback"
    assert all(status == 200 for (_, status) in counts), counts
