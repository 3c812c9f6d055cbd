"""``seldon-graph serve --runtime containers``: the supervisor's launcher that runs each
node copy as a container of the project's image, one pod per rendered Deployment and
replica (``graph.containers.pods``), through the Docker API of dockerd or of a Podman
service started for the run (``graph.containers.engine``, with the project's
containers.conf).

Everything it starts carries the label ``seldon-graph/serve=<run id>`` and is removed on
``close`` (also after a failed start and from the supervisor's ``kill_all``, the
second-signal and ``atexit`` path): node containers first, then the infra containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

import docker

from graph.containers import engine as engines
from graph.containers.node import ENGINE_ERRORS, INFRA_LABEL, ContainerNode, RunningPod
from graph.containers.pods import OWNER_LABEL, RUNTIME_LABEL, SERVE_LABEL, PodPlan, pod_plans
from graph.containers.state import StateWatch
from graph.runner.launcher import NodeHandle, RunnerSettings, log_path
from graph.runner.plan import NodePlan
from graph.runner.ports import free_ports
from graph.runner.rendered import load_rendered
from model.errors import ConfigError

log = logging.getLogger(__name__)
START_CALL_TIMEOUT = 60.0  # an engine call of a start in flight, at most (create, start)


@dataclass(frozen=True)
class ContainerSettings:
    manifest: Path
    models_dir: Path | None = None
    image: str | None = None  # every node container's image; the rendered one when None
    gpus: bool = False  # pass nvidia.com/gpu limits on as GPU device requests


class ContainerLauncher:
    def __init__(self, settings: ContainerSettings) -> None:
        self.settings = settings
        self.run_id = secrets.token_hex(4)
        self.label = f"{SERVE_LABEL}={self.run_id}"
        self._stack = contextlib.ExitStack()
        self._engine: engines.Engine | None = None
        self._watch: StateWatch | None = None
        self._pods: list[RunningPod] = []
        self._nodes: list[ContainerNode] = []

    @property
    def engine(self) -> engines.Engine | None:
        return self._engine

    def handles(self, plans: list[NodePlan], settings: RunnerSettings) -> list[NodeHandle]:
        pods = pod_plans(
            plans, load_rendered(self.settings.manifest), self.settings.models_dir,
            self.settings.image, self.run_id, owner(),
        )  # fmt: skip
        try:
            self._engine = self._stack.enter_context(engines.connect())
            remove_orphans(self._engine)
            log.info("container engine: %s %s; this run's containers are labelled %s",
                     self._engine.name, self._engine.version, self.label)  # fmt: skip
            self._check_images(pods)
            self._watch = StateWatch(self._engine.client, self.label)
            self._watch.start()
            return self._handles(pods, plans, settings)
        except BaseException:
            self.close_now()
            raise

    def _check_images(self, pods: list[PodPlan]) -> None:
        assert self._engine is not None
        for image in sorted({c.run.image for pod in pods for c in pod.containers}):
            try:
                self._engine.client.images.get(image)
            except docker.errors.ImageNotFound:
                raise ConfigError(
                    f"image {image} is not in the engine's store: build it (`make image` "
                    "tags seldon-graph:0.1.0) and pass --image, e.g. "
                    "--image localhost/seldon-graph:0.1.0"
                ) from None

    def _handles(
        self, pods: list[PodPlan], plans: list[NodePlan], settings: RunnerSettings
    ) -> list[NodeHandle]:
        assert self._engine is not None and self._watch is not None
        by_key: dict[str, NodeHandle] = {}
        plan_by_key = {plan.key: plan for plan in plans}
        ports = iter(free_ports(3 * sum(len(pod.containers) for pod in pods)))
        for pod in pods:
            host_ports = {c.name: (next(ports), next(ports), next(ports)) for c in pod.containers}
            running = RunningPod(self._engine, pod, host_ports)
            self._pods.append(running)
            for c in pod.containers:
                path = log_path(settings, plan_by_key[c.key])
                node = ContainerNode(running, c, self._watch, path, self.settings.gpus)
                self._nodes.append(node)
                by_key[c.key] = node
        return [by_key[plan.key] for plan in plans]

    async def close(self) -> None:
        await asyncio.to_thread(self.close_now)

    def close_now(self) -> None:
        """Remove every container of this run (nodes, then infra) and let the engine go."""
        for pod in self._pods:
            pod.closed = True
        for node in self._nodes:  # a container being created now is removed too
            node.join_start(START_CALL_TIMEOUT)
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        if self._engine is not None:
            removed = remove_run(self._engine, self.label)
            log.info("removed %d containers of run %s", removed, self.run_id)
        self._engine = None
        self._stack.close()


def remove_run(engine: engines.Engine, label: str) -> int:
    """Force-remove the containers labelled ``label``, the infra containers last."""
    client = engine.client
    with contextlib.suppress(*ENGINE_ERRORS):
        listed = client.api.containers(all=True, filters={"label": label})
        ordered = sorted(listed, key=lambda c: (c.get("Labels") or {}).get(INFRA_LABEL, ""))
        for item in ordered:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                client.api.remove_container(item["Id"], force=True)
        return len(ordered)
    return 0


def owner() -> str:
    """``<host name>:<pid>`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphans(engine: engines.Engine) -> int:
    """Remove the runs of ``serve`` processes of this host that died without removing
    their containers (``kill -9``); how many containers."""
    host = socket.gethostname()
    with contextlib.suppress(*ENGINE_ERRORS):
        listed = engine.client.api.containers(
            all=True, filters={"label": f"{RUNTIME_LABEL}=containers"}
        )
        dead = set()
        for item in listed:
            labels = item.get("Labels") or {}
            name, _, pid = str(labels.get(OWNER_LABEL, "")).rpartition(":")
            if name == host and pid.isdigit() and not _alive(int(pid)):
                dead.add(labels[SERVE_LABEL])
        removed = sum(remove_run(engine, f"{SERVE_LABEL}={run}") for run in sorted(dead))
        if removed:
            log.warning("removed %d containers left by %d killed serve runs", removed, len(dead))
        return removed
    return 0
