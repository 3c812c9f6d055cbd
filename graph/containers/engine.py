"""Run the project's image through the Docker API: dockerd where one answers, else
Podman's Docker-compatible service (``podman system service``), started here on a private
socket with the project's containers.conf and stopped on exit.

``connect()`` yields an :class:`Engine`; :func:`start` runs one :class:`ContainerRun`
(see ``graph.containers.podspec``) with its ports published on 127.0.0.1 only and the model
folder mounted read-only at /mnt/models; :func:`wait_ready`, :func:`stop_seconds` and
:func:`memory` watch it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import requests
from docker.models.containers import Container
from docker.types import DeviceRequest, Mount

from graph.containers.conf import engine_env
from graph.containers.podspec import GRPC_PORT, HTTP_PORT, MODELS_MOUNT, ContainerRun
from graph.runner.ports import free_port
from model.errors import ConfigError

LABEL = "seldon-graph/run"
PR_SET_PDEATHSIG = 1


@dataclass
class Engine:
    client: docker.DockerClient
    name: str  # "docker" or "podman"
    version: str


@dataclass
class Running:
    container: Container
    run: ContainerRun
    http_port: int
    grpc_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def _dockerd() -> docker.DockerClient | None:
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except docker.errors.DockerException:
        return None
    return client


def _engine(client: docker.DockerClient) -> Engine:
    version = client.version()
    components = {c.get("Name"): c.get("Version") for c in version.get("Components") or []}
    name = "podman" if "Podman Engine" in components else "docker"
    return Engine(client, name, str(components.get("Podman Engine") or version["Version"]))


@contextlib.contextmanager
def connect(timeout: float = 60.0) -> Iterator[Engine]:
    """The Docker API of dockerd, or of a Podman service started for the duration."""
    client = _dockerd()
    if client is not None:
        try:
            yield _engine(client)
        finally:
            client.close()
        return
    with tempfile.TemporaryDirectory(prefix="podman-api-") as folder:
        sock = Path(folder) / "podman.sock"
        try:  # its own session: a Ctrl-C in the terminal must leave it to remove the containers
            service = subprocess.Popen(
                ["podman", "system", "service", "--time=0", f"unix://{sock}"],
                env=engine_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except FileNotFoundError:
            raise ConfigError("no Docker daemon answers and podman is not installed") from None
        try:
            client = _wait_for_api(f"unix://{sock}", service, timeout)
            try:
                yield _engine(client)
            finally:
                client.close()
        finally:
            service.terminate()
            try:
                service.wait(timeout=20)
            except subprocess.TimeoutExpired:
                service.kill()
                service.wait()


def _die_with_parent() -> None:
    """In the service's child process: SIGTERM when this process dies (Linux), so a
    killed ``serve`` leaves no service behind."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_for_api(
    base_url: str, service: subprocess.Popen[bytes], timeout: float
) -> docker.DockerClient:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise RuntimeError(f"podman system service exited with {service.returncode}")
        with contextlib.suppress(docker.errors.DockerException, FileNotFoundError):
            client = docker.DockerClient(base_url=base_url, timeout=120)
            client.ping()
            return client
        time.sleep(0.5)
    raise TimeoutError(f"no Docker API on {base_url} after {timeout:.0f} s")


def start(
    engine: Engine,
    run: ContainerRun,
    models_dir: Path,
    image: str | None = None,
    *,
    gpus: bool = False,
) -> Running:
    """Start ``run`` detached, as its pod spec says, on free loopback ports; with
    ``gpus``, the GPUs its limits ask for (``nvidia.com/gpu``) through the engine's GPU
    device requests (NVIDIA container toolkit)."""
    http_port, grpc_port = free_port(), free_port()
    options: dict[str, object] = {
        "detach": True,
        "read_only": run.read_only,
        "cap_drop": list(run.cap_drop),
        "security_opt": ["no-new-privileges"] if run.no_new_privileges else [],
        "tmpfs": dict(run.tmpfs),
        "environment": dict(run.environment),
        "mounts": [Mount(MODELS_MOUNT, str(models_dir), type="bind", read_only=True)],
        "ports": {
            f"{HTTP_PORT}/tcp": ("127.0.0.1", http_port),
            f"{GRPC_PORT}/tcp": ("127.0.0.1", grpc_port),
        },
        "labels": {**run.labels, LABEL: "1"},
    }
    if run.user:
        options["user"] = run.user
    for key in ("nano_cpus", "mem_limit", "mem_reservation"):
        if getattr(run, key) is not None:
            options[key] = getattr(run, key)
    if run.gpus and gpus:
        options["device_requests"] = [DeviceRequest(count=run.gpus, capabilities=[["gpu"]])]
    container = engine.client.containers.run(image or run.image, **options)
    return Running(container, run, http_port, grpc_port)


def wait_ready(running: Running, timeout: float = 300.0) -> None:
    """Poll ``/health/status`` until 200; fail at once, with the logs, if the container exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running.container.reload()
        if running.container.status not in ("created", "running"):
            logs = running.container.logs(tail=60).decode(errors="replace")
            raise RuntimeError(f"{running.run.node} exited ({running.container.status}):\n{logs}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{running.url}/health/status", timeout=5).status_code == 200:
                return
        time.sleep(1.0)
    logs = running.container.logs(tail=60).decode(errors="replace")
    raise TimeoutError(f"{running.run.node} not ready after {timeout:.0f} s:\n{logs}")


def stop_seconds(running: Running, grace: float = 10.0) -> tuple[float, int]:
    """SIGTERM the container as an orchestrator does; (seconds until it exited, exit code).
    Killed with SIGKILL after ``grace`` seconds if it lingers (exit code 137)."""
    started = time.monotonic()
    running.container.kill(signal="SIGTERM")
    try:
        result = running.container.wait(timeout=grace)
    except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout):
        running.container.kill(signal="SIGKILL")
        result = running.container.wait(timeout=30)
    return time.monotonic() - started, int(result["StatusCode"])


def remove(running: Running) -> None:
    with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
        running.container.remove(force=True)


def remove_leftovers(engine: Engine) -> int:
    """Remove every container these helpers started that is still there; how many."""
    leftovers = engine.client.containers.list(all=True, filters={"label": LABEL})
    for container in leftovers:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            container.remove(force=True)
    return len(leftovers)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, queue = [], [pid]
    while queue:
        current = queue.pop()
        out.append(current)
        queue.extend(children.get(current, []))
    return out


def memory(running: Running) -> dict[str, int]:
    """RSS and PSS (bytes) of the container's processes, read from this host's /proc
    (engine on this machine), and the container's cgroup memory usage."""
    running.container.reload()
    totals = {"processes": 0, "rss": 0, "pss": 0}
    for pid in _descendants(int(running.container.attrs["State"]["Pid"])):
        with contextlib.suppress(OSError):
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            fields = dict(line.split(":", 1) for line in rollup.splitlines()[1:])
            totals["rss"] += int(fields["Rss"].split()[0]) * 1024
            totals["pss"] += int(fields["Pss"].split()[0]) * 1024
            totals["processes"] += 1
    stats = running.container.stats(stream=False)
    totals["cgroup_usage"] = int((stats.get("memory_stats") or {}).get("usage") or 0)
    return totals
