"""The base image and the host's local wheels for an image build.

The Dockerfile builds on ``PYTHON_IMAGE`` (``python:3.11-slim-bookworm``). Where no
registry answers, the same Debian release with its Python 3.11 is made here with
``mmdebstrap`` and imported under a local name; the tarball is kept in the cache folder
(``~/.cache/seldon-graph/image``), outside the work tree, so that happens once a machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlparse

CACHE = Path.home() / ".cache" / "seldon-graph" / "image"
LOCAL_BASE = "localhost/seldon-graph-base:python3.11-bookworm"
BASE_TARBALL = CACHE / "python3.11-bookworm.tar"
# What the Dockerfile needs of its base: `python` with venv, and CA certificates for pip.
BASE_PACKAGES = "python3,python3-venv,python-is-python3,ca-certificates"
DEBIAN_MIRROR = "http://deb.debian.org/debian"


def image_exists(engine: str, image: str, env: Mapping[str, str]) -> bool:
    done = subprocess.run(
        [engine, "image", "inspect", image], capture_output=True, env=dict(env), check=False
    )
    return done.returncode == 0


def pull(engine: str, image: str, env: Mapping[str, str], timeout: float = 120) -> bool:
    """Pull ``image``; False when no registry answers in ``timeout`` seconds."""
    try:
        done = subprocess.run(
            [engine, "pull", image], capture_output=True, env=dict(env), timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def debian_base_tarball() -> Path:
    """Debian bookworm (minbase, Python 3.11) as a root filesystem tarball, made once."""
    if BASE_TARBALL.exists():
        return BASE_TARBALL
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = BASE_TARBALL.with_name(BASE_TARBALL.name + ".part")
    subprocess.run(
        [
            "mmdebstrap",
            "--quiet",
            "--variant=minbase",
            "--format=tar",
            f"--include={BASE_PACKAGES}",
            "bookworm",
            str(partial),
            DEBIAN_MIRROR,
        ],
        check=True,
    )
    partial.rename(BASE_TARBALL)
    return BASE_TARBALL


def base_image(engine: str, wanted: str, env: Mapping[str, str]) -> str:
    """``wanted`` if present or pullable, else the local Debian image (made when missing)."""
    if image_exists(engine, wanted, env) or image_exists(engine, LOCAL_BASE, env):
        return wanted if image_exists(engine, wanted, env) else LOCAL_BASE
    if pull(engine, wanted, env):
        return wanted
    print(f"{wanted} cannot be pulled: making {LOCAL_BASE} with mmdebstrap", file=sys.stderr)
    tarball = debian_base_tarball()
    subprocess.run(
        [
            engine,
            "import",
            "--change",
            "ENV LANG=C.UTF-8",
            "--change",
            'CMD ["python3"]',
            str(tarball),
            LOCAL_BASE,
        ],
        check=True,
        env=dict(env),
        stdout=subprocess.DEVNULL,
    )
    return LOCAL_BASE


def _pip_config() -> dict[str, list[str]]:
    """The host pip's ``find-links`` and index URLs (``pip config list``), by key."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    values: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        match = re.fullmatch(r"[^.]*\.([a-z-]+)='(.*)'", line.strip())
        if match:
            values.setdefault(match.group(1), []).extend(match.group(2).split())
    return values


def _index_files_dir(index: Path) -> Path | None:
    """The folder a local ``simple`` index's pages link their files from, if any."""
    for page in sorted(index.glob("*/index.html"))[:1]:
        href = re.search(r'href="([^"#]+)', page.read_text(errors="replace"))
        if href and "://" not in href.group(1):
            return (page.parent / unquote(href.group(1))).resolve().parent
    return None


def local_wheel_dirs() -> list[Path]:
    """Folders of wheels on this machine that the host's pip reads (find-links and
    ``file://`` indexes), for a build to mount; empty where pip reads only remote indexes."""
    config = _pip_config()
    found: list[Path] = [Path(p) for p in config.get("find-links", []) if Path(p).is_dir()]
    for url in config.get("index-url", []) + config.get("extra-index-url", []):
        if url.startswith("file://"):
            files = _index_files_dir(Path(unquote(urlparse(url).path)))
            if files and files.is_dir():
                found.append(files)
    return list(dict.fromkeys(path.resolve() for path in found))
