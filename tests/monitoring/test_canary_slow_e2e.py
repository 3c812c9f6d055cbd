"""A slow canary is rolled back by ``seldon-graph canary run --prometheus-url`` on the real
Prometheus of ``seldon-graph serve --monitoring``.

Its own serve (the graph differs from the other rollout module's): the canary's
classifier is a heavier model version, a ResNet-152 instead of the ResNet-18, with
batching off (tests.fixtures.rollouts.rollout_manifest ``slow-canary``); main is as
shipped. Nothing is injected: the canary is slower because of the work it does. Both
models run float32, so the factor does not hinge on the CPU's bfloat16 support (an
earlier version slowed the canary with bfloat16 autocast instead: 5x the forward here,
but on CI's CPU its p99 stayed under 1.5x main's and the rollout completed). Main keeps
a share at every step (25, 50, 75): latency is compared only within one interval, so at
100% canary there is no main p99 to compare with.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.rollouts import (
    examples,
    finish,
    load,
    rollout_manifest,
    slow_canary_models,
    traffic,
)
from tests.monitoring.conftest import PromTools
from tests.monitoring.rollout_helpers import (
    MonitoredGraph,
    check_requests_against_load,
    judged,
    monitored_digits,
    read_records,
    window_of,
)

pytestmark = pytest.mark.slow
LATENCY_RATIO = 1.5  # canary p99 may be this many times main's (the CLI's default)


@pytest.fixture(scope="module")
def slow_graph(
    prom_tools: PromTools,
    tmp_path_factory: pytest.TempPathFactory,
    artifacts_dir: Path,
    log_dir: Path,
) -> Iterator[MonitoredGraph]:
    work = tmp_path_factory.mktemp("prom-slow")
    manifest = rollout_manifest(work / "digits.yaml", "slow-canary")
    models = slow_canary_models(artifacts_dir, work / "models")
    with monitored_digits(manifest, models, log_dir) as graph:
        yield graph


def test_a_slow_canary_is_rolled_back_on_its_p99(
    slow_graph: MonitoredGraph, artifacts_dir: Path, tmp_path: Path
) -> None:
    graph = slow_graph
    graph.reset()
    audit = tmp_path / "audit.jsonl"
    with load(graph.served, examples(artifacts_dir, "clean")) as counts:
        # main keeps a share at every step: p99s are compared within one interval only
        process = graph.rollout(audit, "--steps", "25,50,75",
                                "--latency-ratio", str(LATENCY_RATIO))  # fmt: skip
        code, out = finish(process, timeout=240)
    assert code == 1, out
    assert traffic(graph.manifest) == {"main": 100, "canary": 0}
    records = read_records(audit)
    decision = records[-2]
    assert records[-1]["event"] == "rollback"
    assert decision["verdict"] == "rollback" and "p99" in decision["reason"], decision
    canary, main = decision["predictors"]["canary"], decision["predictors"]["main"]
    assert canary["errors"] == 0 and canary["p99_s"] > LATENCY_RATIO * main["p99_s"]
    for record in judged(records):
        check_requests_against_load(record, counts)
    # what the clients saw over the same window: the canary is slower, not just its p99
    start, end = window_of(decision)
    seen = {
        name: [r.seconds for r in counts.replies if r.predictor == name and start < r.done <= end]
        for name in ("main", "canary")
    }
    medians = {name: statistics.median(values) for name, values in seen.items()}
    print(f"slow canary: Prometheus p99 canary {canary['p99_s']} s, main {main['p99_s']} s; "
          f"clients' medians {medians}")  # fmt: skip
    assert medians["canary"] > LATENCY_RATIO * medians["main"], medians
