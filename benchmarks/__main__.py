"""``python -m benchmarks``: the graph against bare Seldon, the peers and the raw model.

Thin CLI: parse arguments, build a ``BenchConfig``, run the scenarios, write the report.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import report, scenarios
from benchmarks.peers import registry as peer_registry
from benchmarks.servers import ROOT


@dataclass(frozen=True)
class Preset:
    levels: tuple[int, ...]
    rounds: int
    duration: float
    warmup: float


# 1 and 32 clients: the levels of every goal (more levels: --concurrency 1,8,32,64)
FULL = Preset(levels=(1, 32), rounds=3, duration=6.0, warmup=2.0)
QUICK = Preset(levels=(1, 32), rounds=1, duration=3.0, warmup=1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Closed-loop benchmarks of the digits graph against bare Seldon, "
        "MLServer, TorchServe, PyTriton, KServe and the raw model (REST and gRPC).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 round, 3 s runs, clients 1 and 32 (under 4 minutes)"
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(scenarios.SCENARIOS),
        help=f"comma-separated subset of {','.join(scenarios.SCENARIOS)}",
    )
    parser.add_argument("--concurrency", help="comma-separated client counts (1,8,32,64)")
    parser.add_argument("--duration", type=float, help="measured seconds per run (8; quick 3)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per run (2; quick 1)")
    parser.add_argument("--rounds", type=int, help="alternating rounds, median reported (3)")
    parser.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="write the JSON report there, and .md and .png beside it",
    )
    parser.add_argument("--artifacts", type=Path, default=ROOT / "artifacts")
    parser.add_argument("--manifest", type=Path, default=ROOT / "graph" / "seldondeployment.yaml")
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for all servers to be ready (300)",
    )
    return parser.parse_args(argv)  # fmt: skip


def config_from(args: argparse.Namespace) -> scenarios.BenchConfig:
    preset = QUICK if args.quick else FULL
    names = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    levels = preset.levels
    if args.concurrency:
        levels = tuple(sorted({int(c) for c in args.concurrency.split(",")}))
    if not levels or min(levels) < 1:
        raise SystemExit("--concurrency needs positive client counts")
    rounds = args.rounds if args.rounds is not None else preset.rounds
    if rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    return scenarios.BenchConfig(
        scenarios=names,
        levels=levels,
        rounds=rounds,
        duration_s=args.duration if args.duration is not None else preset.duration,
        warmup_s=args.warmup if args.warmup is not None else preset.warmup,
        artifacts=args.artifacts,
        manifest=args.manifest,
        ready_timeout_s=args.ready_timeout,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = config_from(args)
    if not (config.artifacts / "v1" / "metadata.json").is_file():
        print(f"no model in {config.artifacts}/v1: run `make train` first", file=sys.stderr)
        return 2
    try:
        scenarios.cases_for(config.scenarios, config.levels, args.quick)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    started = time.monotonic()
    extras: dict[str, Any] = {}
    rows, inputs = scenarios.run(config, args.quick, extras)
    mlserver = peer_registry.MLSERVER.version() if "mlserver" in config.scenarios else None
    settings = {
        "quick": args.quick, "scenarios": list(config.scenarios),
        "concurrency": list(config.levels),
        "rounds": config.rounds, "duration_s": config.duration_s, "warmup_s": config.warmup_s,
        "image": inputs.image_name, "model": "artifacts/v1",
        "wall_s": round(time.monotonic() - started, 1),
        "peers": peer_registry.report_settings(config.scenarios),
    }  # fmt: skip
    doc = report.build(rows, report.machine_info(ROOT, mlserver), settings, **extras)
    text = report.markdown(doc)
    print(text)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(report.to_json(doc))
        args.json.with_suffix(".md").write_text(text)
        from benchmarks import plot

        plot.plot(doc, args.json.with_suffix(".png"))
        print(f"wrote {args.json} and its .md and .png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
