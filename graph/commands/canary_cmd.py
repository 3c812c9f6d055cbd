"""``seldon-graph canary status|set|promote|rollback``: canary rollouts as file edits.

    seldon-graph canary status FILE | --values VALUES
    seldon-graph canary set FILE main=75 canary=25     (or --canary 25)
    seldon-graph canary promote FILE [--keep-canary] [--allow-shadow]
    seldon-graph canary rollback FILE

The edit is validated (CRD schema + admission rules, as ``seldon-graph validate``) before
anything is written; then the file is replaced atomically and only the changed values
differ. ``--apply`` also sends the result to the cluster (set/rollback: a traffic-only
patch; promote: create-or-replace). ``--values`` edits the Helm chart's values file.
Exit status: 0 done, 1 invalid request or result (file unchanged), 2 usage error.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graph.canary import status as canary_status
from graph.canary import values, weights
from graph.canary.files import EditPlan, commit, plan_manifest_edit, seldon_index
from graph.canary.yamlfile import load_file
from graph.commands.apply_cmd import add_cluster_options, cluster_settings, send
from graph.commands.rollout_cmd import register_run
from graph.validation import find_schema, load_schema
from model.errors import ConfigError, SeldonGraphError

USAGE = 2


class UsageError(ConfigError):
    pass


def _common(parser: argparse.ArgumentParser, edits: bool = True) -> None:
    parser.add_argument("file", nargs="?", metavar="FILE", help="the SeldonDeployment manifest")
    parser.add_argument(
        "--values", metavar="PATH", help="operate on a Helm values file instead of a manifest"
    )
    if not edits:
        return
    parser.add_argument("--canary-name", metavar="NAME", help="which predictor is the canary")
    parser.add_argument("--schema", metavar="PATH", help="the CRD schema (as for validate)")
    parser.add_argument("--diff", action="store_true", help="print the change as a diff")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="write nothing; with --apply the cluster runs a server-side dry run",
    )
    parser.add_argument("--apply", action="store_true", help="also send the result to the cluster")
    add_cluster_options(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "canary", help="canary rollouts: show, set, promote or roll back predictor weights"
    )
    sub = parser.add_subparsers(dest="canary_command", metavar="ACTION", required=True)

    status = sub.add_parser("status", help="print predictors, weights, shadow and model versions")
    _common(status, edits=False)
    status.set_defaults(handler=run_status)

    set_ = sub.add_parser("set", help="set weights: NAME=WEIGHT... or --canary N")
    _common(set_)
    set_.add_argument("weights", nargs="*", metavar="NAME=WEIGHT", help="e.g. main=75 canary=25")
    set_.add_argument(
        "--canary",
        type=int,
        metavar="N",
        help="the canary gets N%%, the other live predictor the rest",
    )
    set_.set_defaults(handler=run_edit, action="set")

    promote = sub.add_parser("promote", help="the canary's graph becomes main at 100%%")
    _common(promote)
    promote.add_argument(
        "--keep-canary",
        action="store_true",
        help="keep the canary predictor at 0 instead of removing it",
    )
    promote.add_argument(
        "--allow-shadow", action="store_true", help="allow promoting a shadow predictor"
    )
    promote.set_defaults(handler=run_edit, action="promote")

    rollback = sub.add_parser("rollback", help="canary to 0, its share back to main")
    _common(rollback)
    rollback.set_defaults(handler=run_edit, action="rollback")

    # `canary run`: the metric-gated progressive rollout (graph/commands/rollout_cmd.py)
    register_run(sub)


def _target(args: argparse.Namespace) -> tuple[str, bool]:
    if args.values and args.file and "=" in args.file and hasattr(args, "weights"):
        args.weights.insert(0, args.file)  # `set --values V main=50 ...`: not a FILE
        args.file = None
    if bool(args.file) == bool(args.values):
        raise UsageError("give either FILE or --values PATH")
    return (args.values, True) if args.values else (args.file, False)


def run_status(args: argparse.Namespace) -> int:
    try:
        path, is_values = _target(args)
        loaded = load_file(path)
        if is_values:
            rows = values.status(loaded.documents[0])
        else:
            rows = canary_status.status(loaded.documents[seldon_index(loaded.documents, path)])
    except UsageError as exc:
        print(f"seldon-graph canary: {exc}", file=sys.stderr)
        return USAGE
    except SeldonGraphError as exc:
        print(f"seldon-graph canary: {exc}", file=sys.stderr)
        return 1
    print(canary_status.format_rows(rows))
    return 0


def _requested_weights(args: argparse.Namespace, preds: weights.Predictors) -> dict[str, int]:
    if args.canary is not None and args.weights:
        raise UsageError("give NAME=WEIGHT pairs or --canary N, not both")
    if args.canary is not None:
        return weights.canary_weights(preds, args.canary, args.canary_name)
    if not args.weights:
        raise UsageError("give NAME=WEIGHT pairs (e.g. main=75 canary=25) or --canary N")
    try:
        return weights.parse_weights(args.weights)
    except weights.WeightSyntaxError as exc:
        raise UsageError(str(exc)) from exc


def _manifest_op(args: argparse.Namespace) -> Callable[[Any], Any]:
    if args.action == "set":
        return lambda doc: weights.set_weights(
            doc, _requested_weights(args, weights.predictors_of(doc))
        )
    if args.action == "promote":
        return lambda doc: weights.promote(
            doc, args.canary_name, not args.keep_canary, args.allow_shadow
        )
    return lambda doc: weights.rollback(doc, args.canary_name)


def _values_op(args: argparse.Namespace) -> values.PredictorOp:
    if args.action == "set":
        return lambda preds: values.set_op(_requested_weights(args, preds))(preds)
    if args.action == "promote":
        return values.promote_op(args.canary_name, not args.keep_canary, args.allow_shadow)
    return values.rollback_op(args.canary_name)


def _helm() -> str | None:
    beside = Path(sys.executable).parent / "helm"
    return str(beside) if beside.is_file() else shutil.which("helm")


def _plan(args: argparse.Namespace) -> EditPlan:
    path, is_values = _target(args)
    if is_values and args.apply:
        raise UsageError(
            "--apply with --values: a chart reaches the cluster through helm; run "
            f"`helm upgrade RELEASE CHART -f {path}` after the edit"
        )
    schema_path = find_schema(args.schema)
    schema = load_schema(schema_path) if schema_path else None
    if is_values:
        return values.plan_values_edit(path, _values_op(args), schema, helm=_helm())
    return plan_manifest_edit(path, _manifest_op(args), schema)


def run_edit(args: argparse.Namespace) -> int:
    try:
        plan = _plan(args)
        if args.diff or args.dry_run:
            sys.stdout.write(plan.diff())
        if args.apply:
            print(
                send(
                    plan.document,
                    cluster_settings(args),
                    args.dry_run,
                    traffic_only=args.action != "promote",
                )
            )
        if args.dry_run:
            print(f"{plan.path}: not written (--dry-run)")
        elif commit(plan):
            print(f"{plan.path}: {args.action} done")
        else:
            print(f"{plan.path}: unchanged")
    except UsageError as exc:
        print(f"seldon-graph canary {args.action}: {exc}", file=sys.stderr)
        return USAGE
    except SeldonGraphError as exc:
        print(f"seldon-graph canary {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0
