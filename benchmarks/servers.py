"""Start and stop the servers under test, on free loopback ports, always stopped.

Each server is a child process in its own process group (``start_new_session``), logging
to ``benchmarks/.work/logs/<name>.log``. ``ServerPool`` starts them all, waits until each
answers a real prediction (weights loaded, warm-up done), and stops every one of them in
its ``__exit__``, whatever happened: SIGTERM to the group, then SIGKILL to the group and
to every descendant seen at start (the graph's nodes run in sessions of their own), and
waits until each has ended.
While one server is measured the pool pauses the others (``ServerPool.focus``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from benchmarks import procs
from graph.runner.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
LOGS = WORK / "logs"
VENV_BIN = Path(sys.executable).parent
_THREAD_ENV = ("GUNICORN_WORKERS", "GUNICORN_THREADS", "GRPC_THREADS", "GRPC_WORKERS")


class ServerError(RuntimeError):
    """A server did not start or did not become ready."""


def rest_probe(url: str, body: bytes, content_type: str = "application/json") -> Callable[[], bool]:
    """True once ``url`` answers ``body`` with HTTP 200."""

    def probe() -> bool:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, OSError):
            return False

    return probe


def grpc_probe(
    target: str, method: str, request: bytes, metadata: Sequence[tuple[str, str]] = ()
) -> Callable[[], bool]:
    """True once ``method`` on ``target`` answers ``request`` with OK."""

    def probe() -> bool:
        import grpc

        with grpc.insecure_channel(target) as channel:
            try:
                channel.unary_unary(method)(request, metadata=tuple(metadata), timeout=10)
            except grpc.RpcError:
                return False
        return True

    return probe


def _descendants(pid: int) -> set[tuple[int, str]]:
    """Every live descendant of ``pid`` as (pid, start time): a pid alone may be reused."""
    found = set()
    for proc in procs.tree(pid)[1:]:
        started = procs.start_time(proc.pid)
        if started is not None:
            found.add((proc.pid, started))
    return found


def _kill_if_same(pid: int, started: str) -> None:
    """SIGKILL ``pid`` only if it is still the process that started at ``started``."""
    if procs.start_time(pid) == started:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@dataclass
class Server:
    """One server process: its command, its ports and how to tell it is ready."""

    name: str
    argv: list[str]
    http_port: int
    grpc_port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    probes: list[Callable[[], bool]] = field(default_factory=list)
    stop_grace_s: float = 20.0
    # Picks ports of its own while starting (the graph runner): start it alone, so two
    # such starts never race for the same free port.
    starts_alone: bool = False
    process: subprocess.Popen[bytes] | None = None
    _seen: set[tuple[int, str]] = field(default_factory=set)

    @property
    def log_path(self) -> Path:
        return LOGS / f"{self.name}.log"

    def start(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in _THREAD_ENV}
        env.update(self.env)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    def wait_ready(self, deadline: float) -> None:
        pending = list(self.probes)
        while pending:
            self._remember_children()
            if self.process is None or self.process.poll() is not None:
                raise ServerError(f"{self.name} exited before it was ready; {self._tail()}")
            if pending[0]():
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                raise ServerError(f"{self.name} was not ready in time; {self._tail()}")
            time.sleep(0.5)
        self._remember_children()

    def signal_all(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the server and every live descendant (the graph's nodes and
        Ray's daemons run in sessions of their own, out of reach of a group signal)."""
        if self.process is None or self.process.poll() is not None:
            return
        children = _descendants(self.process.pid)  # just read: no pid reused since
        self._seen.update(children)
        for pid in [self.process.pid, *(pid for pid, _ in children)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        self.signal_all(signal.SIGCONT)  # a paused process handles SIGTERM only once resumed
        self._remember_children()
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for pid, started in sorted(self._seen):  # anything of ours that outlived its parent
            _kill_if_same(pid, started)
        deadline = time.monotonic() + 10  # SIGKILL is delivered, not yet acted on: wait
        while any(procs.running(*seen) for seen in self._seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.process = None

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the server and its live descendants."""
        if self.process is None:
            return 0.0
        return sum(procs.cpu_seconds(p.pid) or 0.0 for p in procs.tree(self.process.pid))

    def _remember_children(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self._seen.update(_descendants(self.process.pid))

    def _tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            text = ""
        return f"log {self.log_path}:\n{text[-3000:]}"


class ServerPool:
    """Start servers (together, those that start alone one by one), stop all on exit."""

    def __init__(
        self,
        servers: Sequence[Server],
        ready_timeout_s: float = 300.0,
        log: Callable[[str], None] = print,
    ) -> None:
        self.servers = {s.name: s for s in servers}
        self.paused: set[str] = set()
        self.ready_timeout_s = ready_timeout_s
        self.log = log

    def __enter__(self) -> ServerPool:
        try:
            started = time.monotonic()
            together = [s for s in self.servers.values() if not s.starts_alone]
            for server in together:
                server.start()
            for server in together:
                server.wait_ready(started + self.ready_timeout_s)
                self.log(f"{server.name} ready after {time.monotonic() - started:.0f} s")
            for server in self.servers.values():
                if server.starts_alone:
                    started = time.monotonic()
                    server.start()
                    server.wait_ready(started + self.ready_timeout_s)
                    self.log(f"{server.name} ready after {time.monotonic() - started:.0f} s")
        except BaseException:
            self.stop_all()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        """Stop every server, all at once (each waits for its own grace period)."""

        def stop(server: Server) -> None:
            try:
                server.stop()
            except Exception as exc:  # keep stopping the others
                print(f"benchmarks: stopping {server.name} failed: {exc}", file=sys.stderr)

        self.paused.clear()  # each stop resumes its server first
        with ThreadPoolExecutor(max_workers=max(1, len(self.servers))) as pool:
            list(pool.map(stop, self.servers.values()))

    def focus(self, target: str | None) -> None:
        """Pause (SIGSTOP) every server but ``target`` and resume ``target`` if paused.

        Servers idle between their cases are not idle on the CPU: Ray's GCS, raylet and
        Serve controller poll, Triton and TorchServe run their own threads. On a machine
        of two cores that background work would be charged to the server being measured.
        A paused server keeps its memory, its sockets and its warm-up; ``None`` pauses
        them all (the in-process raw forward). ``stop_all`` resumes them first.
        """
        for name, server in self.servers.items():
            if name == target and name in self.paused:
                server.signal_all(signal.SIGCONT)
                self.paused.discard(name)
            elif name != target and name not in self.paused:
                server.signal_all(signal.SIGSTOP)
                self.paused.add(name)

    def wait_quiet(self, max_wait_s: float = 10.0, busy_cores: float = 0.1) -> float:
        """Wait (at most ``max_wait_s``) until the servers use < ``busy_cores`` of CPU.

        Background work left over from the previous run (the drift detector's window
        tests, say) would otherwise be charged to the next measurement. Returns the
        seconds waited.
        """
        start = time.monotonic()
        while True:
            before = self._cpu_seconds()
            time.sleep(0.5)
            used = (self._cpu_seconds() - before) / 0.5
            waited = time.monotonic() - start
            if used < busy_cores or waited >= max_wait_s:
                return waited

    def _cpu_seconds(self) -> float:
        return sum(server.cpu_seconds() for server in self.servers.values())


# ----- the servers of the scenarios -----
def seldon_params(model_uri: Path, **params: object) -> str:
    """Seldon's ``--parameters`` JSON for ``TorchPredictor``."""
    kinds = {bool: "BOOL", int: "INT", float: "FLOAT", str: "STRING"}
    items = [{"name": "model_uri", "type": "STRING", "value": str(model_uri)}]
    for key, value in params.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        items.append({"name": key, "type": kinds[type(value)], "value": text})
    return json.dumps(items)


def seldon_microservice(name: str, model_uri: Path, threads: int, **params: object) -> Server:
    """``seldon-core-microservice model.predictor.TorchPredictor --service-type MODEL``."""
    http, grpc_port, metrics = free_port(), free_port(), free_port()
    argv = [
        str(VENV_BIN / "seldon-core-microservice"), "model.predictor.TorchPredictor",
        "--service-type", "MODEL", "--http-port", str(http), "--grpc-port", str(grpc_port),
        "--metrics-port", str(metrics), "--parameters", seldon_params(model_uri, **params),
    ]  # fmt: skip
    if threads > 1:
        argv += ["--threads", str(threads), "--grpc-threads", str(threads)]
    return Server(name, argv, http, grpc_port)


def mlserver(name: str, mlserver_exe: Path, model_uri: Path) -> Server:
    """MLServer with ``DigitsRuntime``: settings from ``benchmarks/mlserver_runtime``."""
    source = ROOT / "benchmarks" / "mlserver_runtime"
    folder = WORK / "mlserver"
    (folder / "digits").mkdir(parents=True, exist_ok=True)
    http, grpc_port, metrics = free_port(), free_port(), free_port()
    settings = json.loads((source / "settings.json").read_text())
    settings.update(
        host="127.0.0.1", http_port=http, grpc_port=grpc_port, metrics_port=metrics
    )  # fmt: skip
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    model = json.loads((source / "model-settings.json").read_text())
    model["parameters"]["uri"] = str(model_uri.resolve())
    (folder / "digits" / "model-settings.json").write_text(json.dumps(model, indent=2))
    env = {"PYTHONPATH": str(ROOT)}
    return Server(name, [str(mlserver_exe), "start", str(folder)], http, grpc_port, env=env)


def graph(name: str, manifest: Path, models_dir: Path) -> Server:
    """``seldon-graph serve MANIFEST --models-dir DIR`` (every node a real process)."""
    http, grpc_port = free_port(), free_port()
    argv = [
        str(VENV_BIN / "seldon-graph"), "serve", str(manifest), "--models-dir", str(models_dir),
        "--http-port", str(http), "--grpc-port", str(grpc_port), "--seed", "0", "--quiet",
        "--drain-grace", "2", "--run-dir", str(LOGS / f"{name}-nodes"),
    ]  # fmt: skip
    return Server(name, argv, http, grpc_port, stop_grace_s=40.0, starts_alone=True)
