"""The virtualenv of one peer serving system: ``benchmarks/.work/<name>-venv``.

Each peer (BentoML, Ray Serve) needs pydantic 2 and its own web stack, the project pins
pydantic 1 (Seldon Core 1.17), so each lives in a venv of its own, built on first use
(never by ``make test``). ``PeerVenv.ensure()``:

1. installs the peer's pinned requirements under a constraints file that holds torch,
   torchvision and numpy at the project's versions (torch==2.14.1, torchvision==0.29.1),
   so pip can never resolve another torch (that would download gigabytes);
2. writes a ``.pth`` file that appends the project venv's ``site-packages`` *after* the
   peer's own: what the peer venv lacks is found there, torch and torchvision included
   (the same 2.14.1 install as the project's, instead of a second 5 GB copy with its
   CUDA libraries on a nearly full disk), and Pillow, seldon-core and grpcio for
   ``model.errors``, so the project's own ``model/`` code runs unchanged in the peer;
3. checks that the venv's python imports torch 2.14.1 and the peer's numpy is 1.24.4.

A stamp file records the requirements; a changed pin reinstalls.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

WORK = Path(__file__).resolve().parents[1] / ".work"
TORCH = ("torch==2.14.1", "torchvision==0.29.1")
# numpy at the project's version: packages found through the .pth file are built on it.
NUMPY = "numpy==1.24.4"
CONSTRAINTS = (*TORCH, NUMPY)
PTH_NAME = "zz-seldon-graph-project.pth"
VERSIONS = (
    "import numpy, torch, torchvision as v; "
    "print(numpy.__version__, torch.__version__, v.__version__)"
)


@dataclass(frozen=True)
class PeerVenv:
    """A peer's venv: its folder name under ``benchmarks/.work`` and its pins."""

    name: str
    requirements: tuple[str, ...]
    work: Path = WORK

    @property
    def path(self) -> Path:
        return self.work / f"{self.name}-venv"

    def bin(self, program: str) -> Path:
        return self.path / "bin" / program

    @property
    def stamp(self) -> Path:
        return self.path / ".installed"

    def stamp_text(self) -> str:
        return "\n".join((*CONSTRAINTS, *self.requirements, project_site_packages()))

    def is_ready(self) -> bool:
        return self.stamp.is_file() and self.stamp.read_text() == self.stamp_text()

    def ensure(self, *, quiet: bool = True, timeout_s: float = 1800.0) -> Path:
        """Create (or reuse) the venv; return its ``python``."""
        python = self.bin("python")
        if self.is_ready():
            return python
        self.work.mkdir(parents=True, exist_ok=True)
        if not python.exists():
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", str(self.path)], check=True, timeout=300)
        constraints = self.path / "constraints.txt"
        constraints.write_text("\n".join(CONSTRAINTS) + "\n")
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
        if quiet:
            pip.append("--quiet")
        subprocess.run([*pip, "-c", str(constraints), NUMPY, *self.requirements], check=True,
                       timeout=timeout_s)  # fmt: skip
        site = self._run("import sysconfig; print(sysconfig.get_paths()['purelib'])")
        Path(site, PTH_NAME).write_text(project_site_packages() + "\n")
        found = self._run(VERSIONS).split()
        wanted = [c.split("==")[1] for c in (NUMPY, *TORCH)]
        if [v.split("+")[0] for v in found] != wanted:
            raise RuntimeError(f"{self.path}: numpy/torch/torchvision {found}, expected {wanted}")
        self.stamp.write_text(self.stamp_text())
        return python

    def _run(self, code: str) -> str:
        out = subprocess.run([str(self.bin("python")), "-c", code], check=True,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        return out.stdout.strip()

    def version(self, package: str) -> str | None:
        """The installed version of ``package`` in the venv, or ``None`` when not built."""
        if not self.is_ready():
            return None
        code = f"from importlib.metadata import version; print(version({package!r}))"
        out = subprocess.run([str(self.bin("python")), "-c", code], capture_output=True,
                             text=True, timeout=120)  # fmt: skip
        return out.stdout.strip() or None


def project_site_packages() -> str:
    """The ``site-packages`` of the interpreter running the benchmarks (the project venv)."""
    return sysconfig.get_paths()["purelib"]
