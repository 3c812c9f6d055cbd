"""Throw-away keys and certificates for one test API server, made with the openssl CLI.

- a CA that signs the server certificate (and is the client CA the server trusts),
- a server certificate for 127.0.0.1 / localhost,
- an RSA key pair for service-account tokens: the server signs TokenRequest tokens with
  the private key (``--service-account-signing-key-file``) and checks them with the
  public one (``--service-account-key-file``).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import ClusterError

DAYS = "2"
SERVER_SANS = "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc"


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    sa_signing_key: Path  # private
    sa_public_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ClusterError(f"openssl {args[0]} failed: {done.stderr.strip()[-1000:]}")


def make_pki(directory: Path) -> Pki:
    """Write a fresh CA, server certificate and service-account key pair in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rsa = ("-newkey", "rsa:2048", "-nodes")
    _openssl(
        "req", "-x509", *rsa, "-keyout", "ca.key", "-out", "ca.crt", "-days", DAYS,
        "-subj", "/CN=seldon-graph-test-ca", cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", *rsa, "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=kube-apiserver", cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(
        f"subjectAltName={SERVER_SANS}\nextendedKeyUsage=serverAuth\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", DAYS, "-extfile", "server.ext",
        cwd=directory,
    )  # fmt: skip
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=directory)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=directory)
    return Pki(
        ca_cert=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        sa_signing_key=directory / "sa.key",
        sa_public_key=directory / "sa.pub",
    )
