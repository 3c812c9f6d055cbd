"""``seldon-graph validate FILE... [--schema PATH]``: check SeldonDeployment manifests.

Exit status: 0 when every file is valid (warnings allowed), 1 when any has findings (or,
with ``--strict``, warnings), 2 when a file or the schema cannot be read (and on usage
errors, from argparse).
"""

from __future__ import annotations

import argparse
import sys

from graph.validation import SKIPPED_NOTE, STDIN, find_schema, validate_files
from model.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check SeldonDeployment manifests against the CRD schema and the operator's rules",
        description=(
            "Check SeldonDeployment manifests (YAML or JSON, several documents per file) "
            "against the CRD's openAPIV3Schema and the Seldon Core v1 operator's admission "
            "rules. Prints 'FILE[:doc N]: YAML.PATH: message' per problem, "
            "'FILE[:doc N]: YAML.PATH: warning: message' per warning (this project's "
            "rules, stricter than the operator's), 'FILE: valid' otherwise. Other core "
            "Kubernetes kinds are checked against the Kubernetes 1.28 schemas, the rest "
            "skipped. Exit 0 when all are valid, 1 otherwise, 2 when a file is unreadable."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help=f"manifest files ({STDIN}: stdin)")
    parser.add_argument(
        "--schema",
        metavar="PATH",
        help="the CRD schema as JSON (default: ../shared/seldon/seldondeployment-v1.schema.json "
        "beside the repository or the current directory; schema checks are skipped if absent)",
    )
    parser.add_argument(
        "--prepackaged-server",
        dest="servers",
        action="append",
        default=[],
        metavar="NAME",
        help="an extra prepackaged server your cluster's seldon-config defines (repeatable)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail on warnings too (exit 1): the rules stricter than the operator's",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        schema_path = find_schema(args.schema)
        stdin = sys.stdin.read() if STDIN in args.files else ""
        report = validate_files(args.files, schema_path, stdin, args.servers, args.strict)
    except ConfigError as exc:
        print(f"seldon-graph validate: {exc}", file=sys.stderr)
        return 2
    if schema_path is None:
        print(f"note: {SKIPPED_NOTE}", file=sys.stderr)
    for line in report.lines():
        print(line)
    for error in report.errors():
        print(f"seldon-graph validate: {error}", file=sys.stderr)
    return report.exit_code
