"""What the executor needs from a node, whatever the transport.

``NodeClient`` is the one interface (REST, gRPC and in-process clients implement it);
``NodeEndpoint`` says where a node listens; ``Timeouts`` holds the per-call limits read
from the ``seldon.io/rest-timeout`` and ``seldon.io/grpc-timeout`` annotations (ms), and
``node_error`` turns a node's failure status into the project's error, keeping its code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from graph import executor_annotations
from graph.payload import Payload
from model.errors import ManifestError, SeldonGraphError, error_for_http

log = logging.getLogger(__name__)

REST_TIMEOUT_ANNOTATION = executor_annotations.REST_TIMEOUT
GRPC_TIMEOUT_ANNOTATION = executor_annotations.GRPC_TIMEOUT
# Seldon's executor waits forever without an annotation; a stuck node must not hang a
# request here, so the default is generous but finite (docs/seldon-fidelity.md, Timeouts).
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class NodeEndpoint:
    """Where a node's ``seldon-core-microservice`` listens."""

    host: str
    http_port: int
    grpc_port: int

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"


@dataclass(frozen=True)
class Timeouts:
    """Seconds a single node call may take, per transport."""

    rest_s: float = DEFAULT_TIMEOUT_S
    grpc_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_annotations(cls, *annotations: Mapping[str, str]) -> Timeouts:
        """What Seldon Core 1.17.1's executor reads (``graph/executor_annotations.py``):
        the executor pod's annotations, given in the operator's order (later wins):
        ``seldon.io/rest-timeout`` and ``seldon.io/grpc-timeout`` only, in ms.

        An unparsable rest-timeout is a :class:`ManifestError` (the executor would not
        start); an unparsable grpc-timeout is logged and ignored; 0 or less is no REST
        timeout but an expired gRPC deadline. Where the executor has no timeout (none
        given, or its annotations file unreadable), ``DEFAULT_TIMEOUT_S`` applies: a
        deliberate difference, so a stuck node never hangs the gateway.
        """
        merged: dict[str, str] = {}
        for mapping in annotations:
            merged.update({str(k): str(v) for k, v in mapping.items()})
        if not executor_annotations.readable(merged):
            log.warning("an executor annotation value holds '=': Seldon's executor reads none")
            return cls()
        rest = merged.get(REST_TIMEOUT_ANNOTATION, "")
        try:
            rest_ms = executor_annotations.rest_timeout_ms(rest)
        except ValueError as exc:
            raise ManifestError(
                f"annotation {REST_TIMEOUT_ANNOTATION} must be whole milliseconds, got "
                f"{rest!r}: Seldon's executor does not start with it"
            ) from exc
        grpc = merged.get(GRPC_TIMEOUT_ANNOTATION, "")
        try:
            grpc_ms = executor_annotations.grpc_timeout_ms(grpc)
        except ValueError:
            log.warning("ignoring annotation %s=%r (not whole milliseconds), as Seldon's "
                        "executor does", GRPC_TIMEOUT_ANNOTATION, grpc)  # fmt: skip
            grpc_ms = None
        return cls(
            rest_s=DEFAULT_TIMEOUT_S if rest_ms is None else rest_ms / 1000.0,
            grpc_s=DEFAULT_TIMEOUT_S if grpc_ms is None else max(grpc_ms, 0) / 1000.0,
        )


@runtime_checkable
class NodeClient(Protocol):
    """Calls one graph node. Every method raises a ``SeldonGraphError`` on failure."""

    name: str

    async def predict(self, payload: Payload, puid: str) -> Payload: ...

    async def transform_input(self, payload: Payload, puid: str) -> Payload: ...

    async def transform_output(self, payload: Payload, puid: str) -> Payload: ...

    async def route(self, payload: Payload, puid: str) -> Payload:
        """The router's reply; read the child index with ``reply.route_value()``."""
        ...

    async def aggregate(self, payloads: Sequence[Payload], puid: str) -> Payload: ...

    async def send_feedback(self, payload: Payload, puid: str) -> Payload: ...

    async def close(self) -> None:
        """Release what the client owns (shared sessions/channels are not closed)."""
        ...


def node_error(node: str, code: int, info: str, reason: str = "") -> SeldonGraphError:
    """The project error for a node's failure status (``model.errors.error_for_http``: 4xx
    stays 4xx), the node name prefixed."""
    message = f"node {node}: {info}" if info else f"node {node} failed with status {code}"
    return error_for_http(code, message, reason)


def failure_error(
    node: str, failure: Mapping[str, Any], default_code: int = 500
) -> SeldonGraphError:
    """``node_error`` from a Seldon ``status`` dict."""
    try:
        code = int(failure.get("code") or default_code)
    except (TypeError, ValueError):
        code = default_code
    return node_error(node, code, str(failure.get("info") or ""), str(failure.get("reason") or ""))
