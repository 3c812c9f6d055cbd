"""``python -m scripts.kube_apiserver build [--force]`` builds (or finds) the binary,
installs what ``start`` needs (etcd, openssl) and prints the binary's path; ``... start``
runs etcd + kube-apiserver with the SeldonDeployment CRD, prints the kubeconfig to use and
stops both on Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from .build import binary_path, build
from .cluster import RUNTIME_PACKAGES, start
from .crd import default_schema
from .debian import ensure_packages
from .errors import ClusterError

REPO_ROOT = Path(__file__).resolve().parents[2]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.kube_apiserver", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build kube-apiserver once (cached by version)")
    build_cmd.add_argument("--force", action="store_true", help="rebuild even when cached")
    sub.add_parser("path", help="print where the binary is cached (built or not)")
    start_cmd = sub.add_parser("start", help="run etcd + kube-apiserver until interrupted")
    start_cmd.add_argument(
        "--schema",
        type=Path,
        default=default_schema(REPO_ROOT),
        help="the SeldonDeployment openAPIV3Schema (default: %(default)s)",
    )
    start_cmd.add_argument("--no-crd", action="store_true", help="do not install the CRD")
    return parser


def _serve(args: argparse.Namespace) -> None:
    started = time.monotonic()
    cluster = start(schema=None if args.no_crd else args.schema)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        print(f"kube-apiserver ready at {cluster.url} in {time.monotonic() - started:.1f} s")
        print(f"export KUBECONFIG={cluster.kubeconfig}", flush=True)
        stop.wait()
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            binary = build(force=args.force)
            ensure_packages(RUNTIME_PACKAGES)
            print(binary)
        elif args.command == "path":
            print(binary_path())
        else:
            _serve(args)
    except ClusterError as exc:
        print(f"kube_apiserver: {exc}", file=sys.stderr)
        return 1
    return 0
