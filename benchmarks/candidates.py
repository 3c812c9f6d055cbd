"""``python -m benchmarks.candidates``: before/after of the issue's candidates, in one run.

Both sides of each candidate run side by side, in alternating rounds (order rotating), on
the same machine at the same time, so drift hits both alike:

- ``workers``: the batched classifier with 1 Gunicorn worker and 1 gRPC worker (as the
  manifest) against 2 of each, a batcher in each process (REST ``tensor`` and gRPC
  ``tftensor``);
- ``tftensor``: gRPC requests to the batched classifier as ``data.tensor`` (repeated
  doubles) against ``data.tftensor`` (``tensor_content`` bytes);
- ``OMP_NUM_THREADS=1``: torch on one intra-op thread, the other core left to Seldon's
  wrapper, against torch's default of one per usable CPU (the manifest sets the variable
  from the container's ``limits.cpu``, the local runner from a share of the machine).

Servers not being measured are paused (``ServerPool.focus``).

Each row also carries the server tree's CPU seconds per request (``/proc``), which busy
neighbours distort less than throughput. Prints a Markdown table; ``--json`` keeps rows.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks import payloads, report, scenarios, servers

CASES = (
    scenarios.Case("workers=1", "batched", "rest", "tensor"),
    scenarios.Case("workers=2", "batched_w2", "rest", "tensor"),
    scenarios.Case("workers=1", "batched", "grpc", "tftensor"),
    scenarios.Case("workers=2", "batched_w2", "grpc", "tftensor"),
    scenarios.Case("grpc payload", "batched", "grpc", "tensor"),
    scenarios.Case("OMP_NUM_THREADS=1", "batched_t1", "rest", "tensor"),
    scenarios.Case("OMP_NUM_THREADS=1", "batched_t1", "grpc", "tftensor"),
)


def build(config: scenarios.BenchConfig, inputs: payloads.Inputs) -> list[servers.Server]:
    v1 = (config.artifacts / "v1").resolve()
    one = scenarios.batched_server("batched", v1, inputs)
    two = scenarios.batched_server("batched_w2", v1, inputs)
    two.argv += ["--workers", "2", "--grpc-workers", "2"]
    one_thread = scenarios.batched_server("batched_t1", v1, inputs)
    one_thread.env["OMP_NUM_THREADS"] = "1"
    return [one, two, one_thread]


def run(config: scenarios.BenchConfig) -> list[dict[str, Any]]:
    inputs = payloads.load_inputs(config.artifacts)
    rows = []
    with servers.ServerPool(build(config, inputs), config.ready_timeout_s, config.log) as pool:
        runner = scenarios.Runner(config, inputs, pool)
        for round_index, clients in itertools.product(range(config.rounds), config.levels):
            shift = round_index % len(CASES)
            for case in CASES[shift:] + CASES[:shift]:
                pool.focus(case.target)
                pool.wait_quiet()
                server = pool.servers[case.target]
                before = server.cpu_seconds()
                row = runner.measure(case, clients)
                cpu = server.cpu_seconds() - before
                served = row["throughput_rps"] * (config.duration_s + config.warmup_s)
                row.update(round=round_index, cpu_ms_per_request=round(1000 * cpu / served, 2)
                           if served else None)  # fmt: skip
                config.log(f"  round {round_index + 1} c={clients} {case.name} {case.transport} "
                           f"{case.payload}: {row['throughput_rps']}/s, "
                           f"{row['cpu_ms_per_request']} CPU ms/request")  # fmt: skip
                rows.append(row)
    return report.median_rounds(rows)


def markdown(rows: list[dict[str, Any]]) -> str:
    fmt = report._fmt
    lines = [
        "| candidate | transport | payload | clients | req/s (rounds) | p50 ms | p99 ms "
        "| CPU ms/request | errors |",
        "|---|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        rounds = ", ".join(f"{v:.0f}" for v in r["throughput_rps_rounds"])
        lines.append(
            f"| {r['name']} | {r['transport']} | {r['payload']} | {r['concurrency']} "
            f"| {r['throughput_rps']:.1f} ({rounds}) | {fmt(r['p50_ms'], 1)} "
            f"| {fmt(r['p99_ms'], 1)} | {fmt(r['cpu_ms_per_request'])} "
            f"| {r['errors']} |"
        )
    return "\n".join(lines) + "\n"  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.candidates")
    parser.add_argument("--clients", default="32", help="comma-separated client counts (32)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--artifacts", type=Path, default=servers.ROOT / "artifacts")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    levels = tuple(sorted({int(c) for c in args.clients.split(",")}))
    config = scenarios.BenchConfig(
        ("batched",), levels, args.rounds, args.duration, args.warmup, args.artifacts,
        servers.ROOT / "graph" / "seldondeployment.yaml",
        log=lambda line: print(line, file=sys.stderr, flush=True))  # fmt: skip
    rows = run(config)
    print(markdown(rows))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
