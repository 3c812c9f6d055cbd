"""Secure defaults: verified artifacts, hardened manifests, a loopback gateway.

- every artifact file is checked against the sha256 in ``metadata.json`` before it is
  loaded; a tampered file is refused with an error naming it (in ``load()``, and a real
  ``seldon-core-microservice`` does not become ready); weights load with
  ``weights_only=True``, so even a pickle with a matching digest runs no code;
- every container of every SeldonDeployment in ``graph/`` runs non-root with a read-only
  root filesystem, no privilege escalation, all capabilities dropped, and resource
  requests and limits;
- the local gateway listens on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import ipaddress
import json
import pickle
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from graph.cli import build_parser
from graph.gateway.app import GatewaySettings
from model.artifacts import sha256_file
from model.errors import ArtifactError, Unavailable
from tests.fixtures.graphs import Served
from tests.fixtures.processes import microservice

ROOT = Path(__file__).resolve().parents[2]
HASHED = ("weights.pt", "drift_encoder.pt", "drift_reference.npy")


# ------------------------------------------------------------------ artifacts
@pytest.fixture()
def artifact_copy(artifacts_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "v1"
    shutil.copytree(artifacts_dir / "v1", copy)
    return copy


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def load_component(name: str, model_uri: Path) -> None:
    """Build and load the component that reads ``name``."""
    if name == "weights.pt":
        from model.predictor import TorchPredictor

        TorchPredictor(model_uri=str(model_uri), device="cpu", warmup=False).load()
    else:
        from model.drift import DriftDetector

        detector = DriftDetector(model_uri=str(model_uri))
        try:
            detector.load()
        finally:
            detector.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", HASHED)
def test_a_tampered_artifact_is_refused_naming_the_file(name: str, artifact_copy: Path) -> None:
    flip_a_byte(artifact_copy / name)
    with pytest.raises(ArtifactError) as caught:
        load_component(name, artifact_copy)
    assert name in str(caught.value) and "sha256" in str(caught.value)


@pytest.mark.slow
@pytest.mark.parametrize("name", HASHED)
def test_a_digest_changed_in_metadata_is_refused_naming_the_file(
    name: str, artifact_copy: Path
) -> None:
    meta_path = artifact_copy / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["files"][name] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError) as caught:
        load_component(name, artifact_copy)
    assert name in str(caught.value)


class _Payload:
    """Unpickling this creates ``marker``: proof that loading ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.mark.slow
def test_weights_load_with_weights_only_so_a_pickle_with_a_valid_digest_runs_nothing(
    artifact_copy: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "code-ran"
    weights = artifact_copy / "weights.pt"
    with open(weights, "wb") as out:
        pickle.dump({"conv.weight": _Payload(marker)}, out)
    meta_path = artifact_copy / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["files"]["weights.pt"] = sha256_file(weights)  # the digest matches: only
    meta_path.write_text(json.dumps(meta))  # weights_only stands in the way
    with pytest.raises(ArtifactError) as caught:
        load_component("weights.pt", artifact_copy)
    assert "weights.pt" in str(caught.value)
    assert not marker.exists()


@pytest.mark.slow
def test_a_microservice_with_tampered_weights_never_becomes_ready(
    artifact_copy: Path, log_dir: Path
) -> None:
    flip_a_byte(artifact_copy / "weights.pt")
    params = [{"name": "model_uri", "type": "STRING", "value": str(artifact_copy)},
              {"name": "device", "type": "STRING", "value": "cpu"}]  # fmt: skip
    service = microservice(
        "model.predictor.TorchPredictor", "MODEL", params, log_dir=log_dir, ready_timeout=90
    )
    with pytest.raises(Unavailable) as caught, service:
        pass
    assert "weights.pt" in str(caught.value) and "sha256" in str(caught.value)


# ------------------------------------------------------------------ manifests
def deployments() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((ROOT / "graph").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "SeldonDeployment":
                yield f"{path.relative_to(ROOT)}:{doc['metadata']['name']}", doc


DEPLOYMENTS = list(deployments())


def test_graph_holds_seldon_deployments_to_check() -> None:
    assert DEPLOYMENTS, "no SeldonDeployment found under graph/"


@pytest.mark.parametrize(("where", "doc"), DEPLOYMENTS, ids=[w for w, _ in DEPLOYMENTS])
def test_every_container_is_locked_down_and_has_requests_and_limits(
    where: str, doc: dict[str, Any]
) -> None:
    problems = []
    for predictor in doc["spec"]["predictors"]:
        for i, component in enumerate(predictor.get("componentSpecs") or []):
            pod = component["spec"]
            at = f"{where} predictor {predictor['name']} componentSpecs[{i}]"
            if (pod.get("securityContext") or {}).get("runAsNonRoot") is not True:
                problems.append(f"{at}: pod securityContext.runAsNonRoot is not true")
            for c in pod["containers"]:
                sc, res = c.get("securityContext") or {}, c.get("resources") or {}
                name = f"{at} container {c['name']}"
                checks = {
                    "runAsNonRoot": sc.get("runAsNonRoot") is True,
                    "runAsUser > 0": isinstance(sc.get("runAsUser"), int) and sc["runAsUser"] > 0,
                    "readOnlyRootFilesystem": sc.get("readOnlyRootFilesystem") is True,
                    "allowPrivilegeEscalation false": sc.get("allowPrivilegeEscalation") is False,
                    "capabilities drop ALL": "ALL"
                    in (sc.get("capabilities") or {}).get("drop", []),
                    "privileged unset or false": not sc.get("privileged", False),
                }
                for kind in ("requests", "limits"):
                    for resource in ("cpu", "memory"):
                        checks[f"resources.{kind}.{resource}"] = bool(
                            (res.get(kind) or {}).get(resource)
                        )
                problems += [f"{name}: {check}" for check, ok in checks.items() if not ok]
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ gateway address
def test_the_gateway_binds_loopback_by_default_and_elsewhere_only_when_asked() -> None:
    assert GatewaySettings().host == "127.0.0.1"
    serve = ["serve", "graph/seldondeployment.yaml"]
    assert build_parser().parse_args(serve).host == "127.0.0.1"
    assert build_parser().parse_args([*serve, "--host", "0.0.0.0"]).host == "0.0.0.0"


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(address, port) of the TCP sockets ``pid`` listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                hex_addr, hex_port = cols[1].split(":")
                raw = bytes.fromhex(hex_addr)
                if family == socket.AF_INET:
                    raw = raw[::-1]
                else:  # four little-endian 32-bit words
                    raw = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                found.add((socket.inet_ntop(family, raw), int(hex_port, 16)))
    return found


@pytest.mark.slow
def test_the_served_gateway_listens_only_on_loopback(digits_served: Served) -> None:
    found = listening_addresses(digits_served.process.pid)
    ports = {port for _, port in found}
    assert {digits_served.http_port, digits_served.grpc_port} <= ports, found
    for addr, _ in found:  # gRPC listens on a dual-stack socket: ::ffff:127.0.0.1
        ip = ipaddress.ip_address(addr)
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        assert str(mapped or ip) == "127.0.0.1", found
