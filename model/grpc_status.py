"""Give our errors their gRPC status codes inside Seldon's Python wrapper.

seldon-core 1.17.1 lets every exception raised by a component escape its gRPC servicer,
which gRPC reports as ``UNKNOWN``. ``install()`` wraps the wrapper's servicer methods once
so that an error of our hierarchy (or Seldon's own ``SeldonMicroserviceException``) aborts
the call with the code from ``model.errors.grpc_status`` and the Seldon ``status`` body as
JSON details. Components call it from their constructor, which the wrapper runs before it
builds its gRPC server.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from typing import Any

import grpc
from seldon_core.flask_utils import SeldonMicroserviceException

from model.errors import as_error, grpc_status

_METHODS = ("Predict", "SendFeedback", "TransformInput", "TransformOutput", "Route", "Aggregate")
_lock = threading.Lock()
_installed = False


def _mapped(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except SeldonMicroserviceException as exc:
            error = as_error(exc)
            context.abort(grpc_status(error), json.dumps(error.to_dict()))

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
        _installed = True
