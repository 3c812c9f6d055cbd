"""Memory of the whole local graph, as PSS, sampled while the graph is under load.

``seldon-graph serve`` runs the gateway in its own process and each node (2 predictors x
3 nodes) as a process tree of its own (Seldon's wrapper: Gunicorn master and worker, gRPC
parent and worker, metrics server). The runner writes each node's pid to
``RUN_DIR/nodes.json``. ``GraphMemory`` sums the proportional set size (PSS, from
``/proc/<pid>/smaps_rollup``) of every process of the serve tree, grouped by node, every
``interval_s`` while a measurement runs, and keeps the sample with the largest total.
RSS is recorded next to it only to show how much shared pages (torch's libraries) would
inflate a naive sum.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import procs

GOAL_BYTES = 6 * 10**9  # the 6 GB goal (decimal gigabytes)
GATEWAY = "gateway (seldon-graph serve)"
MIB = 2**20


def groups(serve_pid: int, nodes_json: Path) -> dict[str, list[int]]:
    """Node key (or the gateway) -> the pids of its process tree, from a live serve tree."""
    try:
        nodes = json.loads(nodes_json.read_text())
    except (OSError, ValueError):
        nodes = {}
    table = procs.parents()
    found: dict[str, list[int]] = {}
    claimed: set[int] = set()
    for key, node in sorted(nodes.items()):
        pids = [p.pid for p in procs.tree(int(node["pid"]), table)]
        found[key] = pids
        claimed.update(pids)
    found[GATEWAY] = [p.pid for p in procs.tree(serve_pid, table) if p.pid not in claimed]
    return found


def sample(by_group: dict[str, list[int]]) -> dict[str, dict[str, int]]:
    """Group -> {pss, rss, processes} in bytes, summed over the group's live processes."""
    out: dict[str, dict[str, int]] = {}
    for name, pids in by_group.items():
        pss = rss = count = 0
        for pid in pids:
            found = procs.rollup(pid)
            if found is None:
                continue
            pss, rss, count = pss + found.get("Pss", 0), rss + found.get("Rss", 0), count + 1
        out[name] = {"pss": pss, "rss": rss, "processes": count}
    return out


def total(snapshot: dict[str, dict[str, int]], field: str = "pss") -> int:
    return sum(g[field] for g in snapshot.values())


def summary(
    snapshot: dict[str, dict[str, int]], where: str, goal_bytes: int = GOAL_BYTES
) -> dict[str, Any]:
    """The report's ``memory`` section from the peak snapshot."""
    pss = total(snapshot)
    return {
        "measured": where, "metric": "PSS (/proc/<pid>/smaps_rollup), peak sample",
        "total_pss_bytes": pss, "total_pss_gb": round(pss / 1e9, 3),
        "total_rss_bytes": total(snapshot, "rss"), "goal_gb": goal_bytes / 1e9,
        "processes": sum(g["processes"] for g in snapshot.values()),
        "result": "PASS" if pss <= goal_bytes else "MISS",
        "groups": [{"group": name, "processes": g["processes"],
                    "pss_mib": round(g["pss"] / MIB, 1), "rss_mib": round(g["rss"] / MIB, 1)}
                   for name, g in sorted(snapshot.items())],
    }  # fmt: skip


def markdown(section: dict[str, Any]) -> list[str]:
    """Markdown lines of the ``memory`` section."""
    lines = [
        "", "## Memory of the local graph", "",
        f"{section['metric']}, {section['measured']}: {section['processes']} processes, "
        f"total PSS {section['total_pss_gb']:.2f} GB against the {section['goal_gb']:.0f} GB "
        f"goal: {section['result']} (RSS summed would say "
        f"{section['total_rss_bytes'] / 1e9:.2f} GB: shared pages counted once per process).",
        "", "| process group | processes | PSS MiB | RSS MiB |", "|---|---:|---:|---:|",
    ]  # fmt: skip
    lines += [f"| {g['group']} | {g['processes']} | {g['pss_mib']:.1f} | {g['rss_mib']:.1f} |"
              for g in section["groups"]]  # fmt: skip
    return lines


class GraphMemory:
    """Peak-PSS sampler of a running ``seldon-graph serve`` tree."""

    def __init__(self, serve_pid: int, nodes_json: Path, interval_s: float = 0.5) -> None:
        self.serve_pid, self.nodes_json, self.interval_s = serve_pid, nodes_json, interval_s
        self.peak: dict[str, dict[str, int]] | None = None
        self.where = ""

    def take(self, by_group: dict[str, list[int]] | None = None) -> dict[str, dict[str, int]]:
        """One snapshot (of ``by_group``, else of the tree found now); keeps the peak."""
        snapshot = sample(by_group or groups(self.serve_pid, self.nodes_json))
        if self.peak is None or total(snapshot) > total(self.peak):
            self.peak = snapshot
        return snapshot

    @contextmanager
    def during(self, where: str) -> Iterator[None]:
        """Sample in a thread while the block runs (a measurement under load)."""
        stop = threading.Event()
        before = None if self.peak is None else total(self.peak)

        by_group = groups(self.serve_pid, self.nodes_json)  # nodes do not fork under load

        def loop() -> None:
            while not stop.wait(self.interval_s):
                self.take(by_group)

        thread = threading.Thread(target=loop, name="graph-memory", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=10)
            if self.peak is not None and total(self.peak) != before:
                self.where = where

    def section(self) -> dict[str, Any] | None:
        if self.peak is None:
            return None
        return summary(self.peak, self.where)
