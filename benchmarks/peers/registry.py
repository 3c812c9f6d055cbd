"""The single-model peers the scenarios know: name, venv, server, endpoints, settings.

``scenarios.py`` asks this module for a peer's cases, its server and its request bodies,
so adding a peer is one entry in ``PEERS``. Every peer serves the same weights
(``artifacts/v1``) and gets the same body as ``mlserver``: one V2 JSON FP32 (1, 3, 32, 32)
tensor over REST; over gRPC, the peer's own message (``wire.py``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import payloads, servers
from benchmarks.peer_env import PeerEnv, ensure_logged
from benchmarks.peers import wire


@dataclass(frozen=True)
class Peer:
    """One peer scenario (its name is the scenario's and the server's)."""

    name: str
    env: PeerEnv
    rest_path: str
    # (env, model_uri) -> the server, not started
    server: Callable[[PeerEnv, Path], servers.Server]
    grpc_method: str | None = None
    grpc_body: Callable[[payloads.Inputs], bytes] | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # recorded in the report

    @property
    def transports(self) -> tuple[str, ...]:
        return ("rest", "grpc") if self.grpc_method else ("rest",)

    def payload(self, transport: str) -> str:
        return "v2-fp32" if transport == "rest" else f"{self.name}-grpc"


def _torchserve() -> Peer:
    from benchmarks.peers.torchserve import peer

    return Peer("torchserve", peer.ENV, peer.REST_PATH, peer.server, wire.TORCHSERVE_PREDICT,
                lambda inputs: wire.torchserve_request(payloads.v2_rest(inputs)),
                peer.SETTINGS)  # fmt: skip


def _pytriton() -> Peer:
    from benchmarks.peers.pytriton import peer

    return Peer("pytriton", peer.ENV, peer.REST_PATH, peer.server, wire.V2_INFER,
                lambda inputs: wire.v2_infer_request(inputs.normalised), peer.SETTINGS)  # fmt: skip


def _kserve() -> Peer:
    from benchmarks.peers.kserve import peer

    return Peer("kserve", peer.ENV, peer.REST_PATH, peer.server, wire.V2_INFER,
                lambda inputs: wire.v2_infer_request(inputs.normalised), peer.SETTINGS)  # fmt: skip


PEERS: dict[str, Peer] = {p.name: p for p in (_torchserve(), _pytriton(), _kserve())}
NAMES = tuple(PEERS)


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
        server.probes = [servers.rest_probe(rest_url(peer, server), payloads.v2_rest(inputs))]
        if peer.grpc_method and peer.grpc_body and server.grpc_port:
            target = f"127.0.0.1:{server.grpc_port}"
            body = peer.grpc_body(inputs)
            server.probes.append(servers.grpc_probe(target, peer.grpc_method, body))
        found.append(server)
    return found


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
    return rest_url(peer, server), None, payloads.v2_rest(inputs)


def report_settings(scenarios: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Version and settings of every peer that ran (for the report's config)."""
    return {p.name: {"version": p.env.version(), "venv": str(p.env.venv.name),
                     "transports": list(p.transports), **p.settings}
            for p in PEERS.values() if p.name in scenarios}  # fmt: skip
