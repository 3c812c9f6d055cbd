"""What the executor needs from a node, whatever the transport.

``NodeClient`` is the one interface (REST, gRPC and in-process clients implement it);
``NodeEndpoint`` says where a node listens; ``Timeouts`` holds the per-call limits read
from the ``seldon.io/rest-timeout`` and ``seldon.io/grpc-timeout`` annotations (ms), and
``node_error`` turns a node's failure status into the project's error, keeping its code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from graph.payload import Payload
from model.errors import ConfigError, SeldonGraphError, error_for_http

REST_TIMEOUT_ANNOTATION = "seldon.io/rest-timeout"
GRPC_TIMEOUT_ANNOTATION = "seldon.io/grpc-timeout"
GRPC_READ_TIMEOUT_ANNOTATION = "seldon.io/grpc-read-timeout"  # the Ambassador spelling
# Seldon's executor waits forever without an annotation; a stuck node must not hang a
# request here, so the default is generous but finite.
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
        """Read the annotations (ms); later mappings win (deployment, then predictor)."""
        merged: dict[str, str] = {}
        for mapping in annotations:
            merged.update(mapping)
        rest = _ms(merged, REST_TIMEOUT_ANNOTATION)
        grpc = _ms(merged, GRPC_TIMEOUT_ANNOTATION) or _ms(merged, GRPC_READ_TIMEOUT_ANNOTATION)
        return cls(rest_s=rest or DEFAULT_TIMEOUT_S, grpc_s=grpc or DEFAULT_TIMEOUT_S)


def _ms(annotations: Mapping[str, str], key: str) -> float | None:
    raw = annotations.get(key)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = float(str(raw).strip().strip('"'))
    except ValueError as exc:
        raise ConfigError(f"annotation {key} must be milliseconds, got {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"annotation {key} must be positive, got {raw!r}")
    return value / 1000.0


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
