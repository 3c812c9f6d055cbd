"""All node processes of all predictors: start, wait ready, restart dead ones, stop.

One process per copy of each node (``plan.copies``: the operator's ``replicas``). A node
that exits or is not ready during the first start is a ``startup.NodeStartError`` (every
node is stopped, nothing restarted); back-off restarts are for nodes that were ready.

The monitor task checks every node; a node whose process died is marked not ready at
once (so the gateway answers requests routed to it with a fast 503), what is left of its
process group is killed, and it is restarted on the same ports after an exponential
back-off (``backoff_start`` doubling up to ``backoff_cap`` seconds; reset once a node
stayed up ``stable_after`` seconds). Every process is also killed by an ``atexit`` hook,
so a crash of the gateway leaves no child behind.

What a node copy runs as comes from a launcher (``graph/runner/launcher.py``): processes
by default, containers of the image with ``graph.containers.launcher`` (each copy then a
container, "process" below meaning that container).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import aiohttp

from graph.clients.base import NodeEndpoint
from graph.clients.replicas import ReplicatedEndpoint
from graph.runner.launcher import Launcher, NodeHandle, ProcessLauncher, RunnerSettings
from graph.runner.plan import NodePlan, copies
from graph.runner.ports import LOOPBACK
from graph.runner.startup import start_error
from model.errors import Unavailable

log = logging.getLogger(__name__)

ReadyHook = Callable[[NodePlan, bool], None]


@dataclass
class _Node:
    plan: NodePlan
    process: NodeHandle
    backoff: float
    restarts: int = 0
    up_since: float = 0.0


def _forget(tasks: dict[str, asyncio.Task[None]], key: str, _task: object) -> None:
    tasks.pop(key, None)


def _copy_ready(processes: list[NodeHandle], index: int) -> bool:
    return processes[index].ready


class Supervisor:
    """Runs one copy per planned node: a ``seldon-core-microservice`` process, or what
    ``launcher`` makes of it (graph/runner/launcher.py)."""

    def __init__(
        self,
        plans: Iterable[NodePlan],
        settings: RunnerSettings,
        on_ready_change: ReadyHook | None = None,
        launcher: Launcher | None = None,
    ) -> None:
        self.settings = settings
        self._on_ready_change = on_ready_change
        self._launcher: Launcher = launcher or ProcessLauncher()
        settings.run_dir.mkdir(parents=True, exist_ok=True)
        plans = copies(list(plans))  # one copy per replica
        handles = self._launcher.handles(plans, settings)
        self._nodes: dict[str, _Node] = {
            plan.key: _Node(plan, handle, settings.backoff_start)
            for plan, handle in zip(plans, handles, strict=True)
        }
        self._session: aiohttp.ClientSession | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._stopping = False
        atexit.register(self.kill_all)

    # ------------------------------------------------------------------ queries
    def _copies(self, deployment: str, predictor: str) -> dict[str, list[_Node]]:
        """``{node name: its copies, replica 0 first}`` of one predictor."""
        found: dict[str, list[_Node]] = {}
        for n in self._nodes.values():
            if n.plan.deployment == deployment and n.plan.predictor == predictor:
                found.setdefault(n.plan.node, []).append(n)
        return found

    def endpoints(self, deployment: str, predictor: str) -> dict[str, NodeEndpoint]:
        """``{node name: NodeEndpoint}`` of one predictor's processes; a node with several
        copies gets a ``ReplicatedEndpoint`` (graph/clients/replicas.py)."""
        out: dict[str, NodeEndpoint] = {}
        for name, nodes in self._copies(deployment, predictor).items():
            each = tuple(
                NodeEndpoint(LOOPBACK, n.process.http_port, n.process.grpc_port) for n in nodes
            )
            if len(each) == 1:
                out[name] = each[0]
                continue
            ready = functools.partial(_copy_ready, [n.process for n in nodes])
            out[name] = ReplicatedEndpoint(
                LOOPBACK, each[0].http_port, each[0].grpc_port, each, ready
            )
        return out

    def not_ready(self, deployment: str, predictor: str) -> list[str]:
        """Names of the predictor's nodes with no ready copy now."""
        return [
            name
            for name, nodes in self._copies(deployment, predictor).items()
            if not any(n.process.ready for n in nodes)
        ]

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start every node and wait until all are ready; stops them all on failure."""
        self._session = aiohttp.ClientSession()
        try:
            for node in self._nodes.values():
                node.process.start()
            self.write_state()  # pids and logs while the nodes load
            await asyncio.gather(*(self._first_ready(node) for node in self._nodes.values()))
        except BaseException:
            await self.stop()
            raise
        self._monitor = asyncio.create_task(self._watch(), name="node-monitor")

    async def _first_ready(self, node: _Node) -> None:
        """Wait for a node's first start: one that exits or is not ready in time is a
        :class:`~graph.runner.startup.NodeStartError` (no restarts before it was ready)."""
        timeout = self.settings.ready_timeout
        try:
            await self._wait_ready(node, timeout)
        except Unavailable:
            code = node.process.returncode
            reason = (
                f"exited with code {code} before it was ready"
                if code is not None
                else f"not ready after {timeout:.0f}s"
            )
            raise start_error(node.plan, node.process.log_path, reason) from None

    async def _wait_ready(self, node: _Node, timeout: float) -> None:
        assert self._session is not None
        await node.process.wait_ready(self._session, timeout)
        node.up_since = time.monotonic()
        self._notify(node, True)
        self.write_state()

    def write_state(self) -> None:
        """``RUN_DIR/nodes.json``: each node's pid, ports, log, readiness and restarts."""
        state = {
            key: {
                "pid": n.process.pid,
                "http_port": n.process.http_port,
                "grpc_port": n.process.grpc_port,
                "metrics_port": n.process.metrics_port,
                "log": str(n.process.log_path),
                "ready": n.process.ready,
                "restarts": n.restarts,
            }
            for key, n in self._nodes.items()
        }
        path = self.settings.run_dir / "nodes.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)

    def _notify(self, node: _Node, ready: bool) -> None:
        if self._on_ready_change is not None:
            self._on_ready_change(node.plan, ready)

    async def _watch(self) -> None:
        restarting: dict[str, asyncio.Task[None]] = {}
        while not self._stopping:
            now = time.monotonic()
            for key, node in self._nodes.items():
                if key in restarting:
                    continue
                if node.process.alive:
                    if node.up_since and now - node.up_since > self.settings.stable_after:
                        node.backoff = self.settings.backoff_start
                    continue
                log.warning("node %s exited with code %s; restarting in %.1fs", key,
                            node.process.returncode, node.backoff)  # fmt: skip
                node.process.reap()
                self._notify(node, False)
                self.write_state()
                task = asyncio.create_task(self._restart(node), name=f"restart {key}")
                restarting[key] = task
                task.add_done_callback(functools.partial(_forget, restarting, key))
            await asyncio.sleep(self.settings.poll_interval)
        for task in list(restarting.values()):
            task.cancel()

    async def _restart(self, node: _Node) -> None:
        delay = node.backoff
        node.backoff = min(node.backoff * 2, self.settings.backoff_cap)
        await asyncio.sleep(delay)
        # the ports of the dead group must be released before the new one binds them
        deadline = time.monotonic() + 5
        while not node.process.ports_free() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self._stopping:
            return
        node.restarts += 1
        node.process.start()
        try:
            await self._wait_ready(node, self.settings.ready_timeout)
            log.info("node %s is back (restart %d)", node.plan.key, node.restarts)
        except Exception as exc:  # the next round of the monitor restarts it again
            log.error("node %s failed to come back: %s", node.plan.key, exc)
            node.process.reap()

    async def stop(self) -> None:
        """Stop the monitor and every node (SIGTERM, then SIGKILL after the grace)."""
        self._stopping = True
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        await asyncio.gather(
            *(n.process.stop(self.settings.stop_grace) for n in self._nodes.values())
        )
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self._launcher.close()
        atexit.unregister(self.kill_all)  # nothing left to kill (and pids may be reused)

    def kill_all(self) -> None:
        """SIGKILL every node's process group now (atexit / crash path)."""
        for node in self._nodes.values():
            node.process.stop_now()
        self._launcher.close_now()
