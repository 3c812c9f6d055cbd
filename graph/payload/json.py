"""``JsonPayload``: a REST message, the parsed JSON dict (parsed once, encoded once per hop).

The data part is never touched: a node's tensor, tftensor or binary reply goes on as it came.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from graph.payload.base import (
    FEEDBACK_KEYS,
    JSON_CONTENT_TYPE,
    Payload,
    encode_json,
    first_route,
)
from model import fastjson
from model.errors import InvalidInput


class JsonPayload(Payload):
    """A REST message: the parsed JSON dict, shared with the node clients."""

    content_type = JSON_CONTENT_TYPE

    def __init__(self, body: dict[str, Any], lenient: bool = False) -> None:
        if not isinstance(body, dict):
            raise InvalidInput(f"a Seldon message must be a JSON object, got {type(body).__name__}")
        self._body = body
        self.lenient = lenient

    @property
    def message(self) -> dict[str, Any]:
        return self._body

    def to_bytes(self) -> bytes:
        return encode_json(self._body, self.lenient)

    @classmethod
    def from_bytes(cls, data: bytes) -> JsonPayload:
        try:
            body, lenient = fastjson.loads_checked(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"body is not valid JSON: {exc}") from exc
        except RecursionError:
            raise InvalidInput("body is nested too deeply to decode") from None
        return cls(body, lenient)

    def to_json(self) -> dict[str, Any]:
        return self._body

    def copy(self) -> JsonPayload:
        return JsonPayload(copy.deepcopy(self._body), self.lenient)

    @property
    def is_feedback(self) -> bool:
        return any(key in self._body for key in FEEDBACK_KEYS)

    def _meta(self, create: bool = False) -> dict[str, Any]:
        meta = self._body.get("meta")
        if not isinstance(meta, dict):
            meta = {}
            if create:
                self._body["meta"] = meta
        return meta

    def puid(self) -> str:
        return str(self._meta().get("puid") or "")

    def set_puid(self, puid: str) -> None:
        self._meta(create=True)["puid"] = puid

    def tags(self) -> dict[str, Any]:
        return dict(self._meta().get("tags") or {})

    def update_tags(self, tags: Mapping[str, Any]) -> None:
        if tags:
            self._meta(create=True).setdefault("tags", {}).update(tags)

    def metrics(self) -> list[dict[str, Any]]:
        return list(self._meta().get("metrics") or [])

    def add_metrics(self, metrics: Sequence[Mapping[str, Any]]) -> None:
        if metrics:
            self._meta(create=True).setdefault("metrics", []).extend(dict(m) for m in metrics)

    def set_metrics(self, metrics: Sequence[Mapping[str, Any]]) -> None:
        self._meta(create=True)["metrics"] = [dict(m) for m in metrics]

    def request_path(self) -> dict[str, str]:
        return dict(self._meta().get("requestPath") or {})

    def update_request_path(self, path: Mapping[str, str]) -> None:
        if path:
            self._meta(create=True).setdefault("requestPath", {}).update(path)

    def routing(self) -> dict[str, int]:
        return {k: int(v) for k, v in (self._meta().get("routing") or {}).items()}

    def update_routing(self, routing: Mapping[str, int]) -> None:
        if routing:
            self._meta(create=True).setdefault("routing", {}).update(routing)

    def failure(self) -> dict[str, Any] | None:
        status = self._body.get("status")
        # our errors say "FAILURE"; Seldon's own exceptions serialise the enum as 1
        if isinstance(status, dict) and status.get("status") in ("FAILURE", 1):
            return status
        return None

    def route_value(self) -> int:
        return first_route(self._body)

    def feedback_routing(self) -> dict[str, int]:
        response = self._body.get("response") or {}
        routing = (response.get("meta") or {}).get("routing") or {}
        return {str(k): int(v) for k, v in routing.items()}

    @staticmethod
    def aggregate_body(payloads: Sequence[Payload]) -> dict[str, Any]:
        """The REST ``/aggregate`` body for the children's replies."""
        return {"seldonMessages": [p.to_json() for p in payloads]}
