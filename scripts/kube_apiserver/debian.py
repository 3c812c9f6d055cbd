"""Debian packages and source packages, through apt-get.

``ensure_packages`` installs what is missing (root only; CI runs as root on Debian 12).
``fetch_source`` runs ``apt-get source`` against a private apt configuration under the
cache directory, with ``deb-src`` lines for bookworm and bookworm-security, so the
machine's own ``/etc/apt`` is never edited.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .errors import ClusterError

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SOURCES = [
    ("http://deb.debian.org/debian", "bookworm"),
    ("http://deb.debian.org/debian-security", "bookworm-security"),
]


def missing_packages(names: list[str]) -> list[str]:
    """The Debian packages among ``names`` that are not installed."""
    missing = []
    for name in names:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${db:Status-Status}", name],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or done.stdout.strip() != "installed":
            missing.append(name)
    return missing


def ensure_packages(names: list[str]) -> list[str]:
    """Install the missing ones among ``names`` with apt-get; return what was installed."""
    missing = missing_packages(names)
    if not missing:
        return []
    if os.geteuid() != 0:
        raise ClusterError(
            f"missing Debian packages {' '.join(missing)}; install them as root: "
            f"apt-get install -y {' '.join(missing)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-q"], env=env)
    _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)
    return missing


def _apt_options(state: Path) -> list[str]:
    """apt-get options that read sources and keep lists only under ``state``."""
    parts = state / "sources.list.d"
    lists = state / "lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    parts.mkdir(parents=True, exist_ok=True)
    (state / "cache").mkdir(parents=True, exist_ok=True)
    stanzas = [
        f"Types: deb-src\nURIs: {uri}\nSuites: {suite}\nComponents: main\nSigned-By: {KEYRING}\n"
        for uri, suite in SOURCES
    ]
    (parts / "deb-src.sources").write_text("\n".join(stanzas))
    return [
        "-o",
        "Dir::Etc::SourceList=/dev/null",
        "-o",
        f"Dir::Etc::SourceParts={parts}",
        "-o",
        f"Dir::State::Lists={lists}",
        "-o",
        f"Dir::Cache={state / 'cache'}",
        "-o",
        "APT::Sandbox::User=root",
    ]


def fetch_source(package: str, version: str, state: Path, workdir: Path) -> Path:
    """Download and unpack (with Debian's patches) ``package=version`` into ``workdir``.

    Returns the unpacked source tree.
    """
    options = _apt_options(state)
    _run(["apt-get", *options, "update", "-q"])
    workdir.mkdir(parents=True, exist_ok=True)
    _run(["apt-get", *options, "source", "-q", f"{package}={version}"], cwd=workdir)
    trees = [path for path in workdir.iterdir() if path.is_dir() and path.name.startswith(package)]
    if len(trees) != 1:
        raise ClusterError(f"apt-get source {package}={version} left {trees} in {workdir}")
    return trees[0]


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-3000:]
        raise ClusterError(f"{' '.join(cmd[:2])} ... failed ({done.returncode}):\n{output}")
