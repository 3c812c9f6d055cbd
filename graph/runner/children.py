"""Children forked inside the gateway process stop with it.

In-process mode runs the components in the gateway; seldon-core's ``SeldonMetrics``
starts a ``multiprocessing`` manager there (a forked child). A forked child inherits
the gateway's signal set-up: asyncio's SIGINT/SIGTERM handlers do nothing but write to
the gateway's wake-up pipe, so the manager ignores SIGTERM and outlives a gateway that
exits without running multiprocessing's own clean-up (a second signal, a crash, a
SIGKILL). ``install`` makes every child forked from now on take the default action on
SIGINT/SIGTERM and get SIGTERM when the gateway dies (Linux ``PR_SET_PDEATHSIG``);
``kill_forked`` SIGKILLs those still running (the second-signal path).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
_installed = False


def _in_child() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, signal.SIG_DFL)
    with contextlib.suppress(ValueError, OSError):
        signal.set_wakeup_fd(-1)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def install() -> None:
    """Register the fork hook once per process."""
    global _installed
    if not _installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_in_child)
        _installed = True


def kill_forked() -> None:
    """SIGKILL every ``multiprocessing`` child of this process (no clean-up will run)."""
    for child in multiprocessing.active_children():
        log.info("killing forked child %s (pid %s)", child.name, child.pid)
        with contextlib.suppress(OSError, ValueError):
            child.kill()
