"""The digits graph under ``seldon-graph serve --monitoring`` for the canary rollouts on a
real Prometheus, and the checks of an audit log against Prometheus and the load
generator."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graph.monitoring.query import PrometheusClient
from tests.fixtures.graphs import Served, serve_process
from tests.fixtures.rollouts import Counts, canary_run, examples, start_at_zero, warm_up

# Prometheus scrapes every 1 s here (serve --monitoring's default): a 5 s interval holds
# about five samples per series.
INTERVAL = "5s"
COMMON = ["--interval", INTERVAL, "--min-requests", "5", "--max-waits", "4"]
# How far a reply's arrival may be from the samples Prometheus has of it: the scrape
# interval (1 s) and scrape/response lag.
SLACK_S = 2.0


@dataclass
class MonitoredGraph:
    served: Served
    manifest: Path
    original: str  # the manifest's text before any test changed it
    prometheus_url: str

    @property
    def prometheus(self) -> PrometheusClient:
        return PrometheusClient(self.prometheus_url)

    def reset(self) -> None:
        """The manifest as at the start, then main=100 and every node ready."""
        self.manifest.write_text(self.original)
        start_at_zero(self.served, self.manifest)

    def rollout(self, audit: Path, *args: str) -> Any:
        return canary_run(
            self.manifest, audit, "--prometheus-url", self.prometheus_url, *COMMON, *args
        )


def prometheus_url(served: Served, timeout: float = 90) -> str:
    """The Prometheus URL ``serve --monitoring`` printed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"seldon-graph: prometheus (http://127\.0\.0\.1:\d+)", served.log())
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"serve printed no Prometheus URL:\n{served.log()[-3000:]}")


@contextmanager
def monitored_digits(
    manifest: Path, artifacts_dir: Path, log_dir: Path
) -> Iterator[MonitoredGraph]:
    """``seldon-graph serve MANIFEST --monitoring`` of the digits graph until the block
    ends, warmed up with clean digits (the first calls of each node are slow)."""
    original = manifest.read_text()
    with serve_process(
        manifest, log_dir, "--models-dir", str(artifacts_dir), "--quiet", "--monitoring",
        ready_timeout=300,
    ) as served:  # fmt: skip
        warm_up(served, examples(artifacts_dir, "clean"))
        yield MonitoredGraph(served, manifest, original, prometheus_url(served))


def read_records(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def judged(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The decisions made on Prometheus' numbers (not the waits for a filled window)."""
    return [r for r in records if r["event"] == "decision" and r["predictors"]]


def window_of(record: dict[str, Any]) -> tuple[float, float]:
    """(start, end) of the Prometheus window a decision was made on (Unix seconds)."""
    prom = record["prometheus"]
    return prom["time"] - float(prom["window"].rstrip("s")), prom["time"]


def check_requests_against_load(record: dict[str, Any], counts: Counts) -> None:
    """Prometheus' request count of each predictor in a decision's window lies between what
    the load generator received well inside the window and around it (``increase()``
    extrapolates its samples to the window's ends)."""
    start, end = window_of(record)
    for name, numbers in record["predictors"].items():
        inner, outer = around(counts, start, end, name)
        assert inner <= numbers["requests"] <= outer, (name, numbers, inner, outer, record)


def around(
    counts: Counts, start: float, end: float, name: str, ok: bool | None = None
) -> tuple[int, int]:
    """Replies the load generator received within (start, end] shrunk and grown by
    ``SLACK_S`` at both ends."""
    return (
        counts.between(start + SLACK_S, end - SLACK_S, name, ok),
        counts.between(start - SLACK_S, end + SLACK_S, name, ok),
    )
