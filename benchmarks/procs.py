"""What the processes under test hold, read from ``/proc``: memory, CPU time, CUDA.

- ``pss_bytes(pid)``: proportional set size from ``/proc/<pid>/smaps_rollup`` (pages
  shared by N processes count 1/N in each, so the PSS of a process tree adds up to what
  the tree really costs; RSS would count torch's shared libraries once per process).
- ``cpu_seconds(pid)``: user + system CPU time from ``/proc/<pid>/stat``.
- ``cuda_evidence(pid)``: whether the CUDA driver (``libcuda.so``) is mapped and which
  ``/dev/nvidia*`` device files are open: a process that created a CUDA context has both.
- ``tree(pid)``: the process and its live descendants, each with its parent and command.
- ``start_time(pid)``: when it started (clock ticks since boot): a pid plus its start
  time names one process even after the pid is reused.
- ``state(pid)``: its state letter (``R``, ``S``, ``T`` stopped, ``Z`` zombie ...).
- ``running(pid, started)``: whether that very process still runs (not gone, not a zombie).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CUDA_DRIVER = "libcuda.so"
GPU_DEVICE_PREFIX = "/dev/nvidia"


@dataclass(frozen=True)
class Proc:
    """One process of a tree: its pid, parent pid and command line."""

    pid: int
    ppid: int
    cmdline: str

    def has_children_in(self, procs: list[Proc]) -> bool:
        return any(p.ppid == self.pid for p in procs)


def _stat_fields(pid: int) -> list[str]:
    """``/proc/<pid>/stat`` after the command name (field 3 onwards), or [] if gone."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def cmdline(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def parents() -> dict[int, int]:
    """pid -> parent pid of every live, non-zombie process (one scan of /proc)."""
    found: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[0] != "Z":
                found[int(entry.name)] = int(fields[1])
    return found


def tree(pid: int, table: dict[int, int] | None = None) -> list[Proc]:
    """``pid`` and every live descendant, parents first (``table``: a ``parents()`` scan)."""
    table = parents() if table is None else table
    if pid not in table:
        return []
    children: dict[int, list[int]] = {}
    for child, parent in table.items():
        children.setdefault(parent, []).append(child)
    found = [Proc(pid, table[pid], cmdline(pid))]
    todo = [pid]
    while todo:
        for child in sorted(children.get(todo.pop(0), [])):
            found.append(Proc(child, table[child], cmdline(child)))
            todo.append(child)
    return found


def rollup(pid: int) -> dict[str, int] | None:
    """``/proc/<pid>/smaps_rollup`` in bytes (``Rss``, ``Pss``, ...); ``None`` if gone."""
    try:
        text = (PROC / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return out or None


def pss_bytes(pid: int) -> int | None:
    """Proportional set size of ``pid`` in bytes; ``None`` if it is gone or unreadable."""
    found = rollup(pid)
    return None if found is None else found.get("Pss")


def start_time(pid: int) -> str | None:
    """``pid``'s start time (``/proc/<pid>/stat`` field 22), ``None`` if it is gone."""
    fields = _stat_fields(pid)
    return fields[19] if fields else None


def state(pid: int) -> str | None:
    """``pid``'s state letter (``/proc/<pid>/stat`` field 3), ``None`` if it is gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def running(pid: int, started: str) -> bool:
    """True while the process ``pid`` that started at ``started`` runs (a zombie has ended)."""
    fields = _stat_fields(pid)
    return bool(fields) and fields[19] == started and fields[0] != "Z"


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by ``pid`` (its threads included)."""
    fields = _stat_fields(pid)
    if not fields:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CudaEvidence:
    """What a process shows of CUDA: the driver mapped, GPU device files open."""

    pid: int
    driver_mapped: bool
    gpu_files: tuple[str, ...]

    @property
    def touched(self) -> bool:
        return self.driver_mapped or bool(self.gpu_files)


def cuda_evidence(pid: int, driver: str = CUDA_DRIVER) -> CudaEvidence:
    """Read ``/proc/<pid>/maps`` (the driver library) and ``/proc/<pid>/fd`` (devices)."""
    mapped = False
    with contextlib.suppress(OSError):
        mapped = any(
            Path(line.split()[-1]).name.startswith(driver)
            for line in (PROC / str(pid) / "maps").read_text().splitlines()
            if len(line.split()) >= 6
        )
    files: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in (PROC / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith(GPU_DEVICE_PREFIX):
                    files.add(target)
    return CudaEvidence(pid, mapped, tuple(sorted(files)))
