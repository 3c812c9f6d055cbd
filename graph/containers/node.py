"""A pod of the containers runtime (its infra container holds the network namespace and
the published ports) and each node copy in it, driven by the supervisor like a process.

Like a Kubernetes pod's pause container, the infra container (the project's image
running ``sleep infinity`` under its tini, as uid 8888 with a read-only root and no
capabilities) owns the pod's network namespace and publishes every container's REST,
gRPC and metrics port on free 127.0.0.1 ports; the node containers join it
(``network_mode: container:<infra>``, which dockerd and Podman's Docker API both take),
so a restarted container keeps its ports. Engine calls run in threads: starting a
container never blocks the gateway's event loop, and liveness comes from one listing of
the run's containers a ``StateWatch`` refreshes every half second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker
import requests
from docker.models.containers import Container
from docker.types import DeviceRequest, Mount

from graph.containers.engine import Engine
from graph.containers.pods import PodContainer, PodPlan
from graph.containers.state import StateWatch
from graph.runner.ports import LOOPBACK
from graph.runner.process import NodeProcess

log = logging.getLogger(__name__)
INFRA_MEMORY = 64 * 2**20
INFRA_LABEL = "seldon-graph/infra"
# what an engine call raises: the SDK's errors, and the transport's once the engine is gone
ENGINE_ERRORS = (docker.errors.DockerException, requests.RequestException)


class RunningPod:
    """A planned pod on this engine; its infra container is started on first use."""

    def __init__(self, engine: Engine, plan: PodPlan, host_ports: Mapping[str, tuple[int, ...]]):
        self.engine = engine
        self.plan = plan
        self.host_ports = dict(host_ports)  # container name -> (REST, gRPC, metrics) on host
        self.infra: Container | None = None
        self.closed = False  # set when the run's containers are removed: create no more
        self._lock = threading.Lock()

    def _published(self) -> dict[str, tuple[str, int]]:
        out = {}
        for container in self.plan.containers:
            for inside, outside in zip(
                container.ports, self.host_ports[container.name], strict=True
            ):
                out[f"{inside}/tcp"] = (LOOPBACK, outside)
        return out

    def ensure_infra(self) -> Container:
        with self._lock:
            if self.closed:
                raise docker.errors.DockerException(f"pod {self.plan.name} is being removed")
            if self.infra is None:
                labels = {**self.plan.labels, INFRA_LABEL: "1"}
                self.infra = self.engine.client.containers.run(
                    self.plan.image, ["sleep", "infinity"], detach=True, name=self.plan.name,
                    hostname=self.plan.name[:63], labels=labels, ports=self._published(),
                    user=self.plan.user or None, read_only=True, cap_drop=["ALL"],
                    security_opt=["no-new-privileges"], mem_limit=INFRA_MEMORY,
                    healthcheck={"test": ["NONE"]},  # the image's probes a node, not sleep
                )  # fmt: skip
            return self.infra


def _options(pod: RunningPod, spec: PodContainer, gpus: bool) -> dict[str, Any]:
    run = spec.run
    options: dict[str, Any] = {
        "name": spec.name,
        "network_mode": f"container:{pod.ensure_infra().id}",
        "read_only": run.read_only,
        "cap_drop": list(run.cap_drop),
        "security_opt": ["no-new-privileges"] if run.no_new_privileges else [],
        "tmpfs": dict(run.tmpfs),
        "environment": dict(run.environment),
        "mounts": [Mount(at, host, type="bind", read_only=True) for at, host in spec.binds.items()],
        "labels": dict(run.labels),
    }
    if run.user:
        options["user"] = run.user
    if spec.entrypoint:
        options["entrypoint"] = list(spec.entrypoint)
    if spec.args:
        options["command"] = list(spec.args)
    for key in ("nano_cpus", "mem_limit", "mem_reservation"):
        if getattr(run, key) is not None:
            options[key] = getattr(run, key)
    if run.gpus and gpus:
        options["device_requests"] = [DeviceRequest(count=run.gpus, capabilities=[["gpu"]])]
    return options


class ContainerNode(NodeProcess):
    """One node copy as a container of ``pod``: created on its first start, started again
    (same container, same ports) on a restart. Readiness probing is the process's."""

    def __init__(
        self, pod: RunningPod, spec: PodContainer, watch: StateWatch, log_path: Path,
        gpus: bool = False,
    ) -> None:  # fmt: skip
        ports = pod.host_ports[spec.name]
        super().__init__(spec.key, [], spec.run.environment, (ports[0], ports[1], ports[2]),
                         log_path)  # fmt: skip
        self.pod, self.spec, self.watch, self.gpus = pod, spec, watch, gpus
        self.container: Container | None = None
        self._starting = False
        self._started_at = 0.0
        self._error = ""
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return None

    @property
    def alive(self) -> bool:
        if self._starting:
            return True
        if self._error or self.container is None:
            return False
        seen = self.watch.seen(self.container.id)
        if seen is None or seen.at < self._started_at:
            return True  # started, not listed since
        return seen.running

    @property
    def returncode(self) -> int | None:
        if self._error:
            return -1
        seen = self.watch.seen(self.container.id) if self.container else None
        return seen.exit_code if seen is not None and not seen.running else None

    def start(self) -> None:
        """Create (first time) and start the container in a thread; not ready until polled."""
        self.ready, self._starting, self._error = False, True, ""
        self.starts += 1
        self._thread = threading.Thread(target=self._start, name=f"start {self.key}", daemon=True)
        self._thread.start()

    def join_start(self, timeout: float) -> None:
        """Wait for an engine call of ``start`` in flight (before its containers go)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _start(self) -> None:
        try:
            if self.container is None:
                options = _options(self.pod, self.spec, self.gpus)  # raises once closed
                self.container = self.pod.engine.client.containers.create(
                    self.spec.run.image, **options
                )
            self.container.start()
            self._started_at = time.monotonic()
            log.info("started container %s (%s: REST %s, gRPC %s)", self.spec.name, self.key,
                     self.http_port, self.grpc_port)  # fmt: skip
        except ENGINE_ERRORS as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            log.error("container %s did not start: %s", self.spec.name, self._error)
        finally:
            self._starting = False

    def dump_logs(self) -> None:
        """The container's output (every start so far) into ``log_path``."""
        text = self._error.encode()
        if self.container is not None:
            with contextlib.suppress(*ENGINE_ERRORS):
                text = self.container.logs() + text
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_bytes(text)

    def tail(self, lines: int = 30) -> str:
        self.dump_logs()
        return super().tail(lines)

    def reap(self) -> None:
        self.ready = False
        self.dump_logs()

    def stop_now(self) -> None:
        self.ready = False
        if self.container is not None:
            with contextlib.suppress(*ENGINE_ERRORS):
                self.container.kill()

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, SIGKILL after ``grace`` seconds (the engine's stop); logs kept."""
        self.ready = False
        if self.container is None:
            return
        with contextlib.suppress(*ENGINE_ERRORS):
            await asyncio.to_thread(self.container.stop, timeout=max(1, round(grace)))
        await asyncio.to_thread(self.dump_logs)

    def ports_free(self) -> bool:
        return True  # the infra container holds the ports across restarts
