"""The MLServer virtualenv of the ``mlserver`` scenario: ``benchmarks/.work/mlserver-venv``.

MLServer 1.7 needs pydantic 2, the project pins pydantic 1 (Seldon Core 1.17), so MLServer
lives in a venv of its own. ``ensure()`` creates it once; a stamp file that records the
pinned requirements makes later calls free (a changed pin rebuilds it). torch and
torchvision are pinned with ``==`` to the project's versions so pip takes them from the
local wheels instead of resolving another torch.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WORK = ROOT / ".work"
VENV = WORK / "mlserver-venv"
STAMP = VENV / ".installed"
# uvloop 0.22+ crashes MLServer's worker on Python 3.11; torch pins match constraints.txt.
REQUIREMENTS = (
    "mlserver==1.7.*",
    "uvloop==0.21.*",
    "torch==2.14.1",
    "torchvision==0.29.1",
)


def python() -> Path:
    return VENV / "bin" / "python"


def mlserver_bin() -> Path:
    return VENV / "bin" / "mlserver"


def is_ready() -> bool:
    return STAMP.is_file() and STAMP.read_text() == "\n".join(REQUIREMENTS)


def ensure(*, quiet: bool = True, timeout_s: float = 1800.0) -> Path:
    """Create (or reuse) the venv; return the path of its ``mlserver`` executable."""
    if is_ready():
        return mlserver_bin()
    WORK.mkdir(parents=True, exist_ok=True)
    if not python().exists():
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(VENV)], check=True, timeout=300)
    pip = [str(python()), "-m", "pip", "install", "--disable-pip-version-check"]
    if quiet:
        pip.append("--quiet")
    subprocess.run([*pip, *REQUIREMENTS], check=True, timeout=timeout_s)
    STAMP.write_text("\n".join(REQUIREMENTS))
    return mlserver_bin()


def version() -> str | None:
    """The installed MLServer version, or ``None`` when the venv is not built."""
    if not is_ready():
        return None
    out = subprocess.run(
        [str(python()), "-c", "import mlserver; print(mlserver.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out.stdout.strip() or None


if __name__ == "__main__":
    print(ensure(quiet=False))
