"""``seldon-graph canary run`` against a real ``seldon-graph serve`` of the digits graph.

One serve per module on the test copy of graph/seldondeployment.yaml
(:func:`tests.fixtures.rollouts.rollout_manifest`: drift windows of 16, p_val 0.002 over
1000 permutations, 60 s node timeouts); the rollout reads the gateway's ``/metrics``.
Every test starts from main=100 with every node ready, whatever the test before it left.
Background load posts example PNGs from a thread pool. Tests run in order: a healthy
canary is stepped to 100; a canary whose classifier is killed mid-rollout is rolled back
at the next check; a canary receiving shifted digits is rolled back for drift (last: it
leaves the detectors' verdicts at "drift").
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.graphs import Served, serve_process
from tests.fixtures.rollouts import (
    canary_run,
    examples,
    finish,
    load,
    rollout_manifest,
    traffic,
    warm_up,
)
from tests.fixtures.rollouts import start_at_zero as _start_at_zero

pytestmark = pytest.mark.slow
INTERVAL = "4s"
COMMON = ["--interval", INTERVAL, "--min-requests", "5", "--max-waits", "3"]


@pytest.fixture(scope="module")
def digits(
    tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path, log_dir: Path
) -> Iterator[Served]:
    path = rollout_manifest(tmp_path_factory.mktemp("rollout") / "seldondeployment.yaml")
    with serve_process(
        path, log_dir, "--models-dir", str(artifacts_dir), "--quiet", ready_timeout=240
    ) as served:
        served.manifest = path  # type: ignore[attr-defined]
        warm_up(served, examples(artifacts_dir, "clean"))  # first calls are slow
        yield served


def manifest_of(served: Served) -> Path:
    return served.manifest  # type: ignore[attr-defined]


def rollout(served: Served, audit: Path, *args: str) -> subprocess.Popen[str]:
    return canary_run(
        manifest_of(served), audit, "--metrics-url", f"{served.url}/metrics", *COMMON, *args
    )


def start_at_zero(served: Served) -> None:
    _start_at_zero(served, manifest_of(served))


def test_a_healthy_canary_is_stepped_to_100(
    digits: Served, artifacts_dir: Path, tmp_path: Path, read_audit: Callable[[Path], list[dict]]
) -> None:
    start_at_zero(digits)
    audit = tmp_path / "audit.jsonl"
    with load(digits, examples(artifacts_dir, "clean")) as counts:
        # a shared 2-core box makes p99 of a few requests noisy: a looser latency ratio
        code, out = finish(rollout(digits, audit, "--steps", "10,50,100", "--latency-ratio", "3"))
    assert code == 0, out
    assert traffic(manifest_of(digits)) == {"main": 0, "canary": 100}
    records = read_audit(audit)
    decisions = [r for r in records if r["event"] == "decision"]
    assert [r["verdict"] for r in decisions if r["verdict"] != "wait"] == [
        "continue", "continue", "complete"
    ]  # fmt: skip
    assert all(r["predictors"]["canary"]["errors"] == 0 for r in decisions)
    assert records[-1]["event"] == "complete"
    assert all(status == 200 for (_, status) in counts), counts
    assert counts[("canary", 200)] > 0


def test_a_canary_that_starts_failing_is_rolled_back_at_the_next_check(
    digits: Served, artifacts_dir: Path, tmp_path: Path, read_audit: Callable[[Path], list[dict]]
) -> None:
    start_at_zero(digits)
    audit = tmp_path / "audit.jsonl"
    victim = digits.nodes()["digits/canary/classifier"]["pid"]
    with load(digits, examples(artifacts_dir, "clean")) as counts:
        process = rollout(digits, audit, "--steps", "10,50,100", "--latency-ratio", "3")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(  # fault once step 2 has started
            r["event"] == "step" and r["step"] == 2 for r in _records(read_audit, audit)
        ):
            time.sleep(0.1)
        killed_at = time.time()
        os.kill(victim, signal.SIGKILL)
        code, out = finish(process)
    assert code == 1, out
    assert traffic(manifest_of(digits)) == {"main": 100, "canary": 0}
    records = read_audit(audit)
    rollback = records[-1]
    assert rollback["event"] == "rollback" and rollback["step"] == 2
    decision = records[-2]
    assert decision["verdict"] == "rollback" and "error rate" in decision["reason"]
    assert decision["predictors"]["canary"]["errors"] > 0
    assert decision["predictors"]["main"]["errors"] == 0
    seconds = dt.datetime.fromisoformat(rollback["ts"]).timestamp() - killed_at
    print(f"time from kill -9 to rollback written: {seconds:.2f} s (interval {INTERVAL})")
    assert counts[("canary", 503)] > 0 and counts[("main", 503)] == counts[("main", 500)] == 0, (
        counts
    )


def test_a_canary_receiving_drifted_data_is_rolled_back(
    digits: Served, artifacts_dir: Path, tmp_path: Path, read_audit: Callable[[Path], list[dict]]
) -> None:
    start_at_zero(digits)
    audit = tmp_path / "audit.jsonl"
    with load(digits, examples(artifacts_dir, "shifted")):
        code, out = finish(rollout(digits, audit, "--steps", "10,50,100", "--latency-ratio", "3"))
    assert code == 1, out
    assert traffic(manifest_of(digits)) == {"main": 100, "canary": 0}
    records = read_audit(audit)
    decision = records[-2]
    assert decision["verdict"] == "rollback" and "drift" in decision["reason"], decision
    assert decision["predictors"]["canary"]["drift"] is True
    assert records[-1]["event"] == "rollback"


def _records(read_audit: Callable[[Path], list[dict]], path: Path) -> list[dict]:
    try:
        return read_audit(path)
    except (FileNotFoundError, ValueError):
        return []
