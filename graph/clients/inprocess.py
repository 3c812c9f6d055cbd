"""Call a component object in this process, exactly as the Seldon wrapper would.

Each call goes through ``seldon_core.seldon_methods`` with the JSON dict (REST form) or
the proto (gRPC form), in a small thread pool so the event loop never blocks. JSON
requests and replies go through a JSON round trip, as over HTTP: the wrapper parses a
fresh body per request (``seldon_methods`` updates the request's meta in place) and
Flask's ``jsonify`` turns tuples into lists and rejects what JSON cannot carry. Errors
are mapped as the wrapper's handlers map them, then prefixed with the node name.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from seldon_core import seldon_methods
from seldon_core.flask_utils import SeldonMicroserviceException, get_request
from seldon_core.metrics import SeldonMetrics
from seldon_core.proto import prediction_pb2
from seldon_core.utils import json_to_feedback, seldon_message_to_json

from graph.clients.base import failure_error, node_error
from graph.payload import JsonPayload, Payload, ProtoPayload, RawPayload, feedback_proto
from model.errors import as_error

_FLASK = Flask("graph-inprocess")  # only for the wrapper's request reading


def load_component(interface: str, parameters: Sequence[Mapping[str, str]] = ()) -> Any:
    """Import ``module.Class``, build it from node parameters and call ``load()``,
    as ``seldon-core-microservice`` does."""
    from seldon_core.microservice import parse_parameters  # imports gunicorn: only here

    module_name, _, class_name = interface.rpartition(".")
    if not module_name:
        module_name = class_name = interface
    cls = getattr(importlib.import_module(module_name), class_name)
    component = cls(**parse_parameters([dict(p) for p in parameters]))
    if hasattr(component, "load"):
        component.load()
    return component


class InProcessNodeClient:
    """One node served by a component object living in this process."""

    def __init__(
        self,
        name: str,
        component: Any,
        *,
        seldon_metrics: SeldonMetrics | None = None,
        max_workers: int = 1,
    ) -> None:
        self.name = name
        self.component = component
        # one Manager process per SeldonMetrics: share one between clients where possible
        self._metrics = seldon_metrics or SeldonMetrics(worker_id_func=os.getpid)
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix=f"node-{name}")

    async def predict(self, payload: Payload, puid: str) -> Payload:
        return await self._message_call(seldon_methods.predict, payload)

    async def transform_input(self, payload: Payload, puid: str) -> Payload:
        return await self._message_call(seldon_methods.transform_input, payload)

    async def transform_output(self, payload: Payload, puid: str) -> Payload:
        return await self._message_call(seldon_methods.transform_output, payload)

    async def route(self, payload: Payload, puid: str) -> Payload:
        return await self._message_call(seldon_methods.route, payload)

    async def aggregate(self, payloads: Sequence[Payload], puid: str) -> Payload:
        if payloads and isinstance(payloads[0], ProtoPayload):
            request: Any = ProtoPayload.aggregate_body(payloads)
        else:
            request = _fresh(JsonPayload.aggregate_body(payloads))
        return await self._run(seldon_methods.aggregate, self.component, request, self._metrics)

    async def send_feedback(self, payload: Payload, puid: str) -> Payload:
        msg = payload.message
        if isinstance(msg, prediction_pb2.Feedback):
            return await self._run(self._feedback, msg)
        if isinstance(payload, RawPayload):
            return await self._run(
                self._feedback_json, await self._run_raw(wrapper_request, payload)
            )
        return await self._run(self._feedback_json, _fresh(payload.to_json()))

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _feedback(self, request: prediction_pb2.Feedback) -> prediction_pb2.SeldonMessage:
        return seldon_methods.send_feedback(self.component, request, self.name, self._metrics)

    def _feedback_json(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            request = json_to_feedback(body)
        except Exception:  # the wrapper's json_format errors become a bad-data reply
            request = feedback_proto(body)
        return dict(seldon_message_to_json(self._feedback(request)))

    async def _message_call(self, method: Callable[..., Any], payload: Payload) -> Payload:
        if isinstance(payload, ProtoPayload):
            request = payload.message
        elif isinstance(payload, RawPayload):
            request = await self._run_raw(wrapper_request, payload)
        else:
            request = _fresh(payload.message)
        return await self._run(method, self.component, request, self._metrics)

    async def _run_raw(self, read: Callable[[RawPayload], Any], payload: RawPayload) -> Any:
        """``read(payload)`` in the pool, its errors mapped as the wrapper maps them."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, read, payload)
        except SeldonMicroserviceException as exc:
            error = as_error(exc)
            raise error.with_message(f"node {self.name}: {error.message}") from exc

    async def _run(self, method: Callable[..., Any], *args: Any) -> Payload:
        loop = asyncio.get_running_loop()
        try:
            reply = await loop.run_in_executor(self._pool, functools.partial(method, *args))
        except SeldonMicroserviceException as exc:  # ours included
            error = as_error(exc)
            raise error.with_message(f"node {self.name}: {error.message}") from exc
        except Exception as exc:  # what the wrapper turns into a 500
            raise node_error(self.name, 500, f"{type(exc).__name__}: {exc}") from exc
        payload: Payload
        if isinstance(reply, (prediction_pb2.SeldonMessage, prediction_pb2.Feedback)):
            payload = ProtoPayload(reply)
        elif isinstance(reply, dict):
            try:
                payload = JsonPayload(_fresh(reply))
            except (TypeError, ValueError) as exc:  # what jsonify would fail on
                raise node_error(self.name, 500, f"reply is not JSON: {exc}") from exc
        else:
            raise node_error(self.name, 500, f"returned {type(reply).__name__}, not a message")
        failure = payload.failure()
        if failure is not None:
            raise failure_error(self.name, failure)
        return payload


def wrapper_request(payload: RawPayload) -> Any:
    """The request the wrapper's REST handler reads from these bytes and Content-Type
    (``seldon_core.flask_utils.get_request`` in a Flask request context): JSON only with a
    JSON Content-Type, a ``json`` form field, or a multipart form."""
    with _FLASK.test_request_context(
        "/predict", method="POST", data=payload.to_bytes(), content_type=payload.content_type
    ):
        return get_request()


def _fresh(body: Any) -> Any:
    """A JSON round trip: what a REST hop does to a message."""
    return json.loads(json.dumps(body))
