"""``seldon-graph serve FILE``: run a SeldonDeployment locally (nodes + gateway)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from graph.gateway.app import GatewaySettings
from graph.gateway.rest import DEFAULT_MAX_BODY
from graph.request_logger import DEFAULT_ENDPOINT, ENDPOINT_ENV


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run every node as a seldon-core-microservice behind a local Seldon gateway",
        description=(
            "Start every node of every predictor as a real `seldon-core-microservice "
            "MODEL_NAME --service-type SERVICE_TYPE` process on free loopback ports (or "
            "in this process with --in-process), wait until all are ready, then serve "
            "Seldon's REST API (/seldon/<namespace>/<name>/api/v1.0/predictions) and gRPC "
            "API (seldon.protos.Seldon) with the manifest's traffic split. Dead nodes are "
            "restarted. SIGINT/SIGTERM drain in-flight requests and stop every process. "
            "--models-dir DIR maps each node's modelUri to DIR/<last path segment> and "
            "rewrites parameters valued /mnt/models (or a path under it) to that directory."
        ),
    )
    parser.add_argument("manifest", type=Path, metavar="FILE", help="SeldonDeployment YAML/JSON")
    _add_gateway_options(parser)
    _add_node_options(parser)
    parser.add_argument("--quiet", action="store_true", help="do not print example requests")
    parser.add_argument(
        "--monitoring", action="store_true",
        help="also start Prometheus (scraping the gateway and every node, with the project's "
        "rules) and Alertmanager on free 127.0.0.1 ports, and print their URLs",
    )  # fmt: skip
    parser.set_defaults(handler=run)


def _add_gateway_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--http-port", type=int, default=8000, help="REST port (default 8000)")
    parser.add_argument("--grpc-port", type=int, default=5001, help="gRPC port (default 5001)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="gateway address (default 127.0.0.1; nodes always "
        "bind 0.0.0.0 in seldon-core 1.17.1 and are reached on 127.0.0.1)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, help="seed of the traffic split (reproducible)")
    parser.add_argument(
        "--drain-grace", type=float, default=10.0, help="seconds to drain on shutdown (10)"
    )
    parser.add_argument(
        "--max-body-mb", type=float, default=DEFAULT_MAX_BODY / 2**20,
        help="largest request body accepted, MiB (32)",
    )  # fmt: skip
    parser.add_argument(
        "--reload-interval", type=float, default=0.5, metavar="SECONDS",
        help="check FILE for new traffic weights this often and apply them live (0.5; 0: off)",
    )  # fmt: skip


def _add_node_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models-dir", type=Path, metavar="DIR",
        help="local directory standing for the models' storage (see above)",
    )  # fmt: skip
    parser.add_argument(
        "--in-process", action="store_true",
        help="build the components inside this process instead of starting node processes",
    )  # fmt: skip
    parser.add_argument(
        "--runtime", choices=("processes", "containers"), default="processes",
        help="processes (default): each node a seldon-core-microservice process here; "
        "containers: each rendered pod a group of containers of the image sharing one "
        "network namespace (Docker, else Podman), the models directory mounted read-only "
        "at /mnt/models",
    )  # fmt: skip
    parser.add_argument(
        "--image", metavar="IMAGE",
        help="--runtime containers: run every node from IMAGE (e.g. localhost/seldon-graph:"
        "0.1.0 as `make image` builds it) instead of the manifest's image",
    )  # fmt: skip
    parser.add_argument("--deployment", metavar="NAME", help="serve only this deployment")
    parser.add_argument(
        "--run-dir", type=Path, metavar="DIR", help="node logs (default: a temp dir)"
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=180.0, help="seconds to wait for nodes (180)"
    )


def run(args: argparse.Namespace) -> int:
    from graph.serve import ServeSettings
    from graph.serve import run as serve

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s"
    )
    gateway = GatewaySettings(
        host=args.host,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        max_body_bytes=int(args.max_body_mb * 2**20),
        seed=args.seed,
        drain_grace=args.drain_grace,
        reload_interval=args.reload_interval,
        # as the operator sets it on the executor; read once, here
        request_logger_endpoint=os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT,
    )
    settings = ServeSettings(
        manifest=args.manifest,
        gateway=gateway,
        models_dir=args.models_dir.resolve() if args.models_dir else None,
        in_process=args.in_process,
        deployment=args.deployment,
        run_dir=args.run_dir,
        ready_timeout=args.ready_timeout,
        show_examples=not args.quiet,
        monitoring=args.monitoring,
        runtime=args.runtime,
        image=args.image,
    )
    if args.in_process and args.runtime != "processes":
        print("seldon-graph serve: --in-process and --runtime containers exclude each other")
        return 2
    return serve(settings)
