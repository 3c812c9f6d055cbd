"""The project's one error hierarchy, and its one mapping to HTTP and gRPC status.

Every error names what was wrong and where (field, shape, YAML path). Errors subclass
Seldon's ``SeldonMicroserviceException`` so the Seldon Python wrapper turns them into an
HTTP reply with a Seldon ``status`` body; ``grpc_code`` gives the matching gRPC code and
``status_dict`` the body, for the gRPC side and the graph gateway.

The mapping is the classes themselves: each holds its HTTP ``status_code``, its
``grpc_code`` and its Seldon ``reason``. Reading a status back (a node's HTTP reply, a gRPC
code, a foreign exception) goes through the same classes: :func:`error_for_http`,
:func:`error_for_grpc`, :func:`http_for_grpc`. An error that must carry another status
or reason than its class's says so to the constructor; :meth:`SeldonGraphError.with_message`
gives the same error with another message.
"""

from __future__ import annotations

import copy
from typing import Any, Self

import grpc
from seldon_core.flask_utils import SeldonMicroserviceException


class SeldonGraphError(SeldonMicroserviceException):
    """Base class: an HTTP status, a gRPC code and a Seldon ``reason``."""

    status_code = 500
    grpc_code = grpc.StatusCode.INTERNAL
    reason = "MICROSERVICE_INTERNAL_ERROR"

    def __init__(
        self, message: str, *, status_code: int | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message, status_code=status_code, reason=reason or type(self).reason)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # copy and pickle keep the class and every attribute (constructors differ per class)
        return (_restore, (type(self), dict(self.__dict__)))

    def with_message(self, message: str) -> Self:
        """The same error (class, status, gRPC code, reason, path ...) saying ``message``."""
        error = copy.copy(self)
        error.message = message
        return error

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


def _restore(cls: type[SeldonGraphError], state: dict[str, Any]) -> SeldonGraphError:
    error = Exception.__new__(cls)
    error.__dict__.update(state)
    return error


# What a status or code seen on the wire reads back as (each class holds one of each).
_WIRE_CLASSES: tuple[type[SeldonGraphError], ...] = (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    Timeout,
    InternalError,
)
_CLASS_BY_HTTP = {cls.status_code: cls for cls in _WIRE_CLASSES}
_CLASS_BY_GRPC = {cls.grpc_code: cls for cls in _WIRE_CLASSES}
# gRPC codes read as a status of their own (gRPC's HTTP mapping), before the classes'.
_HTTP_BY_GRPC_CODE = {
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
}


def error_for_http(code: int, message: str, reason: str = "") -> SeldonGraphError:
    """The error for an HTTP failure status: its class when one holds ``code``, otherwise
    ``InvalidInput`` for a 4xx and ``InternalError`` for the rest; the status is kept
    (anything outside 400..599 becomes 500), and ``reason`` replaces the class's."""
    cls = _CLASS_BY_HTTP.get(code) or (InvalidInput if 400 <= code < 500 else InternalError)
    return cls(message, status_code=code if 400 <= code < 600 else 500, reason=reason or None)


def http_for_grpc(code: grpc.StatusCode) -> int:
    """The HTTP status a gRPC code reads as (500 for codes without one)."""
    if code in _HTTP_BY_GRPC_CODE:
        return _HTTP_BY_GRPC_CODE[code]
    cls = _CLASS_BY_GRPC.get(code)
    return int(cls.status_code) if cls is not None else 500


def error_for_grpc(code: grpc.StatusCode, message: str, reason: str = "") -> SeldonGraphError:
    """The error for a gRPC failure code (through its HTTP status)."""
    return error_for_http(http_for_grpc(code), message, reason)


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
        return as_error(exc).grpc_code
    return grpc.StatusCode.INTERNAL


def as_error(exc: BaseException) -> SeldonGraphError:
    """Wrap a foreign exception (Seldon's own included) in the hierarchy."""
    if isinstance(exc, SeldonGraphError):
        return exc
    if isinstance(exc, SeldonMicroserviceException):  # as its REST reply would read
        return error_for_http(int(exc.status_code), str(exc.message), str(exc.reason or ""))
    return InternalError(f"{type(exc).__name__}: {exc}")
