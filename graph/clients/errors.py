"""The errors of a node call as Seldon Core 1.17.1's executor reports them.

``NodeStatusError``: a REST node answered non-200; the client gets the node's status and
body unchanged (``executor/api/rest/client.go``, ``server.go``). ``ExecutorError``: the
executor's own failure (node down, timeout, a router's failed ``/route``): its status
(500, or the router's) with the body ``{"status":{"code":500,"info":...,"status":"FAILURE"}}``.
``NodeGrpcError``: a gRPC node's status code and details, passed through unchanged
(``executor/api/grpc/seldon/server.go``). All are ``SeldonGraphError``s (``model.errors``).
"""

from __future__ import annotations

import json

import grpc

from model.errors import SeldonGraphError, http_for_grpc

# Go's net/http sniffs an error body written after its status: JSON text reads as this.
ERROR_CONTENT_TYPE = "text/plain; charset=utf-8"


class NodeStatusError(SeldonGraphError):
    """A node's non-200 reply: its status, body and Content-Type, kept for the client."""

    def __init__(self, node: str, status: int, body: bytes, content_type: str) -> None:
        text = body[:300].decode(errors="replace")
        super().__init__(f"node {node} answered {status}: {text}", status_code=status)
        self.body = body
        self.content_type = content_type


class ExecutorError(SeldonGraphError):
    """The executor's own error reply; ``info`` is its text (a Go ``url.Error`` for a
    node that is down or too slow)."""

    def __init__(self, info: str, status: int = 500) -> None:
        super().__init__(info, status_code=status)

    @property
    def body(self) -> bytes:
        status = {"code": 500, "info": self.message, "status": "FAILURE"}
        return json.dumps({"status": status}, separators=(",", ":")).encode()


class NodeGrpcError(SeldonGraphError):
    """A gRPC node's failure status, passed through to the gRPC client as it came."""

    def __init__(self, node: str, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"node {node}: {code.name}: {details}", status_code=http_for_grpc(code))
        self.code = code
        self.details = details
        self.grpc_code = code
