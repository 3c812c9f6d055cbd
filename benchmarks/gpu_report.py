"""The GPU check's report: the fork verdict and the tables, from measured numbers only.

Pure functions (tested on CPU with synthetic inputs); ``benchmarks.gpu_check`` measures.

The fork verdict: Seldon's wrapper builds the component in its first process, then forks
(Gunicorn master -> worker, gRPC parent -> worker) and calls ``load()`` in each worker.
CUDA was first touched after the fork when no process that forked others holds any CUDA
evidence (``libcuda.so`` mapped, ``/dev/nvidia*`` open), and at least one worker holds a
GPU device file open (it really runs on the GPU).
"""

from __future__ import annotations

import math
from typing import Any

Proc = dict[str, Any]  # pid, ppid, role, cmdline, driver_mapped, gpu_files, compute_app


def roles(procs: list[Proc]) -> list[Proc]:
    """Mark each process ``master`` (the root), ``parent`` (forked others) or ``worker``."""
    parents = {p["ppid"] for p in procs}
    root = procs[0]["pid"] if procs else None
    out = []
    for p in procs:
        role = "master" if p["pid"] == root else "parent" if p["pid"] in parents else "worker"
        out.append({**p, "role": role})
    return out


def touched(p: Proc) -> bool:
    return bool(p["driver_mapped"] or p["gpu_files"] or p.get("compute_app"))


def fork_verdict(procs: list[Proc], health_device: str | None, reinit_error: bool) -> str:
    """``PASS`` or ``FAIL: <why>`` for one server's process tree (see the module doc)."""
    if not procs:
        return "FAIL: no processes found"
    early = [p for p in procs if p["role"] != "worker" and touched(p)]
    if early:
        names = ", ".join(f"{p['role']} {p['pid']}" for p in early)
        return f"FAIL: CUDA touched before the fork, in {names}"
    if not any(p["gpu_files"] or p.get("compute_app") for p in procs if p["role"] == "worker"):
        return "FAIL: no worker holds a GPU device open (did it run on the CPU?)"
    if not (health_device or "").startswith("cuda"):
        return f"FAIL: /health/status reports device {health_device!r}, not cuda"
    if reinit_error:
        return "FAIL: the log says 'Cannot re-initialize CUDA in forked subprocess'"
    return "PASS"


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _fork_lines(fork: list[dict[str, Any]]) -> list[str]:
    lines = ["", "## CUDA first touched after the fork", "",
             "Evidence per process of each server, read from `/proc/<pid>/maps` (CUDA driver "
             "`libcuda.so` mapped), `/proc/<pid>/fd` (`/dev/nvidia*` open) and "
             "`nvidia-smi --query-compute-apps=pid` (a CUDA context; pids may be missing "
             "inside a container's pid namespace).", ""]  # fmt: skip
    for server in fork:
        lines += [f"**{server['server']}** (device {server['health_device']}, amp "
                  f"{server['health_amp']}): **{server['verdict']}**", "",
                  "| pid | role | libcuda mapped | /dev/nvidia* open | compute app | command |",
                  "|---:|---|---|---|---|---|"]  # fmt: skip
        for p in server["processes"]:
            files = ", ".join(p["gpu_files"]) or "-"
            lines.append(f"| {p['pid']} | {p['role']} | {'yes' if p['driver_mapped'] else 'no'} "
                         f"| {files} | {'yes' if p.get('compute_app') else 'no'} "
                         f"| `{p['cmdline'][:70]}` |")  # fmt: skip
        lines.append("")
    return lines


def markdown(doc: dict[str, Any]) -> str:
    """``gpu.md``: machine, fork verdicts, raw forward and served throughput."""
    m, c = doc["machine"], doc["config"]
    lines = [
        "# GPU check", "",
        f"{m['gpu']} (driver {m['driver']}, CUDA {m['cuda']}), {m['cpu']} ({m['cores']} "
        f"cores), Python {m['python']}, torch {m['torch']}, seldon-core {m['seldon_core']}, "
        f"{m['date']}, commit {m['git_commit']}. `python -m benchmarks.gpu_check`: "
        f"{c['duration_s']} s per measurement after {c['warmup_s']} s warm-up, one round; "
        f"server: `seldon-core-microservice model.predictor.TorchPredictor` with "
        f"{c['server']}. Wall time {doc.get('wall_s', '-')} s.",
    ]  # fmt: skip
    lines += _fork_lines(doc["fork_check"])
    lines += [
        "## Raw forward (in the check process, `model.inference`)",
        "",
        "| amp | batch | images/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in doc["raw"]:
        lines.append(f"| {r['amp']} | {r['batch']} | {_fmt(r['images_per_s'])} "
                     f"| {_fmt(r['p50_ms'], 3)} | {_fmt(r['p99_ms'], 3)} |")  # fmt: skip
    lines += ["", "## Served (one image per request, closed loop)", "",
              "| amp | transport | clients | req/s | p50 ms | p99 ms | mean batch | errors |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in doc["served"]:
        lines.append(f"| {r['amp']} | {r['transport']} | {r['clients']} "
                     f"| {_fmt(r['throughput_rps'])} | {_fmt(r['p50_ms'], 2)} "
                     f"| {_fmt(r['p99_ms'], 2)} | {_fmt(r.get('mean_batch_size'), 2)} "
                     f"| {r['errors']} |")  # fmt: skip
    if doc.get("skipped"):
        lines += ["", "Not measured: " + "; ".join(doc["skipped"]) + "."]
    return "\n".join(lines) + "\n"
