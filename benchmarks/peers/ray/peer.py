"""The ``ray_serve`` and ``ray_graph`` scenarios: Ray Serve 2.60 applications (``app.py``).

``python -m benchmarks.peers.ray.launch {single,graph}`` in the peer's venv starts a local
Ray of its own and serves the application on a free loopback port. The venv reaches the
project's site-packages (``project_fallback``): the graph's transformer is the project's
``model.images``, which imports seldon-core.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

from benchmarks import servers
from benchmarks.peer_env import NUMPY, PeerEnv
from benchmarks.peers import components

ENV = PeerEnv("ray", ("ray[serve]==2.60.0", NUMPY), "ray", project_fallback=True)
REST_PATH = "/"
SETTINGS = {
    "cluster": "a local Ray (num_cpus=2) started by the launcher, no dashboard",
    "deployment": "1 replica, num_cpus=1, max_ongoing_requests=64, @serve.batch("
    "max_batch_size=32, batch_wait_timeout_s=0.002); access log off",
    "rest": f"POST {REST_PATH} (the batched classifier's data.tensor body)",
}
GRAPH_SETTINGS = {
    "deployments": "Ingress (transformer) 0.5 CPU -> Drift 0.5 CPU -> Classifier 1 CPU "
    "(as `ray_serve`), max_ongoing_requests=64, DeploymentHandle calls",
    "rest": f"POST {REST_PATH} {{'binData': base64 PNG}}",
    "drift": components.DRIFT_NOTE,
}


class LeaderFirstServer(servers.Server):
    """Stopped by SIGTERM to its own process first, so it can stop what it started.

    Ray's driver shares its process group with the Ray processes it started: SIGTERM to
    the group would kill them under it before ``serve.shutdown``/``ray.shutdown`` run.
    """

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            self._remember_children()
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=self.stop_grace_s)
        super().stop()  # the group, then anything of ours that outlived it


def server(name: str, app: str, env: PeerEnv, model_uri: Path) -> servers.Server:
    """The launcher serving ``app`` (``single`` or ``graph``)."""
    port = servers.free_port()
    argv = [str(env.python()), "-m", "benchmarks.peers.ray.launch", app, "--port", str(port)]
    return LeaderFirstServer(name, argv, port, env=components.peer_env_vars(model_uri),
                             stop_grace_s=40.0, starts_alone=True)  # fmt: skip
