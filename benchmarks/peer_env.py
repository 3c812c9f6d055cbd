"""Virtualenvs of the peer scenarios: ``benchmarks/.work/<name>-venv``, built on first use.

The same idea as ``mlserver_env`` for any peer: ``PeerEnv.ensure()`` creates the venv once,
installs the project's torch and torchvision first (they lie on this machine's disk; any
other torch version would download gigabytes), then the peer's pinned requirements under a
constraints file that holds torch and torchvision at those versions, so pip can never
resolve another torch. A stamp file records the requirements: later calls are free, a
changed pin rebuilds the venv. Nothing here runs in ``make test``.

torch with its CUDA libraries takes about 5 GB a venv, the same bytes in every one: after
an install, each file that an already built venv holds from the same wheel (same
``*.dist-info`` name, same path, sha256 and size in ``RECORD``) becomes a hard link to
that venv's copy, so N peers cost about one torch on disk. pip replaces files rather than
writing into them, so a later upgrade in one venv never changes another.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"
TORCH = ("torch==2.14.1", "torchvision==0.29.1")  # the project's pins (constraints.txt)


@dataclass(frozen=True)
class PeerEnv:
    """One peer's venv: its name and its pinned requirements (torch comes on its own)."""

    name: str
    requirements: tuple[str, ...]
    version_of: str  # the distribution whose version the report records

    @property
    def venv(self) -> Path:
        return WORK / f"{self.name}-venv"

    @property
    def stamp(self) -> Path:
        return self.venv / ".installed"

    def bin(self, executable: str) -> Path:
        return self.venv / "bin" / executable

    def python(self) -> Path:
        return self.bin("python")

    def stamp_text(self) -> str:
        return "\n".join((*TORCH, *self.requirements))

    def is_ready(self) -> bool:
        return self.stamp.is_file() and self.stamp.read_text() == self.stamp_text()

    def ensure(self, *, quiet: bool = True, timeout_s: float = 1800.0) -> float:
        """Create (or reuse) the venv; return the seconds the install took (0 if reused)."""
        if self.is_ready():
            return 0.0
        started = time.monotonic()
        self.venv.parent.mkdir(parents=True, exist_ok=True)
        if not self.python().exists():
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", str(self.venv)], check=True, timeout=300)
        constraints = self.venv / "constraints.txt"
        constraints.write_text("\n".join(TORCH) + "\n")
        for group in (TORCH, self.requirements):
            subprocess.run(
                pip_command(self.python(), group, constraints, quiet),
                check=True,
                timeout=timeout_s,
            )
        for other in sorted(WORK.glob("*-venv")):
            if other != self.venv and (other / ".installed").is_file():
                share_identical(site_packages(self.venv), site_packages(other))
        self.stamp.write_text(self.stamp_text())
        return time.monotonic() - started

    def version(self) -> str | None:
        """The installed version of ``version_of``, or ``None`` when the venv is not built."""
        if not self.is_ready():
            return None
        code = f"from importlib.metadata import version; print(version({self.version_of!r}))"
        out = subprocess.run(
            [str(self.python()), "-c", code], capture_output=True, text=True, timeout=120
        )
        return out.stdout.strip() or None


def pip_command(
    python: Path, requirements: Sequence[str], constraints: Path, quiet: bool
) -> list[str]:
    """``pip install`` of ``requirements`` in the venv of ``python``, under ``constraints``."""
    argv = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    if quiet:
        argv.append("--quiet")
    return [*argv, "-c", str(constraints), *requirements]


def site_packages(venv: Path) -> Path:
    return next(venv.glob("lib/python3*/site-packages"), venv / "lib" / "site-packages")


def record_entries(dist_info: Path) -> set[tuple[str, str, str]]:
    """(path, hash, size) of each hashed file of a wheel's ``RECORD``, inside site-packages."""
    entries = set()
    for line in (dist_info / "RECORD").read_text().splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[1] and ".." not in Path(parts[0]).parts:
            entries.add((parts[0], parts[1], parts[2]))
    return entries


def share_identical(target: Path, source: Path) -> int:
    """Hard-link ``target``'s files that ``source`` holds from the same wheel; bytes saved."""
    saved = 0
    for dist_info in target.glob("*.dist-info"):
        twin = source / dist_info.name
        if not (dist_info / "RECORD").is_file() or not (twin / "RECORD").is_file():
            continue
        for path, _, size in record_entries(dist_info) & record_entries(twin):
            mine, theirs = target / path, source / path
            try:
                if os.path.samefile(mine, theirs) or mine.stat().st_size != int(size):
                    continue
                if theirs.stat().st_size != int(size):
                    continue
                temporary = mine.with_name(mine.name + ".peer-link")
                os.link(theirs, temporary)
                os.replace(temporary, mine)
            except (OSError, ValueError):
                continue
            saved += int(size)
    return saved


def ensure_logged(env: PeerEnv, log: Callable[[str], None] = print) -> None:
    """``env.ensure()``, saying so when it has to build the venv (minutes, once)."""
    if not env.is_ready():
        log(f"{env.name}: building {env.venv} (once, a few minutes)")
        log(f"{env.name}: installed in {env.ensure():.0f} s")
