"""The virtualenvs of the peer scenarios (MLServer included), built on first use.

Each peer lives in ``<cache>/<name>-venv`` outside the work tree, so a fresh clone or
another worktree reuses it: ``<cache>`` is ``$SELDON_GRAPH_BENCH_VENVS`` if set, else
``$XDG_CACHE_HOME/seldon-graph/bench`` (default ``~/.cache/seldon-graph/bench``, next to
the cached kube-apiserver). ``PeerEnv.ensure()`` creates the venv once, installs the
project's torch and torchvision first (any other torch version would download gigabytes),
then the peer's pinned requirements under a constraints file that holds torch and
torchvision at those versions, so pip can never resolve another torch. A stamp file
records the requirements: later calls are free, a changed pin rebuilds the venv. One
build of a venv at a time (a lock file). Nothing here runs in ``make test``.

torch with its CUDA libraries takes about 5 GB a venv, the same bytes in every one. So
before pip runs, torch, torchvision and every distribution they require are installed in
the peer venv as hard links to the project venv's installed files (each file its
``RECORD`` lists inside ``site-packages``, ``*.dist-info`` included): pip then finds
torch 2.14.1 installed, downloads nothing, and the venv costs only the peer's own
packages on disk. After the install, each file that the project venv or an already built
peer venv holds from the same wheel (same ``*.dist-info`` name, same path, sha256 and
size in ``RECORD``) becomes a hard link to that copy too. pip replaces files rather than
writing into them, so an upgrade in one venv never changes another.

``project_fallback``: a ``.pth`` file appends the project venv's ``site-packages`` after
the peer's own, for peers whose services import the project's ``model`` package (the
BentoML and Ray Serve graphs run ``model.images``, which needs seldon-core and grpcio:
packages the peer venv lacks are found there). Such a peer pins numpy at the project's
version, which the packages found there are built on.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

TORCH = ("torch==2.14.1", "torchvision==0.29.1")  # the project's pins (constraints.txt)
NUMPY = "numpy==1.24.4"  # the project's pin, for peers with ``project_fallback``
PTH_NAME = "zz-seldon-graph-project.pth"


def cache_dir() -> Path:
    """Where the peer venvs live (see the module docstring)."""
    chosen = os.environ.get("SELDON_GRAPH_BENCH_VENVS")
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "seldon-graph" / "bench"


WORK = cache_dir()


@dataclass(frozen=True)
class PeerEnv:
    """One peer's venv: its name and its pinned requirements (torch comes on its own)."""

    name: str
    requirements: tuple[str, ...]
    version_of: str  # the distribution whose version the report records
    project_fallback: bool = False  # the project's site-packages after the peer's own

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
        fallback = (project_site_packages(),) if self.project_fallback else ()
        return "\n".join((*TORCH, *self.requirements, *fallback))

    def is_ready(self) -> bool:
        return self.stamp.is_file() and self.stamp.read_text() == self.stamp_text()

    def ensure(self, *, quiet: bool = True, timeout_s: float = 1800.0) -> float:
        """Create (or reuse) the venv; return the seconds the install took (0 if reused)."""
        if self.is_ready():
            return 0.0
        started = time.monotonic()
        self.venv.parent.mkdir(parents=True, exist_ok=True)
        with open(self.venv.parent / f".{self.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a second caller waits, then finds it built
            if not self.is_ready():
                self._build(quiet, timeout_s)
        return time.monotonic() - started

    def _build(self, quiet: bool, timeout_s: float) -> None:
        if not self.python().exists():
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", str(self.venv)], check=True, timeout=300)
        site = site_packages(self.venv)
        project = Path(project_site_packages())
        present = _dist_infos(site)  # pip and setuptools of the new venv stay its own
        for name in requirement_closure(project, [t.split("==")[0] for t in TORCH]):
            if name not in present:
                link_distribution(project, site, name)
        constraints = self.venv / "constraints.txt"
        constraints.write_text("\n".join(TORCH) + "\n")
        for group in (TORCH, self.requirements):
            subprocess.run(
                pip_command(self.python(), group, constraints, quiet),
                check=True,
                timeout=timeout_s,
            )
        for source in share_sources(self.venv):
            share_identical(site, source)
        if self.project_fallback:
            (site / PTH_NAME).write_text(project_site_packages() + "\n")
        self.stamp.write_text(self.stamp_text())

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


def project_site_packages() -> str:
    """The ``site-packages`` of the interpreter running the benchmarks (the project venv)."""
    return sysconfig.get_paths()["purelib"]


def share_sources(venv: Path) -> list[Path]:
    """Where identical files may already lie: the project venv, then the built peer venvs."""
    others = [site_packages(v) for v in sorted(venv.parent.glob("*-venv"))
              if v != venv and (v / ".installed").is_file()]  # fmt: skip
    return [Path(project_site_packages()), *others]


def record_entries(dist_info: Path) -> set[tuple[str, str, str]]:
    """(path, hash, size) of each hashed file of a wheel's ``RECORD``, inside site-packages."""
    entries = set()
    for line in (dist_info / "RECORD").read_text().splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[1] and ".." not in Path(parts[0]).parts:
            entries.add((parts[0], parts[1], parts[2]))
    return entries


def _dist_infos(site: Path) -> dict[str, Path]:
    """Normalised distribution name -> its ``*.dist-info`` folder in ``site``."""
    found = {}
    for info in site.glob("*.dist-info"):
        name = info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        found[_normal(name)] = info
    return found


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def requirement_closure(site: Path, roots: Sequence[str]) -> list[str]:
    """``roots`` and every distribution they require (markers evaluated), found in ``site``."""
    from importlib.metadata import PathDistribution

    from packaging.requirements import Requirement

    infos = _dist_infos(site)
    todo: list[tuple[str, str]] = [(_normal(r), "") for r in roots]
    seen: set[tuple[str, str]] = set()
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen or name not in infos:
            continue
        seen.add((name, extra))
        for line in PathDistribution(infos[name]).requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": extra}):
                todo += [(_normal(req.name), e) for e in ("", *req.extras)]
    return sorted({name for name, _ in seen})


def link_distribution(source: Path, target: Path, name: str) -> None:
    """Install distribution ``name`` of site-packages ``source`` into ``target`` as links.

    Every file its ``RECORD`` lists inside ``site-packages`` becomes a hard link to
    ``source``'s copy (scripts outside it, in ``bin/``, are left out).
    """
    info = _dist_infos(source)[_normal(name)]
    listed = [line.rsplit(",", 2)[0] for line in (info / "RECORD").read_text().splitlines()]
    metadata = [str(p.relative_to(source)) for p in info.iterdir()]  # RECORD may omit some
    for path in (*listed, *metadata):
        if not path or ".." in Path(path).parts or Path(path).is_absolute():
            continue
        mine, theirs = target / path, source / path
        if not theirs.is_file() or mine.exists():
            continue
        mine.parent.mkdir(parents=True, exist_ok=True)
        os.link(theirs, mine)


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
