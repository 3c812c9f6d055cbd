"""A small HTTP server on 127.0.0.1 that answers like a Kubernetes API server without the
Seldon CRD: 404 (a Status body) for discovery of ``machinelearning.seldon.io/v1`` and for
every SeldonDeployment path, as a real server answers before Seldon Core is installed.

Every request is recorded in ``log`` (method and path), so a test can also prove that
nothing was sent. What a server with the CRD does (conflicts, patches, dry runs, RBAC) is
tested against the real kube-apiserver in tests/cluster.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOT_FOUND = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "the server could not find the requested resource",
    "reason": "NotFound",
    "code": 404,
}


class _Handler(BaseHTTPRequestHandler):
    log: list[tuple[str, str]]

    def log_message(self, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.log.append((self.command, self.path))
        data = json.dumps(NOT_FOUND).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = _handle


class FakeApiServer:
    """Start with ``start()``; ``url`` is http://127.0.0.1:PORT; always ``stop()``."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        handler = type("Handler", (_Handler,), {"log": self.log})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeApiServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
