"""Every peer the benchmark knows: name, venv, server, request bodies, settings.

``scenarios.py``, ``report.py`` and ``__main__.py`` read the peers only from ``PEERS``, so
adding a peer is one entry here. Every peer serves the same weights (``artifacts/v1``).
A single-model peer (``composition=False``) is compared with the batched classifier and
gets its normalised (1, 3, 32, 32) input; a composition (``composition=True``, the
three-node graph: transformer -> drift -> classifier) is compared with the graph and gets
the graph's body, the PNG as ``binData``. Each peer is measured over REST, and over gRPC
where it has a ``grpc_method`` (its own message, ``wire.py``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import loadgen, payloads, servers
from benchmarks.peer_env import PeerEnv, ensure_logged
from benchmarks.peers import wire
from benchmarks.peers.bentoml import peer as bentoml
from benchmarks.peers.kserve import peer as kserve
from benchmarks.peers.pytriton import peer as pytriton
from benchmarks.peers.ray import peer as ray
from benchmarks.peers.torchserve import peer as torchserve

Body = Callable[[payloads.Inputs], bytes]
# uvloop 0.22+ crashes MLServer's worker on Python 3.11.
MLSERVER = PeerEnv("mlserver", ("mlserver==1.7.*", "uvloop==0.21.*"), "mlserver")


@dataclass(frozen=True)
class Peer:
    """One peer scenario (its name is the scenario's and the server's)."""

    name: str
    env: PeerEnv
    # (env, model_uri) -> the server, not started
    server: Callable[[PeerEnv, Path], servers.Server]
    rest_path: str
    rest_body: Body = payloads.v2_rest
    rest_payload: str = "v2-fp32"  # the payload label of its REST case
    grpc_method: str | None = None
    grpc_body: Body | None = None
    composition: bool = False  # the three-node graph (else a single batched model)
    ready_burst: bool = False  # ready only after a burst of requests (BentoML)
    settings: dict[str, Any] = field(default_factory=dict)  # recorded in the report

    @property
    def transports(self) -> tuple[str, ...]:
        return ("rest", "grpc") if self.grpc_method else ("rest",)

    def payload(self, transport: str) -> str:
        return self.rest_payload if transport == "rest" else f"{self.name}-grpc"


def _ndarray_json(inputs: payloads.Inputs) -> bytes:
    return json.dumps({"x": inputs.normalised.tolist()}).encode()


def _v2_grpc(inputs: payloads.Inputs) -> bytes:
    return wire.v2_infer_request(inputs.normalised)


def _png(inputs: payloads.Inputs) -> bytes:
    return payloads.seldon_rest("binData", inputs)


def _peers() -> tuple[Peer, ...]:
    mlserver_settings = json.loads(
        (servers.ROOT / "benchmarks" / "mlserver_runtime" / "model-settings.json").read_text()
    )
    return (
        Peer("mlserver", MLSERVER,
             lambda env, uri: servers.mlserver("mlserver", env.bin("mlserver"), uri),
             "/v2/models/digits/infer",
             settings={k: mlserver_settings[k] for k in ("max_batch_size", "max_batch_time")}),
        Peer("torchserve", torchserve.ENV, torchserve.server, torchserve.REST_PATH,
             grpc_method=wire.TORCHSERVE_PREDICT,
             grpc_body=lambda inputs: wire.torchserve_request(payloads.v2_rest(inputs)),
             settings=torchserve.SETTINGS),
        Peer("pytriton", pytriton.ENV, pytriton.server, pytriton.REST_PATH,
             grpc_method=wire.V2_INFER, grpc_body=_v2_grpc, settings=pytriton.SETTINGS),
        Peer("kserve", kserve.ENV, kserve.server, kserve.REST_PATH,
             grpc_method=wire.V2_INFER, grpc_body=_v2_grpc, settings=kserve.SETTINGS),
        Peer("bentoml", bentoml.ENV,
             lambda env, uri: bentoml.server("bentoml", "Classifier", env, uri),
             bentoml.REST_PATH, _ndarray_json, "json-ndarray", ready_burst=True,
             settings=bentoml.SETTINGS),
        Peer("ray_serve", ray.ENV, lambda env, uri: ray.server("ray_serve", "single", env, uri),
             ray.REST_PATH, lambda inputs: payloads.seldon_rest("tensor", inputs), "tensor",
             settings=ray.SETTINGS),
        Peer("bentoml_graph", bentoml.ENV,
             lambda env, uri: bentoml.server("bentoml_graph", "Graph", env, uri),
             bentoml.REST_PATH, _png, "binData", composition=True, ready_burst=True,
             settings=bentoml.GRAPH_SETTINGS),
        Peer("ray_graph", ray.ENV, lambda env, uri: ray.server("ray_graph", "graph", env, uri),
             ray.REST_PATH, _png, "binData", composition=True, settings=ray.GRAPH_SETTINGS),
    )  # fmt: skip


PEERS: dict[str, Peer] = {p.name: p for p in _peers()}
NAMES = tuple(PEERS)
SINGLE_MODEL = tuple(n for n, p in PEERS.items() if not p.composition)
COMPOSITIONS = tuple(n for n, p in PEERS.items() if p.composition)


def cases(case: Callable[..., Any]) -> dict[str, list[Any]]:
    """``scenarios.Case``s of every peer: REST, and gRPC where the peer has it."""
    return {p.name: [case(p.name, p.name, t, p.payload(t)) for t in p.transports]
            for p in PEERS.values()}  # fmt: skip


def build(
    targets: set[str], model_uri: Path, inputs: payloads.Inputs, log: Callable[[str], None]
) -> list[servers.Server]:
    """The servers of the peers in ``targets`` (their venvs built first), with probes."""
    found = []
    for peer in PEERS.values():
        if peer.name not in targets:
            continue
        ensure_logged(peer.env, log)
        server = peer.server(peer.env, model_uri)
        server.env.update(temporary_dir_env(peer.name))
        probe = servers.rest_probe(rest_url(peer, server), peer.rest_body(inputs))
        server.probes = [probe, burst(probe)] if peer.ready_burst else [probe]
        if peer.grpc_method and peer.grpc_body and server.grpc_port:
            target = f"127.0.0.1:{server.grpc_port}"
            body = peer.grpc_body(inputs)
            server.probes.append(servers.grpc_probe(target, peer.grpc_method, body))
        found.append(server)
    return found


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


def temporary_dir_env(name: str) -> dict[str, str]:
    """A fresh ``benchmarks/.work/tmp/<name>`` as the temporary directory of Python and Java.

    TorchServe's unpacked archive and torch's compile caches outlive a stopped server; this
    way they land in ``.work`` (replaced on each run), not in ``/tmp``. (Triton's own copy
    of PyTriton's model repository still goes to ``/tmp/folderXXXXXX``.)
    """
    folder = servers.WORK / "tmp" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return {"TMPDIR": str(folder), "JAVA_TOOL_OPTIONS": f"-Djava.io.tmpdir={folder}"}


def rest_url(peer: Peer, server: servers.Server) -> str:
    return f"http://127.0.0.1:{server.http_port}{peer.rest_path}"


def request(
    name: str, transport: str, server: servers.Server, inputs: payloads.Inputs
) -> tuple[str, str | None, bytes]:
    """(REST URL or gRPC target, gRPC method or None, body) of peer ``name``."""
    peer = PEERS[name]
    if transport == "grpc" and peer.grpc_method and peer.grpc_body:
        return f"127.0.0.1:{server.grpc_port}", peer.grpc_method, peer.grpc_body(inputs)
    return rest_url(peer, server), None, peer.rest_body(inputs)


def report_settings(scenarios: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Version, venv and settings of every peer that ran (for the report's config)."""
    return {p.name: {"version": p.env.version(), "venv": str(p.env.venv),
                     "composition": p.composition, "transports": list(p.transports),
                     **p.settings}
            for p in PEERS.values() if p.name in scenarios}  # fmt: skip


def measure(
    name: str, transport: str, server: servers.Server, inputs: payloads.Inputs, level: int,
    duration_s: float, warmup_s: float,
) -> loadgen.LoadResult:  # fmt: skip
    """One measurement of peer ``name`` at ``level`` clients, over REST or gRPC."""
    where, method, body = request(name, transport, server, inputs)
    if method is not None:
        return loadgen.run_grpc(where, method, body, concurrency=level,
                                duration_s=duration_s, warmup_s=warmup_s)  # fmt: skip
    return loadgen.run_wrk(where, body, concurrency=level, duration_s=duration_s,
                           warmup_s=warmup_s)  # fmt: skip
