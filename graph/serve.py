"""``seldon-graph serve``: run a SeldonDeployment locally, as the cluster would.

Every node of every predictor runs as a real ``seldon-core-microservice`` process, with the
env, image and ``replicas`` the operator renders for its container (graph/runner/rendered.py)
(with ``runtime="containers"``, as a container of the image in its rendered pod:
graph/containers/launcher.py; with ``in_process``, as a component object inside this
process), the gateway serves Seldon's
external REST and gRPC APIs in front of them with the manifest's traffic split, and
SIGINT/SIGTERM stop it cleanly: stop accepting, drain in-flight requests, stop every
child process group, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from graph.deployments import load_deployments
from graph.gateway.app import GatewayApp, GatewaySettings
from graph.gateway.examples import usage
from graph.gateway.metrics import GatewayMetrics
from graph.monitoring.stack import MonitoringStack, start_monitoring
from graph.monitoring.targets import gateway_targets, local_scrape_targets
from graph.runner import children
from graph.runner.inprocess import build_components
from graph.runner.launcher import Launcher, ProcessLauncher
from graph.runner.plan import NodePlan, plan_deployment
from graph.runner.rendered import load_rendered
from graph.runner.supervisor import RunnerSettings, Supervisor
from graph.spec import DeploymentSpec
from model.errors import ConfigError, NotFound

log = logging.getLogger("seldon-graph.serve")
_LIVE: set[Supervisor] = set()  # killed at once on a second signal


@dataclass(frozen=True)
class ServeSettings:
    manifest: Path
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    models_dir: Path | None = None
    in_process: bool = False
    deployment: str | None = None  # serve only this one of the file's deployments
    run_dir: Path | None = None  # node logs; a new temporary directory when None
    ready_timeout: float = 180.0
    stop_grace: float = 5.0
    show_examples: bool = True
    monitoring: bool = False  # also run Prometheus + Alertmanager scraping the graph
    runtime: str = "processes"  # or "containers": each pod as containers of the image
    image: str | None = None  # --runtime containers: every node's image (else the rendered)


def plan(
    deployments: list[DeploymentSpec], models_dir: Path | None, manifest: Path
) -> list[NodePlan]:
    """Every node's plan, its container taken from the operator's rendering of the file."""
    rendered = load_rendered(manifest)
    return [p for d in deployments for p in plan_deployment(d, models_dir, rendered.get(d.name))]


async def serve(
    settings: ServeSettings,
    stop: asyncio.Event,
    on_ready: Callable[[GatewayApp], None] | None = None,
) -> None:
    """Start nodes and gateway, serve until ``stop`` is set, then shut down cleanly."""
    deployments = load_deployments(settings.manifest, settings.deployment)
    plans = plan(deployments, settings.models_dir, settings.manifest)
    metrics = GatewayMetrics()
    run_dir = settings.run_dir or Path(tempfile.mkdtemp(prefix="seldon-graph-"))
    supervisor: Supervisor | None = None
    app: GatewayApp | None = None
    stack: MonitoringStack | None = None
    try:
        if settings.in_process:
            components = await asyncio.to_thread(build_components, plans)
            app = GatewayApp(deployments, settings.gateway, metrics=metrics,
                             manifest=settings.manifest)  # fmt: skip
            app.build_inprocess(components)
        else:
            supervisor = _supervisor(settings, run_dir, plans, metrics)
            if not await _unless_stopped(supervisor.start(), stop):
                return
            app = GatewayApp(
                deployments, settings.gateway, not_ready=supervisor.not_ready, metrics=metrics,
                manifest=settings.manifest,
            )  # fmt: skip
            app.build_remote(supervisor.endpoints)
        await app.start()
        if settings.monitoring:
            stack = await asyncio.to_thread(_monitoring, settings, run_dir, app)
        _announce(settings, deployments, app, stack)
        if on_ready is not None:
            on_ready(app)
        await stop.wait()
        log.info("stopping: draining in-flight requests")
    finally:
        if app is not None:
            await app.stop()
        if supervisor is not None:
            await supervisor.stop()
            _LIVE.discard(supervisor)
        if stack is not None:
            await asyncio.to_thread(stack.stop)


def _monitoring(settings: ServeSettings, run_dir: Path, app: GatewayApp) -> MonitoringStack:
    """Prometheus (scraping the gateway and every node) and Alertmanager, in ``run_dir``."""
    gateway = f"{settings.gateway.host}:{app.http_port}"
    state = run_dir / "nodes.json"  # absent in-process: the gateway alone is scraped
    targets = local_scrape_targets(gateway, state) if state.exists() else gateway_targets(gateway)
    return start_monitoring(targets, run_dir / "monitoring")


def _supervisor(
    settings: ServeSettings, run_dir: Path, plans: list[NodePlan], metrics: GatewayMetrics
) -> Supervisor:
    """The node processes' supervisor (not started), reporting readiness to ``metrics``."""
    runner = RunnerSettings(
        run_dir=run_dir, cwd=Path.cwd(), ready_timeout=settings.ready_timeout,
        stop_grace=settings.stop_grace,
    )  # fmt: skip

    def ready_changed(node: NodePlan, ready: bool) -> None:
        labels = (node.deployment, node.predictor, node.node)
        metrics.node_ready.labels(*labels).set(1 if ready else 0)
        if not ready:  # it died: the supervisor restarts it
            metrics.node_restarts.labels(*labels).inc()

    supervisor = Supervisor(plans, runner, ready_changed, _launcher(settings))
    _LIVE.add(supervisor)
    log.info("starting %d nodes as %s (logs in %s)", len(plans), settings.runtime, run_dir)
    return supervisor


def _launcher(settings: ServeSettings) -> Launcher:
    if settings.runtime == "processes":
        return ProcessLauncher()
    if settings.runtime != "containers":
        raise ConfigError(f"unknown runtime {settings.runtime!r} (processes, containers)")
    # late: the Docker SDK is needed by this runtime only
    from graph.containers.launcher import ContainerLauncher, ContainerSettings

    return ContainerLauncher(
        ContainerSettings(settings.manifest, settings.models_dir, settings.image)
    )


async def _unless_stopped(work: Awaitable[None], stop: asyncio.Event) -> bool:
    """Run ``work`` unless ``stop`` is set first (then cancel it); True when it finished."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        stopped.cancel()
        task.result()  # raises what start raised
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False


def _announce(
    settings: ServeSettings,
    deployments: list[DeploymentSpec],
    app: GatewayApp,
    stack: MonitoringStack | None,
) -> None:
    host = settings.gateway.host
    names = ", ".join(f"{d.namespace}/{d.name}" for d in deployments)
    lines = [f"seldon-graph: serving {names} on http://{host}:{app.http_port}"
             + (f" and grpc {host}:{app.grpc_port}" if app.grpc_port else "")]  # fmt: skip
    if stack is not None:
        lines += [f"seldon-graph: prometheus {stack.prometheus_url}",
                  f"seldon-graph: alertmanager {stack.alertmanager_url}"]  # fmt: skip
    if settings.show_examples:
        lines += ["", usage(deployments[0], host, app.http_port, app.grpc_port,
                            settings.models_dir)]  # fmt: skip
    print("\n".join(lines), flush=True)


def run(settings: ServeSettings) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop, 1 when it could not start."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        signals = 0

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            if signals > 1:  # a second signal: stop waiting for the drain
                log.warning("second signal: stopping now")
                for live in list(_LIVE):
                    live.kill_all()
                children.kill_forked()
                os._exit(130)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await serve(settings, stop)

    children.install()  # a forked child (seldon-core's metrics manager) dies with serve
    try:
        asyncio.run(main())
    except (ConfigError, NotFound) as exc:
        print(f"seldon-graph serve: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"seldon-graph serve: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
