"""Start etcd and kube-apiserver on loopback ports, and stop them.

    with start() as cluster:          # builds the binary first when it is not cached
        cluster.kubeconfig            # admin (system:masters) kubeconfig, current context
        cluster.request("GET", "/version")

The server: TLS with a throw-away CA, ``--anonymous-auth=false``, a static token file
(user ``admin`` in ``system:masters``), ``--authorization-mode=RBAC``, service-account
token signing (TokenRequest works; there is no controller manager, so no token
controller), ``--endpoint-reconciler-type=none``, the ServiceAccount admission plugin off
(no pods run here), no insecure port. Both processes run in their own process group and
are stopped by PID; their logs and the data directory live in one temporary directory,
removed on stop.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.runner.ports import free_port

from . import debian
from .build import build
from .errors import ClusterError
from .pki import Pki, make_pki

RUNTIME_PACKAGES = ["etcd-server", "openssl"]
ETCD = "/usr/bin/etcd"
ISSUER = "https://kubernetes.default.svc.cluster.local"
CLUSTER_NAME = "seldon-graph-test"


@dataclass
class Process:
    """A child started in its own process group; ``stop`` ends that group by PID."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def spawn(cls, name: str, cmd: list[str], log: Path) -> Process:
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        return cls(name, popen, log)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, grace_s: float = 10.0) -> None:
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            if self.popen.poll() is not None:
                break
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                continue


@dataclass
class LocalCluster:
    """A running etcd + kube-apiserver pair and what a client needs to reach it."""

    workdir: Path
    url: str
    admin_token: str
    pki: Pki
    kubeconfig: Path
    processes: list[Process] = field(default_factory=list)
    owns_workdir: bool = True

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd; remove the temporary directory. Idempotent."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.pki.ca_cert))

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None,
        content_type: str = "application/json", timeout_s: float = 30.0,
    ) -> tuple[int, Any]:  # fmt: skip
        """One API call; returns (HTTP status, decoded JSON or text). Never raises on 4xx/5xx."""
        data = None if body is None else json.dumps(body).encode()
        headers = {
            "Authorization": f"Bearer {token or self.admin_token}",
            "Accept": "application/json",
        }
        if data is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(), timeout=timeout_s) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def write_kubeconfig(
        self, path: Path, user: str, token: str, namespace: str = "default"
    ) -> Path:
        """A kubeconfig (JSON, which is YAML) for ``user`` with a bearer ``token``."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": CLUSTER_NAME,
                    "cluster": {"server": self.url, "certificate-authority": str(self.pki.ca_cert)},
                }
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [
                {
                    "name": user,
                    "context": {"cluster": CLUSTER_NAME, "user": user, "namespace": namespace},
                }
            ],
            "current-context": user,
        }
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path


def _start_etcd(workdir: Path) -> tuple[Process, str]:
    client, peer = free_port(), free_port()
    client_url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    cmd = [
        ETCD, "--name", "test", "--data-dir", str(workdir / "etcd"),
        "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
        "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
        "--initial-cluster", f"test={peer_url}", "--logger", "zap", "--log-level", "warn",
    ]  # fmt: skip
    process = Process.spawn("etcd", cmd, workdir / "etcd.log")
    _wait(process, lambda: _etcd_healthy(client_url), 30.0)
    return process, client_url


def _etcd_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as resp:
            return bool(json.loads(resp.read()).get("health") == "true")
    except (OSError, ValueError):
        return False


def _apiserver_cmd(binary: Path, workdir: Path, pki: Pki, etcd_url: str, port: int) -> list[str]:
    return [
        str(binary),
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
        f"--secure-port={port}", "--insecure-port=0", f"--cert-dir={workdir / 'certs'}",
        f"--tls-cert-file={pki.server_cert}", f"--tls-private-key-file={pki.server_key}",
        f"--client-ca-file={pki.ca_cert}",
        "--anonymous-auth=false", f"--token-auth-file={workdir / 'tokens.csv'}",
        "--authorization-mode=RBAC",
        f"--service-account-key-file={pki.sa_public_key}",
        f"--service-account-signing-key-file={pki.sa_signing_key}",
        f"--service-account-issuer={ISSUER}",
        "--endpoint-reconciler-type=none", "--disable-admission-plugins=ServiceAccount",
        "--service-cluster-ip-range=10.96.0.0/24", "--profiling=false",
    ]  # fmt: skip


def _wait(process: Process, ready, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process.alive():
            raise ClusterError(
                f"{process.name} exited ({process.popen.returncode}):\n{process.log_tail()}"
            )
        if ready():
            return
        time.sleep(0.2)
    raise ClusterError(f"{process.name} not ready after {timeout_s:.0f} s:\n{process.log_tail()}")


def start(
    workdir: Path | None = None, binary: Path | None = None, schema: Path | None = None,
    ready_timeout_s: float = 90.0, log=print,
) -> LocalCluster:  # fmt: skip
    """Start etcd and kube-apiserver; install the SeldonDeployment CRD when ``schema`` is given."""
    from .crd import install_crd

    debian.ensure_packages(RUNTIME_PACKAGES)
    binary = binary or build(log=log)
    owns = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="kube-apiserver-")) if workdir is None else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(24)
    (workdir / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n')
    port = free_port()
    pki = make_pki(workdir / "pki")
    cluster = LocalCluster(
        workdir, f"https://127.0.0.1:{port}", token, pki, workdir / "kubeconfig", owns_workdir=owns
    )
    atexit.register(cluster.stop)
    try:
        etcd, etcd_url = _start_etcd(workdir)
        cluster.processes.append(etcd)
        server = Process.spawn(
            "kube-apiserver",
            _apiserver_cmd(binary, workdir, pki, etcd_url, port),
            workdir / "kube-apiserver.log",
        )
        cluster.processes.append(server)
        _wait(server, lambda: _ready(cluster), ready_timeout_s)
        cluster.write_kubeconfig(cluster.kubeconfig, "admin", token)
        if schema is not None:
            install_crd(cluster, schema)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _ready(cluster: LocalCluster) -> bool:
    try:
        status, _ = cluster.request("GET", "/readyz", timeout_s=5)
    except OSError:
        return False
    return status == 200
