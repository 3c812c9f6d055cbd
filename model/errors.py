"""The project's one error hierarchy, and its one mapping to HTTP and gRPC status.

Every error names what was wrong and where (field, shape, YAML path). Errors subclass
Seldon's ``SeldonMicroserviceException`` so the Seldon Python wrapper turns them into an
HTTP reply with a Seldon ``status`` body; ``grpc_code`` gives the matching gRPC code and
``status_dict`` the body, for the gRPC side and the graph gateway.
"""

from __future__ import annotations

from typing import Any

import grpc
from seldon_core.flask_utils import SeldonMicroserviceException


class SeldonGraphError(SeldonMicroserviceException):
    """Base class: an HTTP status, a gRPC code and a Seldon ``reason``."""

    status_code = 500
    grpc_code = grpc.StatusCode.INTERNAL
    reason = "MICROSERVICE_INTERNAL_ERROR"

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message, status_code=status_code, reason=type(self).reason)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return status_dict(self.message, self.reason, self.status_code)


class InvalidInput(SeldonGraphError):
    """The request is malformed: bad JSON, shape, dtype, values or image bytes."""

    status_code = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "MICROSERVICE_BAD_DATA"


class PayloadTooLarge(InvalidInput):
    """The request (body, pixels or batch) is over a configured maximum."""

    status_code = 413
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "PAYLOAD_TOO_LARGE"


class NotFound(SeldonGraphError):
    """Unknown deployment, predictor or path."""

    status_code = 404
    grpc_code = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"


class Unavailable(SeldonGraphError):
    """A node or the model is not ready (down, restarting, still loading, draining)."""

    status_code = 503
    grpc_code = grpc.StatusCode.UNAVAILABLE
    reason = "SERVICE_UNAVAILABLE"


class Timeout(SeldonGraphError):
    """A node did not answer within its timeout."""

    status_code = 504
    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "TIMEOUT"


class ArtifactError(SeldonGraphError):
    """A model artifact is missing, unreadable or fails its sha256 check."""

    status_code = 500
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "ARTIFACT_ERROR"


class ConfigError(SeldonGraphError):
    """A component parameter, setting or manifest value is invalid."""

    status_code = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "CONFIG_ERROR"


class ManifestError(ConfigError):
    """A SeldonDeployment is invalid; ``path`` is the YAML path of the bad value."""

    reason = "INVALID_MANIFEST"

    def __init__(self, message: str, path: str = "") -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class InternalError(SeldonGraphError):
    """A bug or an unexpected failure (never caused by input)."""


def status_dict(info: str, reason: str, code: int) -> dict[str, Any]:
    """The Seldon ``status`` body of a failed reply (REST JSON form)."""
    return {"status": {"code": code, "info": info, "reason": reason, "status": "FAILURE"}}


def http_status(exc: BaseException) -> int:
    """The HTTP status for any exception: ours keep theirs, anything else is a 500."""
    if isinstance(exc, SeldonMicroserviceException):
        return int(exc.status_code)
    return 500


def grpc_status(exc: BaseException) -> grpc.StatusCode:
    """The gRPC code for any exception: ours keep theirs, anything else is INTERNAL."""
    if isinstance(exc, SeldonGraphError):
        return exc.grpc_code
    if isinstance(exc, SeldonMicroserviceException):
        return _GRPC_BY_HTTP.get(int(exc.status_code), grpc.StatusCode.INTERNAL)
    return grpc.StatusCode.INTERNAL


def as_error(exc: BaseException) -> SeldonGraphError:
    """Wrap a foreign exception (Seldon's own included) in the hierarchy."""
    if isinstance(exc, SeldonGraphError):
        return exc
    if isinstance(exc, SeldonMicroserviceException):
        cls = _CLASS_BY_HTTP.get(int(exc.status_code), InternalError)
        return cls(str(exc.message))
    return InternalError(f"{type(exc).__name__}: {exc}")


_GRPC_BY_HTTP = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}
_CLASS_BY_HTTP: dict[int, type[SeldonGraphError]] = {
    400: InvalidInput,
    404: NotFound,
    413: PayloadTooLarge,
    503: Unavailable,
    504: Timeout,
}
