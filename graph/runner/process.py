"""One supervised node process: start, readiness, stop (its whole process group).

Each node runs in its own session (``start_new_session``), so its process group holds the
wrapper's REST (Gunicorn), gRPC and metrics server processes; stopping or cleaning up after
a crash signals the group, which leaves nothing behind even when the main process died
first. Output goes to a per-node log file (appended across restarts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp

from graph.runner.ports import LOOPBACK, port_accepts, port_is_free
from model.errors import Unavailable

log = logging.getLogger(__name__)


class NodeProcess:
    """A ``seldon-core-microservice`` process on fixed loopback ports."""

    def __init__(
        self,
        key: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        ports: tuple[int, int, int],
        log_path: Path,
        cwd: Path | None = None,
    ) -> None:
        self.key = key
        self.argv = list(argv)
        self.env = dict(env)
        self.http_port, self.grpc_port, self.metrics_port = ports
        self.log_path = log_path
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.ready = False
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process else None

    def start(self) -> None:
        """Start the process (in a new session); the node is not ready until polled."""
        self.ready = False
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            out.write(f"\n=== start {self.starts + 1}: {' '.join(self.argv)}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        self.starts += 1
        log.info("started %s (pid %s, REST %s, gRPC %s)", self.key, self.pid,
                 self.http_port, self.grpc_port)  # fmt: skip

    async def probe(self, session: aiohttp.ClientSession, timeout: float = 2.0) -> bool:
        """True when ``/health/status`` answers 200 and the gRPC port accepts."""
        if not self.alive:
            return False
        url = f"http://{LOOPBACK}:{self.http_port}/health/status"
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout)) as reply:
                if reply.status != 200:
                    return False
                await reply.read()
        except (TimeoutError, aiohttp.ClientError, OSError):
            return False
        return await asyncio.to_thread(port_accepts, self.grpc_port)

    async def wait_ready(
        self, session: aiohttp.ClientSession, timeout: float, interval: float = 0.25
    ) -> None:
        """Poll until ready; raise :class:`Unavailable` if it exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise Unavailable(
                    f"node {self.key} exited with code {self.returncode} before it was "
                    f"ready; last log lines:\n{self.tail()}"
                )
            if await self.probe(session):
                self.ready = True
                return
            await asyncio.sleep(interval)
        raise Unavailable(
            f"node {self.key} not ready after {timeout:.0f}s; last log lines:\n{self.tail()}"
        )

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the node's process group; False when the group is gone."""
        if self.process is None:
            return False
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def reap(self) -> None:
        """After the main process died: kill what is left of its group and collect it."""
        self.ready = False
        self.signal_group(signal.SIGKILL)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=1)

    def stop_now(self) -> None:
        """SIGKILL the whole group (synchronous; for atexit and crashes)."""
        self.ready = False
        self.signal_group(signal.SIGKILL)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=2)

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the group, wait up to ``grace`` seconds, then SIGKILL it."""
        self.ready = False
        if self.process is None:
            return
        self.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self._group_alive():
            await asyncio.sleep(0.05)
        self.signal_group(signal.SIGKILL)
        await asyncio.to_thread(self._wait_quietly)

    def _wait_quietly(self) -> None:
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=2)

    def _group_alive(self) -> bool:
        if self.process is None:
            return False
        self.process.poll()  # reap the main process if it exited, so the group can empty
        try:
            os.killpg(self.process.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def ports_free(self) -> bool:
        """True when none of the node's ports is still held (before a restart)."""
        return all(port_is_free(p) for p in (self.http_port, self.grpc_port, self.metrics_port))

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
