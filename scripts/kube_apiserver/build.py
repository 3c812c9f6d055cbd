"""Build kube-apiserver from Debian bookworm's ``kubernetes`` source package, once.

The binary is cached outside the work tree, keyed by version
(``~/.cache/seldon-graph/kube-apiserver-<version>/kube-apiserver``, or under
``$XDG_CACHE_HOME``); a second call returns it at once. What the build needs:

- Debian's Go 1.19 in GOPATH mode (``GO111MODULE=off``, the tree linked at
  ``$GOPATH/src/k8s.io/kubernetes``, ``CGO_ENABLED=0``): module mode fails on this tree.
- ``make gen_openapi``: ``pkg/generated/openapi/zz_generated.openapi.go`` is not in the
  tarball (needs rsync).
- ``vendor/github.com/modern-go/reflect2`` replaced by Debian's 1.0.2: the vendored
  1.0.1 crashes under Go >= 1.18 (``fatal error: fault`` in ``runtime.mapiternext``) on
  the first custom-resource request.

The build tree is removed afterwards; only the binary stays.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

from . import debian
from .errors import ClusterError

VERSION = "1.20.2"
DEBIAN_SOURCE = ("kubernetes", "1.20.5+really1.20.2-1.1+deb12u1")
BUILD_PACKAGES = [
    "golang-go",
    "golang-github-modern-go-reflect2-dev",
    "dpkg-dev",
    "rsync",
    "make",
    "git",
]
REFLECT2_DEBIAN = Path("/usr/share/gocode/src/github.com/modern-go/reflect2")
GO = "/usr/lib/go/bin/go"
# Both packages report the version: component-base (``--version``) and client-go
# (the server's ``/version``); unset, the tarball's placeholder ``v0.0.0-master`` shows.
VERSION_PKGS = [
    "k8s.io/kubernetes/vendor/k8s.io/component-base/version",
    "k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version",
]


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/seldon-graph`` (default ``~/.cache/seldon-graph``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "seldon-graph"


def binary_path(version: str = VERSION) -> Path:
    """Where the built kube-apiserver of ``version`` lives."""
    return cache_root() / f"kube-apiserver-{version}" / "kube-apiserver"


def build(force: bool = False, log=print) -> Path:
    """The cached kube-apiserver binary, built first when missing (takes minutes)."""
    target = binary_path()
    if target.is_file() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # One build at a time per machine: a second caller waits, then finds the binary.
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file() and not force:
            return target
        started = time.monotonic()
        installed = debian.ensure_packages(BUILD_PACKAGES)
        if installed:
            log(f"kube-apiserver: installed {' '.join(installed)}")
        workdir = target.parent / "build"
        shutil.rmtree(workdir, ignore_errors=True)
        try:
            built = _build_in(workdir, log)
            os.replace(built, target)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        log(f"kube-apiserver {VERSION}: built in {time.monotonic() - started:.0f} s -> {target}")
    return target


def _build_in(workdir: Path, log) -> Path:
    log(f"kube-apiserver: fetching Debian source {'='.join(DEBIAN_SOURCE)}")
    tree = debian.fetch_source(*DEBIAN_SOURCE, state=workdir / "apt", workdir=workdir / "src")
    gopath = workdir / "gopath"
    link = gopath / "src" / "k8s.io" / "kubernetes"
    link.parent.mkdir(parents=True)
    link.symlink_to(tree)
    _replace_reflect2(tree)
    env = {
        **os.environ,
        "GOPATH": str(gopath),
        "GO111MODULE": "off",
        "CGO_ENABLED": "0",
        "GOCACHE": str(workdir / "gocache"),
        "GOFLAGS": "",
        "PATH": f"{Path(GO).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PWD": str(link),
    }
    log("kube-apiserver: make gen_openapi")
    _run(["make", "gen_openapi"], cwd=link, env=env)
    out = workdir / "kube-apiserver"
    log("kube-apiserver: go build ./cmd/kube-apiserver")
    _run([GO, "build", "-ldflags", _ldflags(), "-o", str(out), "./cmd/kube-apiserver"], link, env)
    return out


def _replace_reflect2(tree: Path) -> None:
    """Swap the vendored reflect2 1.0.1 for Debian's 1.0.2 (see the module docstring)."""
    if not (REFLECT2_DEBIAN / "reflect2.go").is_file():
        raise ClusterError(
            f"{REFLECT2_DEBIAN} missing: install golang-github-modern-go-reflect2-dev"
        )
    vendored = tree / "vendor" / "github.com" / "modern-go" / "reflect2"
    shutil.rmtree(vendored)
    shutil.copytree(REFLECT2_DEBIAN, vendored, symlinks=False)


def _ldflags() -> str:
    major, minor, _ = VERSION.split(".")
    values = {
        "gitVersion": f"v{VERSION}",
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "archive",
        "buildDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    flags = [f"-X {pkg}.{key}={val}" for pkg in VERSION_PKGS for key, val in values.items()]
    return " ".join(["-s", "-w", *flags])


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        raise ClusterError(f"{' '.join(cmd[:2])} failed ({done.returncode}) in {cwd}:\n{output}")
