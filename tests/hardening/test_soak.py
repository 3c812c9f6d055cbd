"""A short soak of the served digits graph (the 5-minute one: ``python -m
tests.hardening.soak --minutes 5``): no failed request, resident memory of the gateway
and every node process grows by less than 5 % after warm-up."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest

from tests.fixtures.graphs import Served
from tests.hardening.soak import graph_roots, png_body, process_tree, rss_bytes, soak

pytestmark = pytest.mark.slow
SECONDS = float(os.environ.get("HARDENING_SOAK_S", "50"))


def test_memory_of_the_graph_is_the_sum_over_its_process_tree(digits_served: Served) -> None:
    pids = process_tree(graph_roots(digits_served.process.pid, digits_served.run_dir))
    node_pids = {n["pid"] for n in digits_served.nodes().values()}
    assert digits_served.process.pid in pids and node_pids <= pids
    assert len(pids) > len(node_pids) + 1  # Gunicorn workers and gRPC workers are children
    assert rss_bytes(pids) > sum(rss_bytes({p}) for p in node_pids)


def test_short_soak_has_no_errors_and_bounded_memory_growth(
    digits_served: Served, artifacts_dir: Path
) -> None:
    summary = soak(
        f"{digits_served.url}/api/v1.0/predictions",
        digits_served.process.pid,
        digits_served.run_dir,
        png_body(artifacts_dir),
        SECONDS,
        concurrency=8,
    )
    print(json.dumps(asdict(summary)))
    assert summary.requests > 0
    assert summary.statuses == {"200": summary.requests}, summary.errors
    assert summary.rss_growth_pct < 5.0, asdict(summary)
    assert summary.passed
