"""``seldon-graph render FILE|-``: print what Seldon Core 1.17.1's operator would create
from each SeldonDeployment, as a YAML stream (like ``helm template``), and check it.

Other documents pass through unchanged (noted on stderr). Findings go to stderr. Exit
status: 0 without errors (warnings allowed), 1 when a check finds an error, 2 when the
file cannot be read or a SeldonDeployment cannot be rendered.
"""

from __future__ import annotations

import argparse
import sys

from graph.manifest import ManifestSyntaxError, UnreadableManifest, load_file, loads
from graph.render.checks import K8S_VERSION
from graph.render.options import INGRESSES, ISTIO, RenderOptions
from graph.render.stream import render_stream

STDIN = "-"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render",
        help="print the Deployments, Services and ingress objects the operator would create",
        description=(
            "Render what the Seldon Core 1.17.1 operator (installed with its Helm chart's "
            "defaults) creates from each SeldonDeployment in FILE ('-': stdin): Services, "
            "HPAs, PDBs, Deployments and Istio or Ambassador objects, as a YAML stream. "
            "Other documents pass through unchanged. The objects are checked against the "
            f"Kubernetes {K8S_VERSION} schemas and the API server's own rules; findings "
            "go to stderr. Exit 0 without errors, 1 with errors, 2 when nothing could "
            "be rendered."
        ),
    )
    parser.add_argument("file", metavar="FILE", help=f"manifest file ({STDIN}: stdin)")
    parser.add_argument(
        "--ingress",
        choices=INGRESSES,
        default=ISTIO,
        help="the operator's ingress: istio (VirtualService, DestinationRules; default), "
        "ambassador (v2 Mappings) or none",
    )
    parser.add_argument("--no-check", action="store_true", help="print only, skip the checks")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.file == STDIN:
            documents = loads(sys.stdin.read(), "<stdin>")
        else:
            documents = load_file(args.file)
    except (UnreadableManifest, ManifestSyntaxError) as exc:
        print(f"seldon-graph render: {exc}", file=sys.stderr)
        return 2
    result = render_stream(documents, RenderOptions(ingress=args.ingress), check=not args.no_check)
    sys.stdout.write(result.yaml())
    for line in result.notes:
        print(f"note: {line}", file=sys.stderr)
    for line in result.findings:
        print(line, file=sys.stderr)
    if result.failed:
        return 2
    return 1 if result.has_errors else 0
