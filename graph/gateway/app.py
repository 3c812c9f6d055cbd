"""Wire deployments to executors to servers: the gateway as one object to start and stop.

``GatewayApp`` owns what the executors use (one pooled aiohttp session for every REST node
client, one grpc.aio channel per gRPC node, in-process clients and request loggers), the
transport-free :class:`Gateway`, and the REST and gRPC servers. ``stop()`` stops
accepting, lets in-flight requests finish (bounded), then releases everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc
from aiohttp import web

from graph.clients.base import NodeClient, NodeEndpoint, Timeouts
from graph.clients.factory import build_clients, build_inprocess_clients, close_clients
from graph.executor import Executor
from graph.gateway import grpc as grpc_front
from graph.gateway import rest
from graph.gateway.admin import add_admin_routes
from graph.gateway.dispatch import DeploymentRuntime, Gateway, NotReady
from graph.gateway.endpoints import add_seldon_routes
from graph.gateway.metrics import GatewayMetrics
from graph.gateway.node_metrics import instrument
from graph.gateway.nodeinfo import NodeInfo
from graph.gateway.reload import WeightReloader
from graph.gateway.traffic import Mirror, split_for
from graph.request_logger import DEFAULT_ENDPOINT, RequestLogger
from graph.spec import DeploymentSpec, PredictorSpec
from model.errors import ConfigError

Endpoints = Callable[[str, str], Mapping[str, NodeEndpoint]]  # (deployment, predictor)
Clients = Mapping[str, NodeClient]


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    http_port: int = 8000  # 0: any free port (tests)
    grpc_port: int = 5001  # 0: any free port; -1: no gRPC front end
    max_body_bytes: int = rest.DEFAULT_MAX_BODY
    shadow_limit: int = 64
    seed: int | None = None
    drain_grace: float = 10.0
    reload_interval: float = 0.5  # seconds between manifest checks (live weights); 0: off
    request_logger_endpoint: str = DEFAULT_ENDPOINT  # for node loggers without a url
    # SELDON_ENABLE_ROUTING_INJECTION of the executor: meta.routing in replies with a meta
    inject_routing: bool = field(
        default_factory=lambda: bool(os.environ.get("SELDON_ENABLE_ROUTING_INJECTION"))
    )


class GatewayApp:
    """Executors for every predictor of every deployment, behind REST and gRPC."""

    def __init__(
        self,
        deployments: Sequence[DeploymentSpec],
        settings: GatewaySettings,
        *,
        not_ready: NotReady | None = None,
        metrics: GatewayMetrics | None = None,
        manifest: Path | None = None,
    ) -> None:
        if not deployments:
            raise ConfigError("no SeldonDeployment to serve")
        self.deployments = list(deployments)
        self.settings = settings
        self.metrics = metrics or GatewayMetrics()
        self._not_ready = not_ready
        self._manifest = manifest  # watched for new traffic weights (graph.gateway.reload)
        self.reloader: WeightReloader | None = None
        self._rng = random.Random(settings.seed)
        self._session: aiohttp.ClientSession | None = None
        self._clients: list[Mapping[str, NodeClient]] = []
        self._loggers: list[RequestLogger] = []
        self.node_info = NodeInfo()  # the executor's metadata/status routes
        self.gateway: Gateway | None = None
        self._runner: web.AppRunner | None = None
        self._grpc: grpc.aio.Server | None = None
        self.http_port = 0
        self.grpc_port = 0

    # ------------------------------------------------------------------ building
    def _shared_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Seldon's Gunicorn closes a keep-alive connection after 2 s idle
            # (GUNICORN_KEEPALIVE); reusing one it is closing gave rare 503s in a 5-minute
            # soak, so idle pooled connections are dropped after 1 s, before the node does.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None, keepalive_timeout=1.0)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _runtime(
        self,
        deployment: DeploymentSpec,
        clients_for: Callable[[PredictorSpec], tuple[Clients, Clients]],
    ) -> DeploymentRuntime:
        """``clients_for`` gives a predictor's REST and gRPC clients: a request reaches
        every node over its own transport (``executor/cmd/executor/main.go``)."""
        observer = self.metrics.observer(deployment.name, deployment)
        executors: dict[str, Executor] = {}
        for predictor in deployment.predictors:
            rest_clients, grpc_only = clients_for(predictor)
            clients = instrument(rest_clients, predictor.name, observer)
            grpc_clients = (
                clients
                if grpc_only is rest_clients
                else instrument(grpc_only, predictor.name, observer)
            )
            self.node_info.add(deployment.name, predictor.name, clients, observer)
            self._clients.append(clients)
            if grpc_clients is not clients:
                self._clients.append(grpc_clients)
            logger = None
            if any(node.logger is not None for node in predictor.graph.walk()):
                logger = RequestLogger(
                    self._shared_session(),
                    self.metrics,
                    deployment=deployment.name,
                    namespace=deployment.namespace,
                    predictor=predictor.name,
                    source=self._logger_source(),
                    protocol=deployment.protocol,
                    default_url=self.settings.request_logger_endpoint,
                )
                logger.start()
                self._loggers.append(logger)
            executors[predictor.name] = Executor(
                deployment, predictor, clients, observer, logger,
                rng=random.Random(self._rng.random()), grpc_clients=grpc_clients,
                inject_routing=self.settings.inject_routing,
            )  # fmt: skip
        split = split_for(
            [(p.name, p.traffic, p.shadow) for p in deployment.predictors],
            seed=None if self.settings.seed is None else self._rng.randrange(2**32),
        )
        return DeploymentRuntime(deployment, executors, split, Mirror(self.settings.shadow_limit))

    def build_remote(self, endpoints: Endpoints) -> Gateway:
        """Executors over REST/gRPC clients to node processes (inside the event loop)."""

        def runtime(deployment: DeploymentSpec) -> DeploymentRuntime:
            def clients_for(predictor: PredictorSpec) -> tuple[Clients, Clients]:
                timeouts = Timeouts.from_annotations(predictor.executor_annotations)
                where = endpoints(deployment.name, predictor.name)
                session = self._shared_session()
                rest_clients = build_clients(predictor, where, "rest", timeouts, session=session)
                return rest_clients, build_clients(predictor, where, "grpc", timeouts)

            return self._runtime(deployment, clients_for)

        return self._set_gateway([runtime(d) for d in self.deployments])

    def build_inprocess(self, components: Mapping[str, Any]) -> Gateway:
        """Executors over component objects; ``components`` keyed ``dep/predictor/node``."""
        from seldon_core.metrics import SeldonMetrics

        seldon_metrics = SeldonMetrics()  # one metrics manager process for all nodes

        def runtime(deployment: DeploymentSpec) -> DeploymentRuntime:
            def clients_for(predictor: PredictorSpec) -> tuple[Clients, Clients]:
                prefix = f"{deployment.name}/{predictor.name}/"
                mine = {k[len(prefix) :]: v for k, v in components.items() if k.startswith(prefix)}
                clients = build_inprocess_clients(predictor, mine, seldon_metrics=seldon_metrics)
                return clients, clients  # in-process components take either form

            return self._runtime(deployment, clients_for)

        return self._set_gateway([runtime(d) for d in self.deployments])

    def _set_gateway(self, runtimes: list[DeploymentRuntime]) -> Gateway:
        self.gateway = Gateway(runtimes, self.metrics, self._not_ready)
        return self.gateway

    # ----------------------------------------------------------------- lifecycle
    def _logger_source(self) -> str:
        return f"http://{socket.gethostname()}:{self.http_port or self.settings.http_port}/"

    async def start(self) -> None:
        """Start the REST (and gRPC) servers; ``http_port``/``grpc_port`` are the bound ones."""
        if self.gateway is None:
            raise ConfigError("build the gateway (build_remote / build_inprocess) first")
        s = self.settings
        app = rest.create_app(self.gateway, s.max_body_bytes)
        self.reloader = WeightReloader(self.gateway, self._manifest, s.reload_interval)
        add_admin_routes(app, self.reloader)
        add_seldon_routes(app, self.node_info)
        self._runner = web.AppRunner(
            app, shutdown_timeout=s.drain_grace, access_log=None, handle_signals=False
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in s.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((s.host, s.http_port))
        except OSError as exc:
            sock.close()
            await self._runner.cleanup()
            raise ConfigError(f"cannot listen on {s.host}:{s.http_port}: {exc.strerror}") from exc
        site = web.SockSite(self._runner, sock, backlog=1024)
        await site.start()
        self.http_port = int(sock.getsockname()[1])
        for logger in self._loggers:  # Ce-Source names the bound port (executor's -http_port)
            logger.set_source(self._logger_source())
        if s.grpc_port >= 0:
            server, _ = grpc_front.create_server(self.gateway, s.max_body_bytes, self.node_info)
            try:
                host = f"[{s.host}]" if ":" in s.host else s.host
                self.grpc_port = server.add_insecure_port(f"{host}:{s.grpc_port}")
            except RuntimeError as exc:
                await self._runner.cleanup()
                raise ConfigError(f"cannot listen on {s.host}:{s.grpc_port} (gRPC): {exc}") from exc
            if not self.grpc_port:
                await self._runner.cleanup()
                raise ConfigError(f"cannot listen on {s.host}:{s.grpc_port} (gRPC)")
            await server.start()
            self._grpc = server
        self.reloader.start()

    async def stop(self) -> None:
        """Stop accepting, drain in-flight requests (``drain_grace``), release all."""
        grace = self.settings.drain_grace
        if self.reloader is not None:
            await self.reloader.stop()
        if self.gateway is not None:
            self.gateway.draining = True
        stops = []
        if self._grpc is not None:
            stops.append(self._grpc.stop(grace))
        if self._runner is not None:
            stops.append(self._runner.cleanup())
        await asyncio.gather(*stops, return_exceptions=True)
        self._grpc = None
        self._runner = None
        if self.gateway is not None:
            await self.gateway.drain_shadows(min(grace, 2.0))
        for logger in self._loggers:
            await logger.close(drain_timeout=1.0)
        for clients in self._clients:
            with contextlib.suppress(Exception):
                await close_clients(clients)
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.node_info.close()
