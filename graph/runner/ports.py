"""Free TCP ports for node processes.

Seldon 1.17.1 binds every node port to ``0.0.0.0`` (no option), so a port counts as free
only when it can be bound on all interfaces. Ports handed out in one call are distinct;
the runner passes them to ``seldon-core-microservice`` as ``--http-port``, ``--grpc-port``
and ``--metrics-port`` and reaches the nodes on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import socket

LOOPBACK = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on every interface right now."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("0.0.0.0", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


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
