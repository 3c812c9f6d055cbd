"""The peer scenarios, registered with the benchmark: ``bentoml``, ``ray_serve``,
``bentoml_graph`` and ``ray_graph``.

Runs in the project's venv (the benchmark's): builds each peer's venv on first use
(``benchmarks.peers.venv``), its server (on free loopback ports, always stopped by the
benchmark's ``ServerPool``), its readiness probe and its request. Every peer is measured
over REST with ``wrk``, like the other scenarios:

- ``bentoml``: the BentoML ``Classifier`` service, ``POST /predict`` ``{"x": [...]}``
  (the normalised (1, 3, 32, 32) input as nested lists: BentoML's JSON for an ndarray);
- ``ray_serve``: Ray Serve's ``Classifier``, ``POST /`` with the batched classifier's body
  (``data.tensor``);
- ``bentoml_graph`` / ``ray_graph``: the three-node graph, the graph's body (``binData``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import payloads, servers
from benchmarks.peers.venv import CONSTRAINTS, PeerVenv

BENTOML = PeerVenv("bentoml", ("bentoml==1.4.40",))
RAY = PeerVenv("ray", ("ray[serve]==2.60.0",))


@dataclass(frozen=True)
class Peer:
    name: str
    venv: PeerVenv
    package: str  # whose version the report records
    path: str  # REST path of a prediction
    payload: str  # the payload label of its case
    composition: bool  # the three-node graph (else a single batched model)


PEERS = {
    p.name: p
    for p in (
        Peer("bentoml", BENTOML, "bentoml", "/predict", "json-ndarray", False),
        Peer("ray_serve", RAY, "ray", "/", "tensor", False),
        Peer("bentoml_graph", BENTOML, "bentoml", "/predict", "binData", True),
        Peer("ray_graph", RAY, "ray", "/", "binData", True),
    )
}
NAMES = tuple(PEERS)
COMPOSITIONS = tuple(n for n, p in PEERS.items() if p.composition)
# What the report records of each peer's configuration.
SETTINGS: dict[str, str] = {
    "bentoml": "BentoML 1.4.40, 1 worker, @bentoml.api(batchable=True, max_batch_size=32, "
    "max_latency_ms=60000): adaptive wait, no fixed delay; ready after a burst of 48 "
    "requests from 8 threads (ends the dispatcher's training); access log off",
    "ray_serve": "Ray Serve 2.60.0 on a local Ray (num_cpus=2), 1 replica, num_cpus=1, "
    "max_ongoing_requests=64, @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002); "
    "access log off",
    "bentoml_graph": "3 BentoML services (Graph entry = transformer, Drift, Classifier as "
    "`bentoml`), 1 worker each, called with bentoml.depends; runner_connection "
    "max_requests=1e9, max_age=1e9 s on the called services (upstream: the client drops its "
    "connection every 100 requests under load)",
    "ray_graph": "3 deployments (Ingress = transformer 0.5 CPU, Drift 0.5 CPU, Classifier "
    "1 CPU as `ray_serve`), max_ongoing_requests=64, DeploymentHandle calls",
    "all": "same weights artifacts/v1 via model.inference, transformer model.images, drift "
    "DriftWorker (window 64, p_val 0.05) with the alibi-detect MMD test in a project-venv "
    "helper process; peer venvs pin " + ", ".join(CONSTRAINTS) + " (the project's; torch "
    "and torchvision are the project venv's own install, through a .pth file)",
}


def settings_for(names: Any) -> dict[str, str]:
    """The recorded settings of the peers among the scenarios ``names``."""
    chosen = {n: SETTINGS[n] for n in NAMES if n in names}
    return {**chosen, "all": SETTINGS["all"]} if chosen else {}


def cases(case_type: Any) -> dict[str, list[Any]]:
    """The benchmark's cases of each peer scenario (``case_type`` is ``scenarios.Case``)."""
    return {n: [case_type(n, n, "rest", p.payload)] for n, p in PEERS.items()}


def request(name: str, inputs: payloads.Inputs) -> tuple[str, bytes]:
    """The REST path and body of a peer scenario."""
    peer = PEERS[name]
    if peer.payload == "json-ndarray":
        return peer.path, json.dumps({"x": inputs.normalised.tolist()}).encode()
    return peer.path, payloads.seldon_rest(peer.payload, inputs)


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


def server(name: str, model_uri: Path, inputs: payloads.Inputs) -> servers.Server:
    """The server of a peer scenario, its venv built first (minutes, once)."""
    peer = PEERS[name]
    python = peer.venv.ensure()
    port = servers.free_port(below_ephemeral=True)
    env = {"PYTHONPATH": str(servers.ROOT), "PEER_MODEL_URI": str(model_uri),
           "PEER_PROJECT_PYTHON": sys.executable}  # fmt: skip
    if peer.venv is RAY:
        app = "graph" if peer.composition else "single"
        argv = [str(python), "-m", "benchmarks.peers.ray.launch", app, "--port", str(port)]
        s: servers.Server = LeaderFirstServer(name, argv, port, env=env, stop_grace_s=40.0,
                                              starts_alone=True)  # fmt: skip
    else:
        service = "Graph" if peer.composition else "Classifier"
        argv = [str(peer.venv.bin("bentoml")), "serve",
                f"benchmarks.peers.bentoml.service:{service}",
                "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        s = servers.Server(name, argv, port, env=env, stop_grace_s=30.0, starts_alone=True)
    path, body = request(name, inputs)
    probe = servers.rest_probe(f"http://127.0.0.1:{port}{path}", body)
    s.probes = [probe] if peer.venv is RAY else [probe, burst(probe)]
    return s


def burst(probe: Callable[[], bool], requests: int = 48, clients: int = 8) -> Callable[[], bool]:
    """True once ``requests`` probes sent by ``clients`` threads all succeeded.

    BentoML's batch dispatcher trains its latency model on its first requests, waiting
    for batches of 2 and 3 for up to ``(2 n + 1) a + b`` seconds, with ``a`` and ``b``
    first guessed from ``max_latency_ms`` (up to 2 s and 1 s): a lone client would meet
    those waits in the measurement. A burst of concurrent requests ends the training
    before the server counts as ready (our classifier warms up in ``load()`` too).
    """

    def probe_burst() -> bool:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            return all(pool.map(lambda _: probe(), range(requests)))

    return probe_burst


def build_servers(targets: set[str], artifacts: Path, inputs: payloads.Inputs) -> list[Any]:
    """The servers of the peer scenarios among ``targets``."""
    v1 = (artifacts / "v1").resolve()
    return [server(n, v1, inputs) for n in NAMES if n in targets]


def versions(names: Any) -> dict[str, str | None]:
    """The installed version of each peer package among the scenarios ``names``."""
    found: dict[str, str | None] = {}
    for n in names:
        peer = PEERS.get(n)
        if peer is not None and peer.package not in found:
            found[peer.package] = peer.venv.version(peer.package)
    return found
