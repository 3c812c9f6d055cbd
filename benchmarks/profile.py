"""``python -m benchmarks.profile``: where the CPU goes under load (py-spy + /proc).

Starts one target of the benchmark (``batched``: the classifier with dynamic batching;
``graph``: ``seldon-graph serve`` of the manifest), drives it with N closed-loop clients
(REST with wrk or gRPC), and meanwhile

- samples every Python process of the server's tree with ``py-spy record --subprocesses
  --nonblocking`` (``--format raw``: collapsed stacks; idle threads are left out), and
- reads each process's CPU time (``/proc/<pid>/stat``) before and after the load.

It prints (and writes as JSON under ``--out``) the CPU seconds per process group, the
busiest leaf frames and the share of samples per category (``CATEGORIES``: the first
matching frame from the leaf up decides). Used for ``benchmarks/results/profile.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import loadgen, payloads, procs, scenarios, servers

# (category, substrings of a frame's "function (file:line)"), checked leaf first
CATEGORIES = (
    ("drift detector", ("model/drift/", "alibi_detect/")),
    ("forward (torch)", ("(torch/", "(torchvision/", "model/inference.py", "architectures.py")),
    ("batching", ("model/batching/",)),
    ("image decode", ("model/images.py", "PIL/")),
    ("JSON / message codec", ("json", "model/seldon/message", "model/seldon/tensors",
                              "model/fastjson", "google/protobuf", "base64")),
    ("gRPC", ("grpc/", "grpc_")),
    ("HTTP client (graph hops)", ("aiohttp/", "graph/clients/")),
    ("gateway / executor", ("graph/",)),
    ("Seldon wrapper", ("seldon_core/", "flask/", "werkzeug/", "gunicorn/", "prometheus_client")),
    ("Python runtime", ("threading.py", "selectors.py", "asyncio/", "socket", "queue.py",
                        "concurrent/", "logging/")),
)  # fmt: skip


# leaves of threads blocked in a wait (py-spy --nonblocking may still report them)
WAITING = ("Condition.wait (", "Event.wait (", ".select (selectors", "Arbiter.sleep (",
           "_worker (concurrent/futures/thread.py", "_serve (grpc/_server.py", "time.sleep",
           "_flush_loop (", "Connection._recv (", "accept (", "_wait_once (")  # fmt: skip


def categorise(frames: list[str]) -> str:
    if any(w in frames[-1] for w in WAITING):
        return "waiting (blocked thread)"
    for frame in reversed(frames):
        for name, needles in CATEGORIES:
            if any(n in frame for n in needles):
                return name
    return "other"


def parse_raw(text: str) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Collapsed stacks -> samples per process, per leaf frame and per category."""
    per_process: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        n = int(count)
        process = frames[0] if frames[0].startswith("process ") else "process ?"
        per_process[process[:80]] += n
        leaves[frames[-1]] += n
        categories[categorise(frames)] += n
    return per_process, leaves, categories


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cpu_by_process(root: int) -> dict[int, tuple[str, float]]:
    return {p.pid: (p.cmdline, procs.cpu_seconds(p.pid) or 0.0) for p in procs.tree(root)}


def cpu_by_node(target: str, root: int, cpu: dict[int, float]) -> dict[str, float]:
    """CPU seconds per graph node (and the gateway), from the runner's ``nodes.json``."""
    if target != "graph":
        return {}
    from benchmarks import memory

    by_group = memory.groups(root, servers.LOGS / "graph-nodes" / "nodes.json")
    return {name: round(sum(cpu.get(pid, 0.0) for pid in pids), 2)
            for name, pids in by_group.items()}  # fmt: skip


def start_spy(pid: int, raw: Path, rate: int, duration: float) -> subprocess.Popen[str]:
    """``py-spy record`` of ``pid`` and its subprocesses into ``raw`` (collapsed stacks)."""
    exe = shutil.which("py-spy") or str(servers.VENV_BIN / "py-spy")
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--rate", str(rate),
         "--duration", str(int(duration)), "--format", "raw", "-o", str(raw)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip


def drive(case: scenarios.Case, pool: servers.ServerPool, inputs: payloads.Inputs,
          clients: int, duration: float) -> loadgen.LoadResult:  # fmt: skip
    config = scenarios.BenchConfig((case.name,), (clients,), 1, duration, 1.0, Path(), Path())
    return scenarios.Runner(config, inputs, pool)._serve(case, clients, None)


def profile(args: argparse.Namespace) -> dict[str, Any]:
    inputs = payloads.load_inputs(args.artifacts)
    config = scenarios.BenchConfig((args.target,), (args.clients,), 1, args.duration, 1.0,
                                   args.artifacts, args.manifest, log=_log)  # fmt: skip
    payload = {
        "rest": "binData" if args.target == "graph" else "tensor",
        "grpc": "binData" if args.target == "graph" else args.grpc_payload,
    }
    case = scenarios.Case(args.target, args.target, args.transport, payload[args.transport])
    found = scenarios.build_servers({args.target}, config, inputs)
    for s in found:
        s.env.update(args.env)
        if args.workers > 1:
            s.argv += ["--workers", str(args.workers)]
    raw = args.out / f"{args.target}-{args.transport}-{case.payload}-w{args.workers}.raw"
    args.out.mkdir(parents=True, exist_ok=True)
    with servers.ServerPool(found, 300.0, _log) as pool:
        root = pool.servers[args.target].process.pid  # type: ignore[union-attr]
        pool.wait_quiet()
        before = cpu_by_process(root)
        spy = start_spy(root, raw, args.rate, args.duration + 1)
        started = time.monotonic()
        result = drive(case, pool, inputs, args.clients, args.duration)
        elapsed = time.monotonic() - started
        after = cpu_by_process(root)
        spy_err = spy.communicate(timeout=60)[1]
        cpu = {pid: round(after[pid][1] - before.get(pid, ("", 0.0))[1], 2) for pid in after}
        by_node = cpu_by_node(args.target, root, cpu)
    per_process, leaves, categories = parse_raw(raw.read_text() if raw.exists() else "")
    busy = {k: v for k, v in categories.items() if not k.startswith("waiting")}
    total = sum(busy.values()) or 1
    leaves = Counter({f: n for f, n in leaves.items() if not any(w in f for w in WAITING)})
    return {
        "target": args.target, "transport": args.transport, "clients": args.clients,
        "payload": case.payload, "workers": args.workers, "duration_s": args.duration,
        "throughput_rps": round(result.throughput_rps, 1), "p50_ms": round(result.p50_ms, 2),
        "wall_s": round(elapsed, 1), "cpu_s_total": round(sum(cpu.values()), 2),
        "cpu_s_by_process": sorted(([after[p][0][-90:], p, s] for p, s in cpu.items() if s > 0),
                                   key=lambda r: -r[2]),
        "requests": result.requests, "errors": result.errors,
        # CPU over the whole load (warm-up too) / requests at the measured rate over it
        "cpu_ms_per_request": round(
            1000 * sum(cpu.values()) / max(1.0, result.throughput_rps * elapsed), 2),
        "samples": sum(categories.values()),
        "samples_waiting": categories["waiting (blocked thread)"],
        "categories": {k: round(100 * v / total, 1) for k, v in Counter(busy).most_common()},
        "top_leaves": [[f, round(100 * n / total, 1)] for f, n in leaves.most_common(args.top)],
        "cpu_s_by_node": by_node,
        "samples_by_process": per_process.most_common(20), "py_spy_stderr": spy_err[-500:],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("--target", choices=("batched", "graph"), default="batched")
    parser.add_argument("--transport", choices=("rest", "grpc"), default="rest")
    parser.add_argument("--grpc-payload", choices=("tftensor", "tensor"), default="tftensor")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=1, help="Gunicorn workers (batched)")
    parser.add_argument("--rate", type=int, default=50, help="py-spy samples/s")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument(
        "--env",
        type=lambda kv: tuple(kv.split("=", 1)),
        action="append",
        default=[],
        help="KEY=VALUE for the server's environment",
    )
    parser.add_argument("--artifacts", type=Path, default=servers.ROOT / "artifacts")
    parser.add_argument(
        "--manifest", type=Path, default=servers.ROOT / "graph" / "seldondeployment.yaml"
    )
    parser.add_argument("--out", type=Path, default=servers.WORK / "profile")
    args = parser.parse_args(argv)  # fmt: skip
    args.env = dict(args.env)
    doc = profile(args)
    name = f"{args.target}-{args.transport}-{doc['payload']}-c{args.clients}-w{args.workers}.json"
    (args.out / name).write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
