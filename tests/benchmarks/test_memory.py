"""The graph's memory as PSS: read from real processes, grouped by node, reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import memory, procs, report

MIB = 2**20
HOLD = (
    "import os, sys, time\n"
    "data = bytearray(int(sys.argv[1]) * 2**20)\n"
    "data[::4096] = b'x' * len(data[::4096])  # touch every page\n"
    "if int(sys.argv[2]) and os.fork() == 0:\n"
    "    time.sleep(120)\n"
    "print('ready', flush=True)\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for child in started:
        for p in procs.tree(child.pid)[::-1]:  # forked worker first, then the parent
            os.kill(p.pid, signal.SIGKILL)
        child.wait(timeout=10)


def hold(holders: list, mib: int, fork: bool) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(mib), str(int(fork))],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    holders.append(child)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 10
    while fork and len(procs.tree(child.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return child


def test_pss_splits_pages_shared_after_fork_where_rss_counts_them_twice(holders: list) -> None:
    child = hold(holders, 200, fork=True)
    pids = [p.pid for p in procs.tree(child.pid)]
    assert len(pids) == 2
    rss = sum(procs.rollup(pid)["Rss"] for pid in pids)  # type: ignore[index]
    pss = sum(procs.pss_bytes(pid) or 0 for pid in pids)
    assert rss > 380 * MIB  # the 200 MiB buffer, counted in both processes
    assert 190 * MIB < pss < 300 * MIB  # counted once, split between them


def test_groups_sum_each_node_tree_and_leave_the_rest_to_the_gateway(
    holders: list, tmp_path: Path
) -> None:
    serve = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    holders.append(serve)
    node = hold(holders, 100, fork=True)
    state = tmp_path / "nodes.json"
    state.write_text(json.dumps({"d/main/classifier": {"pid": node.pid}}))
    by_group = memory.groups(serve.pid, state)
    assert by_group == {"d/main/classifier": [p.pid for p in procs.tree(node.pid)],
                        memory.GATEWAY: [serve.pid]}  # fmt: skip
    sampler = memory.GraphMemory(serve.pid, state, interval_s=0.05)
    with sampler.during("graph grpc at 32 clients"):
        time.sleep(0.3)
    section = sampler.section()
    assert section is not None and section["measured"] == "graph grpc at 32 clients"
    classifier = next(g for g in section["groups"] if g["group"] == "d/main/classifier")
    assert classifier["processes"] == 2 and classifier["pss_mib"] > 95
    assert section["total_pss_bytes"] < section["total_rss_bytes"]


def test_report_carries_the_memory_section_and_its_verdict() -> None:
    big = {"n/a/classifier": {"pss": 5 * 10**9, "rss": 9 * 10**9, "processes": 7},
           memory.GATEWAY: {"pss": 2 * 10**9, "rss": 2 * 10**9, "processes": 1}}  # fmt: skip
    section = memory.summary(big, "graph rest at 32 clients")
    assert section["result"] == "MISS" and section["total_pss_gb"] == 7.0
    assert memory.summary(big, "x", goal_bytes=8 * 10**9)["result"] == "PASS"
    doc = report.build([], {}, {}, memory=section)
    text = report.markdown(doc)
    assert "total PSS 7.00 GB against the 6 GB goal: MISS" in text
    assert "| n/a/classifier | 7 | 4768.4 | 8583.1 |" in text
    assert "memory" not in report.build([], {}, {})
