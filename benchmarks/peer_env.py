"""Virtualenvs of the peer scenarios: ``benchmarks/.work/<name>-venv``, built on first use.

The same idea as ``mlserver_env`` for any peer: ``PeerEnv.ensure()`` creates the venv once,
installs the project's torch and torchvision first (they lie on this machine's disk; any
other torch version would download gigabytes), then the peer's pinned requirements under a
constraints file that holds torch and torchvision at those versions, so pip can never
resolve another torch. A stamp file records the requirements: later calls are free, a
changed pin rebuilds the venv. Nothing here runs in ``make test``.
"""

from __future__ import annotations

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


def ensure_logged(env: PeerEnv, log: Callable[[str], None] = print) -> None:
    """``env.ensure()``, saying so when it has to build the venv (minutes, once)."""
    if not env.is_ready():
        log(f"{env.name}: building {env.venv} (once, a few minutes)")
        log(f"{env.name}: installed in {env.ensure():.0f} s")
