"""``seldon-graph canary run``: a progressive canary rollout gated by metrics.

    seldon-graph canary run FILE --steps 10,25,50,100 --interval 60s
        [--error-margin 0.01] [--latency-ratio 1.5] [--min-requests 20] [--max-waits 2]
        [--metrics-url http://127.0.0.1:8000/metrics | --prometheus-url URL]
        [--audit PATH] [--canary-name NAME] [--promote] [--apply [cluster options]]

Each step writes the canary's weight into FILE (validated, atomic, formatting kept; a
local ``seldon-graph serve FILE`` applies it live), with ``--apply`` also patches the
cluster's traffic, then reads both predictors' metrics over ``--interval`` and goes on
only while the canary is healthy (see :mod:`graph.canary.rollout`). Otherwise: canary to
0, main to 100, written (and applied), exit 1. Exit status: 0 all steps healthy (and
promoted with ``--promote``), 1 rolled back or failed, 2 usage error, 130 interrupted
(after rolling back).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from graph.canary.audit import AuditLog
from graph.canary.decision import Thresholds
from graph.canary.rollout import (
    RolloutSettings,
    parse_duration,
    parse_steps,
    run_rollout,
    summary,
)
from graph.canary.sources import GatewaySource, MetricsSource, PrometheusSource
from graph.canary.target import Apply, ManifestTarget
from graph.commands.apply_cmd import add_cluster_options, cluster_settings, send
from graph.validation import find_schema, load_schema
from model.errors import SeldonGraphError

DEFAULT_METRICS_URL = "http://127.0.0.1:8000/metrics"


def register_run(sub: argparse._SubParsersAction) -> None:
    """Add ``run`` to the ``canary`` subcommands."""
    run = sub.add_parser(
        "run",
        help="step the canary's weight up while its metrics stay healthy; else roll back",
        description=__doc__.split("\n\n", 2)[2] if __doc__ else None,
    )
    run.add_argument("file", metavar="FILE", help="the SeldonDeployment manifest")
    run.add_argument("--steps", default="10,25,50,100", help="canary weights (10,25,50,100)")
    run.add_argument("--interval", default="60s", help="time per step, e.g. 60s, 2m (60s)")
    run.add_argument(
        "--error-margin", type=float, default=0.01,
        help="canary error rate may exceed main's by this (0.01)",
    )  # fmt: skip
    run.add_argument(
        "--latency-ratio", type=float, default=1.5, help="canary p99 <= main p99 x this (1.5)"
    )
    run.add_argument(
        "--min-requests", type=int, default=20,
        help="canary requests needed per interval to judge it (20)",
    )  # fmt: skip
    run.add_argument(
        "--max-waits", type=int, default=2,
        help="extra intervals to wait for --min-requests (or for Prometheus to fill the "
        "window) before rolling back (2)",
    )  # fmt: skip
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--metrics-url", help=f"the local gateway's Prometheus text ({DEFAULT_METRICS_URL})"
    )
    where.add_argument(
        "--prometheus-url", help="a Prometheus server (clusters), e.g. http://prom:9090"
    )
    run.add_argument("--audit", metavar="PATH", help="append one JSON line per decision here")
    run.add_argument("--canary-name", metavar="NAME", help="which predictor is the canary")
    run.add_argument(
        "--promote", action="store_true",
        help="after the last step, make the canary's graph main's (canary removed)",
    )  # fmt: skip
    run.add_argument("--schema", metavar="PATH", help="the CRD schema (as for validate)")
    run.add_argument("--apply", action="store_true", help="also send each change to the cluster")
    add_cluster_options(run)
    run.set_defaults(handler=run_canary)


def _apply(args: argparse.Namespace) -> Apply | None:
    if not args.apply:
        return None
    settings = cluster_settings(args)

    def apply(doc: dict[str, Any], traffic_only: bool) -> str:
        return send(doc, settings, False, traffic_only)

    return apply


def run_canary(args: argparse.Namespace) -> int:
    try:
        settings = RolloutSettings(
            steps=parse_steps(args.steps),
            interval_s=parse_duration(args.interval),
            thresholds=Thresholds(
                args.error_margin, args.latency_ratio, args.min_requests, args.max_waits
            ),
            promote=args.promote,
        )
    except SeldonGraphError as exc:
        print(f"seldon-graph canary run: {exc}", file=sys.stderr)
        return 2
    try:
        schema_path = find_schema(args.schema)
        schema = load_schema(schema_path) if schema_path else None
        target = ManifestTarget(args.file, args.canary_name, schema, _apply(args))
        source: MetricsSource
        if args.prometheus_url:
            source = PrometheusSource(args.prometheus_url, target.deployment)
        else:
            source = GatewaySource(args.metrics_url or DEFAULT_METRICS_URL, target.deployment)
        audit = AuditLog(args.audit, target.deployment, on_record=_echo)
    except (SeldonGraphError, OSError) as exc:
        print(f"seldon-graph canary run: {exc}", file=sys.stderr)
        return 1
    print(
        f"rolling out {target.canary!r} over {target.main!r} in {args.file}: steps "
        f"{','.join(map(str, settings.steps))}, {settings.interval_s:g}s each",
        flush=True,
    )
    try:
        outcome = run_rollout(settings, target, source, audit)
    except SeldonGraphError as exc:
        print(f"seldon-graph canary run: {exc}", file=sys.stderr)
        return 1
    print(summary(outcome, audit.records), flush=True)
    if outcome.status == "interrupted":
        return 130
    return 0 if outcome.ok else 1


def _echo(record: dict[str, Any]) -> None:
    event = record["event"]
    shares = ", ".join(f"{k}={v}" for k, v in (record.get("weights") or {}).items())
    if event == "decision":
        print(f"  step {record['step']} ({shares}): {record['verdict']}: {record['reason']}")
    else:
        print(f"  {event} ({shares}){': ' + record['reason'] if record.get('reason') else ''}")
    sys.stdout.flush()
