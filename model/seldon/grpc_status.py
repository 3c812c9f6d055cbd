"""Give our errors their gRPC status codes inside Seldon's Python wrapper.

seldon-core 1.17.1 lets every exception raised by a component escape its gRPC servicer,
which gRPC reports as ``UNKNOWN``. ``install()`` wraps the wrapper's servicer methods once
so that an error of our hierarchy (or Seldon's own ``SeldonMicroserviceException``) aborts
the call with the code from ``model.errors.grpc_status`` and the Seldon ``status`` body as
JSON details. It also makes the wrapper register lenient request parsing first, so bytes
that are not a valid protobuf (or nest too deeply to parse) get INVALID_ARGUMENT instead
of gRPC's own INTERNAL "Exception deserializing request!". Components call it from their
constructor, which the wrapper runs before it builds its gRPC server.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from seldon_core.flask_utils import SeldonMicroserviceException

from model.errors import InvalidInput, SeldonGraphError, as_error, grpc_status, status_dict

MAX_DETAILS = 4096  # gRPC trailers over ~16 KiB are dropped by clients ("Stream removed")
_METHODS = ("Predict", "SendFeedback", "TransformInput", "TransformOutput", "Route", "Aggregate")
_SERVICES = ("Generic", "Model", "Transformer", "OutputTransformer", "Combiner", "Router", "Seldon")
_lock = threading.Lock()
_installed = False


def details(error: SeldonGraphError) -> str:
    """The Seldon ``status`` JSON for a gRPC abort, with ``info`` cut to fit a trailer."""
    info = error.message
    if len(info) > MAX_DETAILS:
        info = info[: MAX_DETAILS - 20] + " ... (truncated)"
    return json.dumps(status_dict(info, error.reason, error.status_code))


@dataclass(frozen=True)
class Undecodable:
    """Request bytes that do not parse as the expected protobuf message."""

    kind: str
    error: str

    def as_error(self) -> InvalidInput:
        return InvalidInput(f"the request is not a valid {self.kind}: {self.error}")


def lenient_parser(message_cls: Any) -> Callable[[bytes], Any]:
    """A request deserializer that returns ``Undecodable`` instead of raising.

    gRPC answers INTERNAL (sync server) or UNKNOWN (grpc.aio) when a deserializer raises;
    handing the failure to the servicer lets it answer INVALID_ARGUMENT instead.
    """

    def parse(raw: bytes) -> Any:
        try:
            return message_cls.FromString(raw)
        except Exception as exc:  # DecodeError; RecursionError on absurd nesting
            return Undecodable(message_cls.DESCRIPTOR.name, f"{type(exc).__name__}: {exc}")

    return parse


def _lenient_handler(service: str, servicer: Any) -> grpc.GenericRpcHandler:
    """Handlers for the wrapped methods of ``seldon.protos.<service>``, lenient parsing."""
    from seldon_core.proto import prediction_pb2

    handlers = {}
    for method in prediction_pb2.DESCRIPTOR.services_by_name[service].methods:
        if method.name in _METHODS:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                getattr(servicer, method.name),
                request_deserializer=lenient_parser(
                    getattr(prediction_pb2, method.input_type.name)
                ),
                response_serializer=getattr(
                    prediction_pb2, method.output_type.name
                ).SerializeToString,
            )
    return grpc.method_handlers_generic_handler(f"seldon.protos.{service}", handlers)


def _install_lenient_parsing() -> None:
    """Make the wrapper's ``add_<Service>Servicer_to_server`` register lenient handlers
    first (gRPC uses the first handler that knows a method)."""
    from seldon_core.proto import prediction_pb2_grpc

    for service in _SERVICES:
        name = f"add_{service}Servicer_to_server"
        original = getattr(prediction_pb2_grpc, name)

        def add(servicer: Any, server: Any, _add: Any = original, _service: str = service) -> None:
            server.add_generic_rpc_handlers((_lenient_handler(_service, servicer),))
            _add(servicer, server)

        setattr(prediction_pb2_grpc, name, add)


def _mapped(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            if isinstance(request, Undecodable):
                raise request.as_error()
            return method(self, request, context)
        except SeldonMicroserviceException as exc:
            error = as_error(exc)
            context.abort(grpc_status(error), details(error))

    return call


def install() -> None:
    """Patch ``seldon_core.wrapper.SeldonModelGRPC`` once per process (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        from seldon_core.wrapper import SeldonModelGRPC

        for name in _METHODS:
            setattr(SeldonModelGRPC, name, _mapped(getattr(SeldonModelGRPC, name)))
        _install_lenient_parsing()
        _installed = True
