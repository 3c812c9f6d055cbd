"""The report: median rounds, the ratios that matter, targets, JSON and a Markdown table.

Pure functions over result rows (dicts with ``name``, ``target``, ``transport``,
``payload``, ``concurrency``, ``throughput_rps``, ``p50_ms``, ``p90_ms``, ``p99_ms``,
``errors`` and ``round``), so they are tested on synthetic inputs.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.peers.registry import COMPOSITIONS, SINGLE_MODEL

Row = dict[str, Any]
HOPS = 3  # transformer -> drift-detector -> classifier
CLIENT_NOTE = (
    "The load generator shares the machine's cores with the servers. REST: wrk (C, epoll), "
    "1 thread at 1 client and 2 threads otherwise, a Lua script POSTs the body and counts "
    "non-2xx replies. gRPC: N asyncio coroutines on a few grpc.aio channels sending "
    "pre-serialised requests (no per-call encoding). raw: forward passes in the benchmark "
    "process, throughput in images/s. Closed loop, warm-up not counted, median of the rounds."
)


def key_of(row: Row) -> tuple[Any, ...]:
    return (row["name"], row.get("target", row["name"]), row["transport"], row["payload"],
            row["concurrency"])  # fmt: skip


def median_rounds(rows: Iterable[Row]) -> list[Row]:
    """One row per case and level: the round with the median throughput (lower median)."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(key_of(row), []).append(row)
    chosen = []
    for group in groups.values():
        ordered = sorted(group, key=lambda r: r["throughput_rps"])
        pick = dict(ordered[(len(ordered) - 1) // 2])
        pick["rounds"] = len(group)
        pick["throughput_rps_rounds"] = [r["throughput_rps"] for r in group]
        pick.pop("round", None)
        chosen.append(pick)
    return chosen


def find(
    rows: Sequence[Row],
    name: str,
    transport: str,
    concurrency: int | None = None,
    payload: str | None = None,
) -> Row | None:
    """The (median) row of a scenario; ``payload``/``concurrency`` narrow it down."""
    for row in rows:
        if row["name"] != name or row["transport"] != transport:
            continue
        if concurrency is not None and row["concurrency"] != concurrency:
            continue
        if payload is not None and row["payload"] != payload:
            continue
        return row
    return None


def ratio(a: Row | None, b: Row | None, field: str = "throughput_rps") -> float | None:
    if a is None or b is None or not b[field] or math.isnan(b[field]) or math.isnan(a[field]):
        return None
    return round(a[field] / b[field], 3)


def difference(a: Row | None, b: Row | None, field: str = "p50_ms") -> float | None:
    if a is None or b is None or math.isnan(a[field]) or math.isnan(b[field]):
        return None
    return round(a[field] - b[field], 3)


def ratios(rows: Sequence[Row]) -> dict[str, float]:
    """The ratios that matter (absent when a scenario did not run)."""
    out: dict[str, float | None] = {}
    for t in ("rest", "grpc"):
        base32, batched32 = find(rows, "baseline", t, 32), find(rows, "batched", t, 32)
        out[f"batched/baseline throughput @32 {t}"] = ratio(batched32, base32)
        out[f"batched/mlserver throughput @32 {t}"] = ratio(
            batched32, find(rows, "mlserver", t, 32)
        )
        out[f"graph/baseline throughput @32 {t}"] = ratio(find(rows, "graph", t, 32), base32)
        out[f"batched/baseline throughput @1 {t}"] = ratio(
            find(rows, "batched", t, 1), find(rows, "baseline", t, 1)
        )
        added = difference(find(rows, "graph", t, 1), find(rows, "batched", t, 1))
        out[f"graph-batched p50 ms @1 {t}"] = added
        out[f"graph-batched p50 ms per hop @1 {t}"] = (
            None if added is None else round(added / HOPS, 3)
        )
        out[f"batched@32/raw@formed throughput {t}"] = ratio(
            batched32, find(rows, "raw", "inprocess", payload="batch-formed")
        )
        out[f"drift added p50 ms @1 {t}"] = difference(
            find(rows, "graph", t, 1), find(rows, "graph_nodrift", t, 1)
        )
        for peer in SINGLE_MODEL:
            out[f"batched/{peer} throughput @32 {t}"] = ratio(batched32, find(rows, peer, t, 32))
        out[f"batched/fastest peer throughput @32 {t}"] = ratio(
            batched32, fastest_peer(rows, t, 32)
        )
    for level in (1, 32):
        out[f"graph/fastest peer graph throughput @{level} rest"] = ratio(
            find(rows, "graph", "rest", level), fastest_peer(rows, "rest", level, COMPOSITIONS)
        )
    return {k: v for k, v in out.items() if v is not None}


def fastest_peer(
    rows: Sequence[Row], transport: str, concurrency: int, names: Sequence[str] = SINGLE_MODEL
) -> Row | None:
    """The row among the ``names`` scenarios (single-model peers by default) with the
    highest throughput at ``concurrency`` (rows without replies left out)."""
    found = [r for name in names if (r := find(rows, name, transport, concurrency))]
    found = [r for r in found if not math.isnan(r["throughput_rps"])]
    return max(found, key=lambda r: r["throughput_rps"], default=None)


@dataclass(frozen=True)
class Target:
    label: str
    ratio: str
    op: str  # ">=" or "<="
    threshold: float

    def verdict(self, values: dict[str, float]) -> str:
        value = values.get(self.ratio)
        if value is None:
            return "n/a"
        ok = value >= self.threshold if self.op == ">=" else value <= self.threshold
        return "PASS" if ok else "MISS"


TARGETS = (
    Target("batched >= mlserver @32 (REST)", "batched/mlserver throughput @32 rest", ">=", 1.0),
    Target("batched >= fastest peer @32 (REST)", "batched/fastest peer throughput @32 rest",
           ">=", 1.0),
    Target("batched >= fastest peer @32 (gRPC)", "batched/fastest peer throughput @32 grpc",
           ">=", 1.0),
    Target("batched >= 50% raw @formed batch (REST)", "batched@32/raw@formed throughput rest",
           ">=", 0.5),
    Target("batched >= 50% raw @formed batch (gRPC)", "batched@32/raw@formed throughput grpc",
           ">=", 0.5),
    Target("batched >= 0.95x baseline @1 (REST)", "batched/baseline throughput @1 rest",
           ">=", 0.95),
    Target("batched >= 0.95x baseline @1 (gRPC)", "batched/baseline throughput @1 grpc",
           ">=", 0.95),
    Target("graph >= 2x baseline @32 (gRPC)", "graph/baseline throughput @32 grpc", ">=", 2.0),
    Target("graph added p50 <= 2 ms/hop @1 (REST)", "graph-batched p50 ms per hop @1 rest",
           "<=", 2.0),
    Target("graph added p50 <= 2 ms/hop @1 (gRPC)", "graph-batched p50 ms per hop @1 grpc",
           "<=", 2.0),
    Target("drift node adds <= 0.5 ms p50 @1 (REST)", "drift added p50 ms @1 rest", "<=", 0.5),
    Target("drift node adds <= 0.5 ms p50 @1 (gRPC)", "drift added p50 ms @1 grpc", "<=", 0.5),
    Target("graph >= fastest peer graph @1 (REST)", "graph/fastest peer graph throughput @1 rest",
           ">=", 1.0),
    Target("graph >= fastest peer graph @32 (REST)",
           "graph/fastest peer graph throughput @32 rest", ">=", 1.0),
)  # fmt: skip


def targets(values: dict[str, float]) -> list[dict[str, Any]]:
    return [
        {"target": t.label, "ratio": t.ratio, "value": values.get(t.ratio), "op": t.op,
         "threshold": t.threshold, "result": t.verdict(values)}
        for t in TARGETS
    ]  # fmt: skip


def build(
    rows: Sequence[Row],
    machine: dict[str, Any],
    config: dict[str, Any],
    memory: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document: machine, settings, median rows, ratios, targets (and memory)."""
    medians = median_rounds(rows)
    values = ratios(medians)
    doc = {"machine": machine, "config": config, "client": CLIENT_NOTE,
           "scenarios": medians, "ratios": values, "targets": targets(values)}  # fmt: skip
    if memory is not None:
        doc["memory"] = memory
    return doc


def to_json(doc: Any) -> str:
    """``doc`` as strict JSON: NaN (no replies, so no latency) becomes ``null``."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(doc), indent=2, allow_nan=False) + "\n"


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown(doc: dict[str, Any]) -> str:
    """The Markdown report: machine, results table, ratios and targets."""
    m = doc["machine"]
    lines = [
        "# Benchmark results", "",
        f"{m.get('cpu')} ({m.get('cores')} cores, {m.get('memory_gib')} GiB), "
        f"Python {m.get('python')}, torch {m.get('torch')}, seldon-core {m.get('seldon_core')}, "
        f"MLServer {m.get('mlserver') or '-'}, {m.get('date')}, commit {m.get('git_commit')}.",
        "", doc["client"], "",
        "| scenario | target | transport | payload | clients | throughput/s | p50 ms | p90 ms "
        "| p99 ms | errors |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for r in sorted(doc["scenarios"], key=lambda r: (key_of(r)[:4], r["concurrency"])):
        payload = r["payload"] + (f" ({r['batch_size']})" if "batch_size" in r else "")
        lines.append(
            f"| {r['name']} | {r.get('target', r['name'])} | {r['transport']} | {payload} "
            f"| {r['concurrency']} | {_fmt(r['throughput_rps'], 1)} | {_fmt(r['p50_ms'])} "
            f"| {_fmt(r['p90_ms'])} | {_fmt(r['p99_ms'])} | {r['errors']} |"
        )
    formed = [r for r in doc["scenarios"] if "mean_batch_size" in r]
    if formed:
        lines += ["", "Mean batch size formed by `batched` at 32 clients: " + ", ".join(
            f"{r['transport']} {r['mean_batch_size']}" for r in formed) + "."]  # fmt: skip
    lines += peer_lines(doc["config"].get("peers") or {})
    lines += ["", "| ratio | value |", "|---|---:|"]
    lines += [f"| {k} | {_fmt(v, 3)} |" for k, v in doc["ratios"].items()]
    lines += ["", "| target | value | threshold | result |", "|---|---:|---:|---|"]
    for t in doc["targets"]:
        lines.append(
            f"| {t['target']} | {_fmt(t['value'], 3)} | {t['op']} {t['threshold']} "
            f"| {t['result']} |"
        )
    if "memory" in doc:
        from benchmarks import memory

        lines += memory.markdown(doc["memory"])
    return "\n".join(lines) + "\n"


def peer_lines(peers: dict[str, dict[str, Any]]) -> list[str]:
    """A Markdown list of each peer's version and settings (``config.peers``)."""
    if not peers:
        return []
    lines = ["", "Peer settings:", ""]
    for name, settings in peers.items():
        rest = {k: v for k, v in settings.items() if k != "version"}
        lines.append(f"- `{name}` {settings.get('version') or '-'}: "
                     + "; ".join(f"{k}: {json.dumps(v)}" for k, v in rest.items()))  # fmt: skip
    return lines


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info(root: Path, mlserver_version: str | None) -> dict[str, Any]:
    """CPU, cores, memory, versions, date and git commit of this run."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                      .splitlines() if line.startswith("MemTotal"))  # fmt: skip
        memory: float | None = round(mem_kb / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        memory = None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    wrk = subprocess.run(["sh", "-c", "wrk -v 2>&1 | head -n 1"], capture_output=True,
                         text=True).stdout.strip()  # fmt: skip
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": memory,
        "python": platform.python_version(), "torch": _version("torch"),
        "seldon_core": _version("seldon-core"), "mlserver": mlserver_version,
        "grpcio": _version("grpcio"), "wrk": wrk or None,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": (commit or "unknown") + ("-dirty" if dirty else ""),
    }  # fmt: skip
