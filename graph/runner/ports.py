"""Free TCP ports for processes started later (node processes, gateways, test servers).

Seldon 1.17.1 binds every node port to ``0.0.0.0`` (no option), so a port counts as free
only when it can be bound on all interfaces. A port found free is handed to another
process, which binds it a moment (or seconds) later; meanwhile nothing may take it. So the
ports are drawn at random from *below* the kernel's ephemeral range
(``net.ipv4.ip_local_port_range``): a port-0 bind or an outgoing connection of any process
takes its port from that range, never from below it, and random draws make two pickers
meeting on one port unlikely. A process hands a port out again only after 4096 others
(by then its first receiver has long bound it, or let it go).
"""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path

LOOPBACK = "127.0.0.1"
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10000  # under this live well-known services (9090, 8080, 6000 ...)
_DRAW = random.SystemRandom()  # never the seeded module generator (serve --seed)
_REMEMBERED = 4096
_HANDED_OUT: dict[int, None] = {}  # insertion-ordered: the oldest is dropped first


def ephemeral_start() -> int:
    """The first port of the kernel's ephemeral range (32768 when it cannot be read)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _kernel_pick() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports, free on every interface right now, below the ephemeral
    range, none among this process's last 4096."""
    top = ephemeral_start()
    ports: list[int] = []
    for _ in range(count):
        for _attempt in range(200):
            port = _DRAW.randrange(LOWEST, top) if top - LOWEST >= 1000 else _kernel_pick()
            if port not in _HANDED_OUT and _bindable(port):
                break
        else:
            raise OSError(f"no free TCP port found in {LOWEST}-{top - 1}")
        _HANDED_OUT[port] = None
        if len(_HANDED_OUT) > _REMEMBERED:
            del _HANDED_OUT[next(iter(_HANDED_OUT))]
        ports.append(port)
    return ports


def free_port() -> int:
    """One port as :func:`free_ports` hands them out."""
    return free_ports(1)[0]


def port_accepts(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout):
        return True
    return False


def port_is_free(port: int) -> bool:
    """True when ``port`` can be bound on every interface (nobody listens on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True
