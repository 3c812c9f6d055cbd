"""What the supervisor runs each planned node as: the seam between ``Supervisor`` (start,
readiness, restarts with back-off, stop) and how a node is started.

A :class:`NodeHandle` is one copy of one node on fixed loopback ports;
:class:`ProcessLauncher` makes them ``seldon-core-microservice`` processes of this machine
(``graph.runner.process``); ``graph.containers.launcher.ContainerLauncher`` makes them
containers of the project's image, grouped in pods as the operator renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiohttp

from graph.runner.launch import command, environment, microservice_executable, thread_share
from graph.runner.plan import NodePlan
from graph.runner.ports import free_ports
from graph.runner.process import NodeProcess


@dataclass(frozen=True)
class RunnerSettings:
    run_dir: Path
    executable: str = ""  # seldon-core-microservice; found next to this Python when empty
    cwd: Path | None = None
    ready_timeout: float = 180.0
    stop_grace: float = 5.0
    backoff_start: float = 0.5
    backoff_cap: float = 10.0
    stable_after: float = 30.0
    poll_interval: float = 0.2
    threads_per_node: int | None = None  # OMP_NUM_THREADS cap; None: a share of the CPUs


class NodeHandle(Protocol):
    """One running copy of a node, as the supervisor drives it."""

    key: str
    http_port: int
    grpc_port: int
    metrics_port: int
    log_path: Path
    ready: bool

    @property
    def pid(self) -> int | None: ...
    @property
    def alive(self) -> bool: ...
    @property
    def returncode(self) -> int | None: ...

    def start(self) -> None: ...
    async def wait_ready(self, session: aiohttp.ClientSession, timeout: float) -> None: ...
    def reap(self) -> None: ...
    def stop_now(self) -> None: ...
    async def stop(self, grace: float = 5.0) -> None: ...
    def ports_free(self) -> bool: ...


class Launcher(Protocol):
    """Makes the handles of all planned copies and releases what they share."""

    def handles(self, plans: list[NodePlan], settings: RunnerSettings) -> list[NodeHandle]: ...
    async def close(self) -> None: ...
    def close_now(self) -> None: ...


def log_path(settings: RunnerSettings, plan: NodePlan) -> Path:
    return settings.run_dir / f"{plan.key.replace('/', '.')}.log"


class ProcessLauncher:
    """Each copy a ``seldon-core-microservice`` process on three free loopback ports, with
    ``OMP_NUM_THREADS`` a share of this machine's CPUs (``launch.thread_share``)."""

    def handles(self, plans: list[NodePlan], settings: RunnerSettings) -> list[NodeHandle]:
        executable = settings.executable or microservice_executable()
        ports = free_ports(3 * len(plans))
        threads = settings.threads_per_node or thread_share(len(plans))
        out: list[NodeHandle] = []
        for i, plan in enumerate(plans):
            node_ports = (ports[3 * i], ports[3 * i + 1], ports[3 * i + 2])
            out.append(
                NodeProcess(
                    plan.key,
                    command(plan, executable, node_ports),
                    environment(plan, node_ports, cwd=settings.cwd or Path.cwd(), threads=threads),
                    node_ports,
                    log_path(settings, plan),
                    settings.cwd,
                )
            )
        return out

    async def close(self) -> None:
        """Nothing shared between processes."""

    def close_now(self) -> None:
        """Nothing shared between processes."""
