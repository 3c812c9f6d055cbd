"""Start a real Prometheus and Alertmanager on loopback, wait until ready, stop them.

Both are the plain Debian binaries (``make monitoring-tools``), never system services:
each listens on ``127.0.0.1`` and a free port, keeps its data under the run directory,
and is stopped by its PID (SIGTERM, then SIGKILL). Alertmanager runs with
``--cluster.listen-address=`` (empty), so it opens no gossip port.

``start_monitoring(targets, run_dir)`` is what ``seldon-graph serve --monitoring`` calls;
``monitoring_stack(targets)`` is the same as a context manager over a temporary directory.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from graph.monitoring.config import (
    MonitoringSettings,
    ScrapeTarget,
    alertmanager_config,
    prometheus_config,
)
from graph.monitoring.query import PrometheusClient
from graph.runner.ports import LOOPBACK, free_ports
from model.errors import ConfigError, Unavailable

# Debian names the Alertmanager binary prometheus-alertmanager; upstream, alertmanager.
ALERTMANAGER_NAMES = ("prometheus-alertmanager", "alertmanager")
STOP_TIMEOUT_S = 10.0
_START_TRIES = 3  # a free port can be taken between the check and the bind


def find_binary(*names: str) -> str:
    """The first of ``names`` on PATH."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError(f"{' or '.join(names)} not found on PATH: run `make monitoring-tools`")


@dataclass
class MonitoringStack:
    """A running Prometheus and Alertmanager; ``stop()`` ends both (idempotent)."""

    prometheus_url: str
    alertmanager_url: str
    run_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.processes.items()}

    def stop(self) -> None:
        # Prometheus first: it would otherwise keep posting to a stopped Alertmanager.
        for name in ("prometheus", "alertmanager"):
            proc = self.processes.pop(name, None)
            if proc is not None:
                _stop(proc)

    def __enter__(self) -> MonitoringStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT_S)


def _log_tail(path: Path, chars: int = 2000) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-chars:]
    return ""


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float) -> None:
    """Poll ``url/-/ready`` until it answers 200; fail when the process exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unavailable(f"{log.stem} exited ({proc.returncode}):\n{_log_tail(log)}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise Unavailable(f"{log.stem} not ready at {url} after {timeout_s:.0f}s:\n{_log_tail(log)}")


def _launch(
    name: str, argv: list[str], run_dir: Path, timeout_s: float
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``argv`` (``{port}`` filled with a free port) until it is ready; its URL."""
    log = run_dir / f"{name}.log"
    error: Unavailable | None = None
    for _ in range(_START_TRIES):
        port = free_ports(1)[0]
        args = [arg.replace("{port}", str(port)) for arg in argv]
        with log.open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=run_dir)
        url = f"http://{LOOPBACK}:{port}"
        try:
            _wait_ready(proc, url, log, timeout_s)
            return proc, url
        except Unavailable as exc:
            _stop(proc)
            error = exc
            if "address already in use" not in str(exc):
                break
    assert error is not None
    raise error


def _start_alertmanager(
    run_dir: Path, settings: MonitoringSettings
) -> tuple[subprocess.Popen[bytes], str]:
    config = run_dir / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(settings), sort_keys=False))
    argv = [
        find_binary(*ALERTMANAGER_NAMES),
        f"--config.file={config}",
        f"--storage.path={run_dir / 'alertmanager-data'}",
        f"--web.listen-address={LOOPBACK}:{{port}}",
        "--cluster.listen-address=",
    ]
    return _launch("alertmanager", argv, run_dir, settings.startup_timeout_s)


def _start_prometheus(
    run_dir: Path, targets: Sequence[ScrapeTarget], settings: MonitoringSettings, am: str
) -> tuple[subprocess.Popen[bytes], str]:
    config = run_dir / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(targets, settings, am), sort_keys=False))
    argv = [
        find_binary("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={run_dir / 'prometheus-data'}",
        f"--storage.tsdb.retention.time={settings.retention}",
        f"--web.listen-address={LOOPBACK}:{{port}}",
    ]
    return _launch("prometheus", argv, run_dir, settings.startup_timeout_s)


def start_monitoring(
    targets: Sequence[ScrapeTarget],
    run_dir: Path,
    settings: MonitoringSettings | None = None,
) -> MonitoringStack:
    """Start Alertmanager, then Prometheus scraping ``targets``, with their files in
    ``run_dir``; return once both answer ``/-/ready`` (and, with
    ``settings.wait_for_targets``, Prometheus lists every target). The caller calls ``stop()``."""
    settings = settings or MonitoringSettings()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    am_proc, am_url = _start_alertmanager(run_dir, settings)
    stack = MonitoringStack("", am_url, run_dir, {"alertmanager": am_proc})
    try:
        am_hostport = am_url.split("://", 1)[1]
        prom_proc, stack.prometheus_url = _start_prometheus(run_dir, targets, settings, am_hostport)
        stack.processes["prometheus"] = prom_proc
        if settings.wait_for_targets:
            _wait_targets(stack.prometheus_url, targets, settings.startup_timeout_s)
    except BaseException:
        stack.stop()
        raise
    return stack


def _wait_targets(url: str, targets: Sequence[ScrapeTarget], timeout_s: float) -> None:
    """Wait until Prometheus lists every scrape target (service discovery is async)."""
    expected = sum(len(target.targets) for target in targets)
    client = PrometheusClient(url)
    deadline = time.monotonic() + timeout_s
    while len(client.targets()) < expected:
        if time.monotonic() > deadline:
            raise Unavailable(f"Prometheus at {url} lists fewer than {expected} targets")
        time.sleep(0.1)


@contextlib.contextmanager
def monitoring_stack(
    targets: Sequence[ScrapeTarget], settings: MonitoringSettings | None = None
) -> Iterator[MonitoringStack]:
    """:func:`start_monitoring` in a temporary directory, stopped and removed on exit."""
    with tempfile.TemporaryDirectory(prefix="seldon-graph-monitoring-") as tmp:
        stack = start_monitoring(targets, Path(tmp), settings)
        try:
            yield stack
        finally:
            stack.stop()
