"""``seldon-graph apply FILE [--dry-run] [--traffic-only] [--context C] [--namespace N]
[--kubeconfig P]``: validate a manifest and send it to the cluster.

Exit status: 0 on success, 1 when the manifest is invalid or the cluster refuses or
cannot be reached, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from graph.canary.files import read_deployment
from graph.k8s.client import ClusterSettings
from graph.validation import SKIPPED_NOTE, find_schema, load_schema
from model.errors import SeldonGraphError


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cluster")
    group.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig file (default: "
        "$KUBECONFIG or ~/.kube/config, else the in-cluster service account)",
    )
    group.add_argument("--context", metavar="NAME", help="kubeconfig context (default: current)")
    group.add_argument(
        "--namespace",
        "-n",
        metavar="NS",
        help="namespace (default: "
        "metadata.namespace, else the context's namespace, else 'default')",
    )


def cluster_settings(args: argparse.Namespace) -> ClusterSettings:
    return ClusterSettings(
        kubeconfig=args.kubeconfig, context=args.context, namespace=args.namespace
    )


def send(doc: dict[str, Any], settings: ClusterSettings, dry_run: bool, traffic_only: bool) -> str:
    """Connect, pick the namespace and apply (or patch the traffic of) ``doc``."""
    from graph.k8s.apply import Cluster, apply_deployment, patch_traffic  # the client is slow
    from graph.k8s.client import connect, pick_namespace  # to import: only when sending

    connection = connect(settings)
    namespace = pick_namespace(
        settings, (doc.get("metadata") or {}).get("namespace"), connection.context_namespace
    )
    cluster = Cluster(connection.api, settings.request_timeout)
    try:
        operation = patch_traffic if traffic_only else apply_deployment
        result = operation(doc, cluster, namespace, dry_run=dry_run)
    finally:
        connection.api.close()
    return result.summary()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "apply",
        help="validate a SeldonDeployment and create or update it in the cluster",
        description=(
            "Validate FILE (CRD schema + admission rules), then create or replace the "
            "SeldonDeployment in the cluster; --traffic-only patches only the predictors' "
            "traffic of the live object (JSON patch guarded by its resourceVersion)."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the SeldonDeployment manifest")
    parser.add_argument("--dry-run", action="store_true", help="server-side dry run (dryRun=All)")
    parser.add_argument(
        "--traffic-only", action="store_true", help="change only the live traffic weights"
    )
    parser.add_argument("--schema", metavar="PATH", help="the CRD schema (as for validate)")
    add_cluster_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        schema_path = find_schema(args.schema)
        if schema_path is None:
            print(f"note: {SKIPPED_NOTE}", file=sys.stderr)
        schema = load_schema(schema_path) if schema_path else None
        doc = read_deployment(args.file, schema)
        print(send(doc, cluster_settings(args), args.dry_run, args.traffic_only))
    except SeldonGraphError as exc:
        print(f"seldon-graph apply: {exc}", file=sys.stderr)
        return 1
    return 0
