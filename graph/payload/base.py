"""The abstract ``Payload``: the executor's transport-neutral view of a Seldon message.

Its ``meta`` (puid, tags, metrics, requestPath, routing), the failure ``status``, the
route a router replied with (the executor merges no meta: each node's wrapper does).
``first_route`` is Seldon's reading of a route reply, shared by both forms.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from model import fastjson
from model.errors import InvalidInput

JSON_CONTENT_TYPE = "application/json"
PROTO_CONTENT_TYPE = "application/protobuf"
PUID_HEADER = "Seldon-Puid"  # REST header; gRPC metadata keys are lower case
PUID_METADATA = "seldon-puid"
FEEDBACK_KEYS = ("request", "response", "reward", "truth")


def encode_json(document: Any, lenient: bool = False) -> bytes:
    """``fastjson.dumps``; a document nested too deeply to write (orjson stops at 255
    levels, then ``json`` at the interpreter's recursion limit) is the sender's error."""
    try:
        return fastjson.dumps(document, lenient)
    except RecursionError:
        raise InvalidInput("message is nested too deeply to encode") from None


class Payload(ABC):
    """A Seldon message with transport-neutral access to its ``meta``."""

    content_type: str
    lenient = False  # parsed by json's fallback: may hold NaN (``fastjson.dumps``)

    @property
    @abstractmethod
    def message(self) -> Any:
        """The transport-native message: a dict (REST) or a proto (gRPC)."""

    @abstractmethod
    def to_bytes(self) -> bytes: ...

    @classmethod
    @abstractmethod
    def from_bytes(cls, data: bytes) -> Payload: ...

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """The message as a JSON dict (for logs and errors; REST payloads return theirs)."""

    def json_bytes(self) -> bytes:
        """The message as a JSON body (REST), whatever its transport."""
        return encode_json(self.to_json(), self.lenient)

    @abstractmethod
    def copy(self) -> Payload: ...

    @property
    @abstractmethod
    def is_feedback(self) -> bool: ...

    # meta ---------------------------------------------------------------------------
    @abstractmethod
    def puid(self) -> str: ...

    @abstractmethod
    def set_puid(self, puid: str) -> None: ...

    @abstractmethod
    def tags(self) -> dict[str, Any]: ...

    @abstractmethod
    def update_tags(self, tags: Mapping[str, Any]) -> None:
        """Add ``tags``; on equal keys the given value wins."""

    @abstractmethod
    def metrics(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def add_metrics(self, metrics: Sequence[Mapping[str, Any]]) -> None: ...

    @abstractmethod
    def set_metrics(self, metrics: Sequence[Mapping[str, Any]]) -> None: ...

    @abstractmethod
    def request_path(self) -> dict[str, str]: ...

    @abstractmethod
    def update_request_path(self, path: Mapping[str, str]) -> None: ...

    @abstractmethod
    def routing(self) -> dict[str, int]: ...

    @abstractmethod
    def update_routing(self, routing: Mapping[str, int]) -> None: ...

    # replies -----------------------------------------------------------------------
    @abstractmethod
    def failure(self) -> dict[str, Any] | None:
        """The ``status`` dict when the message reports a FAILURE, else None."""

    @abstractmethod
    def route_value(self) -> int:
        """The child index a router replied with (first value; -1 when it has no data)."""

    @abstractmethod
    def feedback_routing(self) -> dict[str, int]:
        """``response.meta.routing`` of a feedback message."""


def first_route(body: Any) -> int:
    """Seldon's reading of a route reply: a list of ints, or data ndarray/tensor/tftensor."""
    if isinstance(body, list):
        values: list[Any] = body
    else:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return -1
        if "ndarray" in data:
            values = data["ndarray"]
        elif "tensor" in data:
            values = (data["tensor"] or {}).get("values") or []
        elif "tftensor" in data:
            values = (data["tftensor"] or {}).get("intVal") or []
        else:
            return -1
    if not values:
        raise InvalidInput("router replied with an empty route")
    first = values[0]
    if isinstance(first, list):
        if not first:
            raise InvalidInput("router replied with an empty route")
        first = first[0]
    try:
        return int(first)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"router replied with a non-integer route: {first!r}") from exc
