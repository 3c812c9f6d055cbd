"""``RawPayload``: a REST body as bytes plus its Content-Type, passed on unparsed.

Seldon Core 1.17.1's executor never parses what travels between REST nodes
(``executor/api/rest/client.go``: a payload is the body bytes and the Content-Type they
came with); it reads a body only where it must: a router's reply (the route), a feedback
request (``response.meta.routing``) and, with ``SELDON_ENABLE_ROUTING_INJECTION``, the
final reply. This payload does the same: the bytes are the truth, a JSON reading is made
on demand and only for those questions. ``aggregate_body`` joins the children's bodies
into the JSON list ``[msg0, msg1, ...]`` that ``/aggregate`` receives.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from graph.payload.base import FEEDBACK_KEYS, Payload, encode_json, first_route
from model import fastjson
from model.errors import InternalError, InvalidInput


class RawPayload(Payload):
    """Body bytes and Content-Type, as the client or the previous node sent them."""

    def __init__(self, body: bytes, content_type: str = "") -> None:
        self.body = bytes(body)
        self.content_type = content_type

    @functools.cached_property
    def _document(self) -> Any:
        """The body read as JSON, or None when it is not JSON."""
        try:
            document, lenient = fastjson.loads_checked(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        self.lenient = lenient
        return document

    def _object(self) -> dict[str, Any]:
        document = self._document
        return document if isinstance(document, dict) else {}

    @property
    def message(self) -> dict[str, Any]:
        """The body as a JSON object (in-process nodes take it so); not JSON: the sender's
        error, as the wrapper would say."""
        document = self._document
        if not isinstance(document, dict):
            raise InvalidInput("Can't find JSON in data")
        return document

    def to_bytes(self) -> bytes:
        return self.body

    @classmethod
    def from_bytes(cls, data: bytes) -> RawPayload:
        return cls(data, "application/json")

    def to_json(self) -> dict[str, Any]:
        return self.message

    def json_bytes(self) -> bytes:
        return self.body

    def copy(self) -> RawPayload:
        return RawPayload(self.body, self.content_type)  # bytes never change

    @property
    def is_feedback(self) -> bool:
        return any(key in self._object() for key in FEEDBACK_KEYS)

    # meta: read from the body; never written except by ``inject_routing`` ------------
    def _meta(self) -> dict[str, Any]:
        meta = self._object().get("meta")
        return meta if isinstance(meta, dict) else {}

    def puid(self) -> str:
        return str(self._meta().get("puid") or "")

    def tags(self) -> dict[str, Any]:
        tags = self._meta().get("tags")
        return dict(tags) if isinstance(tags, dict) else {}

    def metrics(self) -> list[dict[str, Any]]:
        metrics = self._meta().get("metrics")
        return list(metrics) if isinstance(metrics, list) else []

    def request_path(self) -> dict[str, str]:
        path = self._meta().get("requestPath")
        return dict(path) if isinstance(path, dict) else {}

    def routing(self) -> dict[str, int]:
        routing = self._meta().get("routing")
        return _ints(routing) if isinstance(routing, dict) else {}

    def update_routing(self, routing: Mapping[str, int]) -> None:
        """``meta.routing`` written into a JSON reply that has a ``meta`` object, as the
        executor's routing injection does (``executor/api/util/utils.go``); any other
        body stays as it is."""
        meta = self._object().get("meta")
        if not routing or not isinstance(meta, dict):
            return
        current = meta.get("routing")
        meta["routing"] = {**(current if isinstance(current, dict) else {}), **routing}
        self.body = encode_json(self._document, self.lenient)

    def set_puid(self, puid: str) -> None:
        raise InternalError("the executor never writes a REST body's meta.puid")

    def update_tags(self, tags: Mapping[str, Any]) -> None:
        raise InternalError("the executor never writes a REST body's meta.tags")

    def add_metrics(self, metrics: Sequence[Mapping[str, Any]]) -> None:
        raise InternalError("the executor never writes a REST body's meta.metrics")

    def set_metrics(self, metrics: Sequence[Mapping[str, Any]]) -> None:
        raise InternalError("the executor never writes a REST body's meta.metrics")

    def update_request_path(self, path: Mapping[str, str]) -> None:
        raise InternalError("the executor never writes a REST body's meta.requestPath")

    # replies -------------------------------------------------------------------------
    def failure(self) -> dict[str, Any] | None:
        status = self._object().get("status")
        if isinstance(status, dict) and status.get("status") in ("FAILURE", 1):
            return status
        return None

    def route_value(self) -> int:
        document = self._document
        if document is None:
            raise InvalidInput("router replied with a body that is not JSON")
        return first_route(document)

    def feedback_routing(self) -> dict[str, int]:
        """``response.meta.routing``; a body that is no feedback reads as no routing."""
        response = self._object().get("response")
        meta = response.get("meta") if isinstance(response, dict) else None
        routing = meta.get("routing") if isinstance(meta, dict) else None
        return _ints(routing) if isinstance(routing, dict) else {}

    @staticmethod
    def aggregate_body(payloads: Sequence[Payload]) -> RawPayload:
        """``[msg0, msg1, ...]`` in child order, each child's body as it came; a body that
        is not JSON fails as in ``executor/api/rest/utils.go`` (``Data is not JSON``)."""
        parts = []
        for payload in payloads:
            body = payload.to_bytes()
            try:
                fastjson.loads_checked(body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                raise InternalError("Data is not JSON") from None
            parts.append(body)
        content_type = payloads[0].content_type if payloads else "application/json"
        return RawPayload(b"[" + b",".join(parts) + b"]", content_type)


def _ints(routing: Mapping[Any, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, value in routing.items():
        try:
            out[str(key)] = int(value)
        except (TypeError, ValueError):
            continue
    return out
